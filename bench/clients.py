"""Clients at scale on PostgreSQL: the 100,000-client demo seed, the client list, its search and the card.

1. The demo seeds (dealers, operators, catalog, neighbourhoods, networks),
   then app.demo.scale.seed_clients(100,000) — what `flask demo seed
   --clients 100000` runs — timed; then VACUUM ANALYZE.
2. As the administrator: server time and SQL statements per request for the
   floor — a panel page that reads no client data (the operator's empty
   change-password form: login, menu, layout, permission check) —, the home
   page (its figures cached), the client list's first page, the one search
   box (?q=) by phone, ЕГН, IP address, name fragment (rare, medium, common),
   client number and username (one match answers with a redirect to the
   card: timed to that answer), the card of a client with 2 subscriptions
   (its first view) and each of its tabs read when opened; in rounds of one
   request of every page in turn (the machine is shared: the floor and the
   pages over it see the same load), with each page's ratio to the floor
   and the load average.
3. The slowest statement of each page, run again under EXPLAIN ANALYZE, with
   the plan's key lines.
4. What-if, in the bench database only (the application is not changed):
   the pages again with the server's JIT off for the database, then also
   with an index on client (name, id).

Works in its own database, billing_bench_clients (BENCH_CLIENTS_DB) on the
server of BENCH_DATABASE_URL, dropped and created afresh on each run (the
database the URL names is not touched; it must exist) and left behind for
inspection — as step 4 leaves it: jit = off and the extra index
bench_client_name_id. BENCH_CLIENTS_REUSE=1 measures that database again
without seeding (the extra index dropped first); BENCH_CLIENTS_WHAT_IF=0
leaves step 4 out.
"""
import ipaddress
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.networks import SERVER_URL, build_app, fresh_database, logged_in_client, ms, p95, seed_office  # noqa: E402

BENCH_CLIENTS_DB = os.environ.get("BENCH_CLIENTS_DB", "billing_bench_clients")
# BENCH_CLIENTS_REUSE=1: the database of an earlier run, already seeded, is measured again (no seeding).
REUSE = os.environ.get("BENCH_CLIENTS_REUSE") == "1"
# BENCH_CLIENTS_WHAT_IF=0 leaves out step 4 (its jit and index are in the application now).
WHAT_IF = os.environ.get("BENCH_CLIENTS_WHAT_IF", "1") != "0"
# The floor: a panel page served through the same stack (login, menu, layout, permission checks) that reads no
# client data — the operator's own "change password" form, empty.
FLOOR_URL = "/resetmypassword/form"
FLOOR_RATIO = 3
DEMO_PASSWORD = "demo-bench-pass-1"
CLIENTS = 100_000
PROBE = 50_000  # the searches look for the data of the 50,000th client (by id)
WARM_UP, TIMED = 3, 20
TARGET_MS = 100
COMMON_NAME_TARGET_MS = 100
TOP_PLAN_LINES = 6
# Flask-AppBuilder asks the database about each permission it checks (menu entries, buttons).
PERMISSION_CHECK = "FROM ab_permission_view JOIN ab_permission_view_role"
WHAT_IF_INDEX = "CREATE INDEX bench_client_name_id ON client (name, id)"


class StatementRecorder:
    """Counts the SQL statements the engine sends, with their time and text (reset before each request)."""

    def __init__(self, engine):
        self.reset()
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def reset(self):
        self.count = 0
        self.seconds = 0.0
        self.statements = []  # (statement, parameters, seconds)

    @property
    def slowest(self):
        return max(self.statements, key=lambda entry: entry[2]) if self.statements else None

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        seconds = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        self.seconds += seconds
        self.statements.append((statement, parameters, seconds))


def run_sql(app, sql):
    """One statement outside a transaction (VACUUM, ALTER DATABASE, CREATE INDEX)."""
    from app.extensions import db

    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text(sql))


def seed(app):
    """The demo seeds, then CLIENTS bulk clients (timed), then VACUUM ANALYZE."""
    from app.demo.scale import seed_clients
    from app.extensions import db

    with app.app_context():
        started = time.perf_counter()
        seed_office(DEMO_PASSWORD)
        demo_seconds = time.perf_counter() - started
        started = time.perf_counter()
        clients, subscriptions = seed_clients(CLIENTS)
        clients_seconds = time.perf_counter() - started
        allocations = db.session.scalar(sa.text("SELECT count(*) FROM ip_allocation WHERE subscription_id IS NOT NULL"))
    # A live database has planner statistics and vacuumed tables (autovacuum,
    # which may be off on a test server): give the fresh one the same. VACUUM
    # matters here, not only ANALYZE: it empties the pending lists of the
    # trigram GIN indexes, which every LIKE '%…%' search otherwise reads
    # through (several ms per search).
    started = time.perf_counter()
    run_sql(app, "VACUUM ANALYZE")
    vacuum_seconds = time.perf_counter() - started
    return {"demo": demo_seconds, "clients": clients, "subscriptions": subscriptions, "allocations": allocations,
            "seconds": clients_seconds, "vacuum": vacuum_seconds}


def probes(app):
    """What the searches look for, taken from the seeded data; how many clients each matches."""
    from app.clients.models import Client
    from app.clients.services import search_condition
    from app.extensions import db

    def one(sql, **params):
        return db.session.execute(sa.text(sql), params).one()

    with app.app_context():
        client_id, number, name, phone, egn = one(
            "SELECT id, client_number, search_name, phone, egn FROM client ORDER BY id OFFSET :n LIMIT 1",
            n=PROBE - 1)
        (address,) = one("SELECT address FROM ip_allocation WHERE subscription_id IS NOT NULL "
                         "ORDER BY id OFFSET :n LIMIT 1", n=PROBE - 1)
        (username,) = one("SELECT username FROM subscription WHERE username IS NOT NULL "
                          "ORDER BY id OFFSET :n LIMIT 1", n=PROBE - 1)
        (card_id,) = one("SELECT client_id FROM subscription WHERE client_id >= :id "
                         "GROUP BY client_id HAVING count(*) = 2 ORDER BY client_id LIMIT 1", id=client_id)
        first, surname, family = name.split()
        searches = {
            "phone": phone,
            # The same number as a caller ID shows it, and a first name with the last, no middle name.
            "phone, caller ID": "+359 " + phone[1:],
            "name, first and last": f"{first} {family}",
            "ЕГН": egn,
            "IP": str(ipaddress.IPv4Address(address)),
            # The end of a first name and both surnames: a handful of clients.
            "name, rare": f"{first[-3:]} {surname} {family}",
            # First name and surname: a couple of hundred.
            "name, medium": f"{first} {surname}",
            # The commonest surname: about one client in nine.
            "name, common": "иванов",
            "client number": number,
            "username": username,
        }
        matches = {label: db.session.query(Client.id).filter(search_condition(text)).count()
                   for label, text in searches.items()}
        total = db.session.query(Client.id).count()
    return searches, matches, total, card_id


def get(client, url, expect=None):
    """One GET of `url`. A search that finds one client answers with a redirect to its card (measured as a page
    of its own): the search is timed to its answer, and `expect` is then the card's address."""
    response = client.get(url)
    assert response.status_code in (200, 302), (url, response.status_code)
    answer = response.location if response.status_code == 302 else response.text
    assert expect is None or expect in answer, (url, expect)


def bench_pages(client, recorder, pages):
    """WARM_UP GETs of each page, then TIMED rounds of one GET of every page in turn — so that the floor and the
    pages over it share the machine's load of the moment (it is shared) —: per page the median and p95 ms, the
    SQL time, statements per request and the last request's slowest statement."""
    for url, _, _, expect in pages:
        for _ in range(WARM_UP):
            get(client, url, expect)
    timings = {url: [] for url, _, _, _ in pages}
    sql_seconds = {url: [] for url, _, _, _ in pages}
    statements = {url: set() for url, _, _, _ in pages}
    last = {}
    for _ in range(TIMED):
        for url, _, _, _ in pages:
            recorder.reset()
            started = time.perf_counter()
            get(client, url)
            timings[url].append(time.perf_counter() - started)
            sql_seconds[url].append(recorder.seconds)
            statements[url].add(recorder.count)
            last[url] = list(recorder.statements)
    results = {}
    for url, label, found, _ in pages:
        permission_checks = sum(1 for statement, _, _ in last[url] if PERMISSION_CHECK in statement)
        results[url] = result = {
            "median": ms(statistics.median(timings[url])), "p95": ms(p95(timings[url])),
            "sql_median": ms(statistics.median(sql_seconds[url])), "statements": sorted(statements[url]),
            "permission_checks": permission_checks,
            "slowest": max(last[url], key=lambda entry: entry[2]) if last[url] else None}
        rows = f"  {found:,} matching" if found is not None else ""
        print(f"   {label:<44} median {result['median']:6.1f} ms, p95 {result['p95']:6.1f} ms, "
              f"SQL {result['sql_median']:6.1f} ms; statements/request {result['statements']} "
              f"({result['permission_checks']} permission checks){rows}")
    return results


def explain(app, statement, parameters):
    """EXPLAIN (ANALYZE, BUFFERS) of a captured statement: the plan's lines."""
    from app.extensions import db

    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            connection.rollback()
        finally:
            connection.close()
    return lines


def key_lines(plan):
    """The plan's top nodes, how it reads the client table, JIT time, execution time."""
    nodes = [plan[0]] + [line for line in plan if "->" in line]
    keep = set(nodes[:TOP_PLAN_LINES])
    for i, line in enumerate(plan):
        if " on client" in line:
            keep.add(line)
            if i + 1 < len(plan) and plan[i + 1].strip().startswith(("Filter:", "Index Cond:", "Recheck Cond:")):
                keep.add(plan[i + 1])
        if line.strip().startswith(("Timing:", "Execution Time", "Planning Time")):
            keep.add(line)
    return [line if len(line) <= 260 else line[:260] + " …" for line in plan if line in keep]


def short(statement, width=None):
    """The statement on one line, without its (long) outermost column list."""
    text = re.sub(r"^SELECT (.*?) FROM ", "SELECT … FROM ", " ".join(statement.split()), count=1)
    return text if width is None or len(text) <= width else text[:width] + " …"


def load_average():
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main():
    print(f"load average (1/5/15 min) at the start: {load_average()}")
    if REUSE:
        database_url = sa.engine.make_url(SERVER_URL).set(database=BENCH_CLIENTS_DB).render_as_string(
            hide_password=False)
    else:
        database_url = fresh_database(BENCH_CLIENTS_DB)
    print(f"database: {sa.engine.make_url(database_url).render_as_string(hide_password=True)}")
    app = build_app(database_url)
    from app.extensions import db

    seeded = None
    if REUSE:
        print("\n1. the database of an earlier run, as it is (BENCH_CLIENTS_REUSE=1); step 4's index dropped")
        run_sql(app, "DROP INDEX IF EXISTS bench_client_name_id")
        run_sql(app, "ANALYZE")
    else:
        print(f"\n1. demo seeds, then seed_clients({CLIENTS:,}) …")
        seeded = seed(app)
        rate = seeded["clients"] / seeded["seconds"]
        print(f"   demo dealers/operators/catalog/neighbourhoods/networks: {seeded['demo']:.1f} s")
        print(f"   seed_clients({CLIENTS:,}): {seeded['seconds']:.1f} s ({seeded['seconds'] / 60:.1f} min, "
              f"{rate:,.0f} clients/s): {seeded['clients']:,} clients, {seeded['subscriptions']:,} subscriptions, "
              f"{seeded['allocations']:,} IP addresses")
        print(f"   VACUUM ANALYZE: {seeded['vacuum']:.1f} s")

    searches, matches, total, card_id = probes(app)
    with app.app_context():
        recorder = StatementRecorder(db.engine)
        jit = db.session.scalar(sa.text("SHOW jit"))
    client = logged_in_client(app)

    # The floor: a panel page that reads no client data (login, menu, permission checks, layout only). The
    # home page is measured beside it: it reads the day's figures (counted once in a while, app.core.figures).
    pages = [(FLOOR_URL, "floor: change password form (no data)", None, None),
             ("/", "home page (figures cached)", None, None),
             ("/clients/list/", "list, first page", total, None)]
    for label, text in searches.items():
        # One match answers with its card (a redirect, "→ card"); many, with the list.
        expect = "/clients/show/" if matches[label] == 1 else None
        shown = f"{label} → card" if matches[label] == 1 else label
        pages.append((f"/clients/list/?q={quote(text)}", f"search: {shown} ({text})", matches[label], expect))
    # Since issue 33 the card's tabs behind the first are read when opened (ClientView.card_tab): each one's
    # request is a page of its own. The card stays last (its statements are reported in the summary).
    for tab in ("payments", "documents", "tasks", "history"):
        pages.append((f"/clients/show/{card_id}/tab/{tab}", f"card: {tab} tab, opened", None, None))
    pages.append((f"/clients/show/{card_id}", "card, 2 subscriptions", None, None))

    print(f"\n2. {WARM_UP} warm-up requests each, then {TIMED} rounds of one request of every page in turn, as the "
          f"administrator (server time in "
          f"process; SQL = time inside cursor.execute; server's jit = {jit}) …")
    results = bench_pages(client, recorder, pages)
    print(f"   load average after step 2: {load_average()}")

    print("\n3. The slowest statement of each page's last request, under EXPLAIN ANALYZE …")
    for url, label, _, _ in pages:
        result = results[url]
        if result["slowest"] is None:
            print(f"\n   {label}: no SQL statement")
            continue
        statement, parameters, seconds = result["slowest"]
        slow = result["median"] >= TARGET_MS
        print(f"\n   {label}{'  — OVER TARGET' if slow else ''}: slowest statement {ms(seconds):.1f} ms "
              f"of {result['median']:.1f} ms; SQL in all {result['sql_median']:.1f} ms")
        print(f"   SQL: {short(statement, None if slow else 200)}")
        for line in key_lines(explain(app, statement, parameters)):
            print(f"     {line}")

    measured = [("as is", results)]
    if WHAT_IF:
        print("\n4. What-if, in the bench database only: ALTER DATABASE … SET jit = off …")
        run_sql(app, f'ALTER DATABASE "{BENCH_CLIENTS_DB}" SET jit = off')
        with app.app_context():
            db.engine.dispose()  # new connections take the setting
        no_jit = bench_pages(client, recorder, pages)
        print(f"\n4b. … and {WHAT_IF_INDEX} …")
        run_sql(app, WHAT_IF_INDEX)
        run_sql(app, "ANALYZE client")
        indexed = bench_pages(client, recorder, pages)
        shown = ("list, first page", "search: phone", "search: name, common")
        for url, label in [(url, label) for url, label, _, _ in pages if label.startswith(shown)]:
            statement, parameters, seconds = indexed[url]["slowest"]
            print(f"\n   {label}, jit off + index: slowest statement {ms(seconds):.1f} ms: {short(statement, 200)}")
            for line in key_lines(explain(app, statement, parameters)):
                print(f"     {line}")
        measured += [("jit off", no_jit), ("jit off + index", indexed)]

    print("\nSummary (median / p95 ms per request; × = median over the floor page's median)")
    if seeded:
        print(f"  seed_clients({CLIENTS:,}): {seeded['seconds']:.1f} s = {seeded['seconds'] / 60:.1f} min "
              f"({seeded['subscriptions']:,} subscriptions)")
    floor = results[FLOOR_URL]["median"]
    heads = " ".join(f"{name:>15}" for name, _ in measured)
    print(f"  {'page':<44} {heads}  {'× floor':>7}  statements")
    for url, label, _, _ in pages:
        cells = " ".join(f"{r[url]['median']:6.1f} /{r[url]['p95']:6.1f}" for _, r in measured)
        print(f"  {label:<44} {cells}  {results[url]['median'] / floor:6.2f}×  {results[url]['statements']}")
    for name, figures in measured:
        over = [label for url, label, _, _ in pages
                if url.startswith("/clients/") and figures[url]["median"] >= TARGET_MS]
        verdict = "yes" if not over else "NO — " + ", ".join(over)
        print(f"  every client page under {TARGET_MS} ms (median), {name}: {verdict}")
    client_pages = [(url, label) for url, label, _, _ in pages if url.startswith("/clients/")]
    over = [f"{label} {results[url]['median'] / floor:.2f}×" for url, label in client_pages
            if results[url]["median"] > FLOOR_RATIO * floor]
    print(f"  every search, the list and the card ≤ {FLOOR_RATIO}× the floor ({floor:.1f} ms): "
          + ("yes" if not over else "NO — " + ", ".join(over)))
    common = next(url for url, label, _, _ in pages if label.startswith("search: name, common"))
    print(f"  the common-name search under {COMMON_NAME_TARGET_MS} ms: {results[common]['median']:.1f} ms — "
          + ("yes" if results[common]["median"] < COMMON_NAME_TARGET_MS else "NO"))
    list_counts = {count for url, _, _, _ in pages if url.startswith("/clients/list/")
                   for count in results[url]["statements"]}
    print(f"  SQL statements per list request with 1 to {total:,} matching clients: {sorted(list_counts)}; "
          f"per card: {results[pages[-1][0]]['statements']}; per home page: {results['/']['statements']}; "
          f"per floor page: {results[FLOOR_URL]['statements']}")
    print(f"  load average (1/5/15 min) at the end: {load_average()}")

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
