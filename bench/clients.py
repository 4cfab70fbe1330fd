"""Clients at scale on PostgreSQL: the 100,000-client demo seed, the client list, its search and the card.

1. The demo seeds (dealers, operators, catalog, neighbourhoods, networks),
   then app.demo.scale.seed_clients(100,000) — what `flask demo seed
   --clients 100000` runs — timed; then VACUUM ANALYZE.
2. As the administrator: server time and SQL statements per request for the
   home page (no client data: the floor of every page), the client list's
   first page, the one search box (?q=) by phone, ЕГН, IP
   address, name fragment (rare, medium, common), client number and
   username, and the card of a client with 2 subscriptions.
3. The slowest statement of each page, run again under EXPLAIN ANALYZE, with
   the plan's key lines.
4. What-if, in the bench database only (the application is not changed):
   the pages again with the server's JIT off for the database, then also
   with an index on client (name, id).

Works in its own database, billing_bench_clients on the server of
BENCH_DATABASE_URL, dropped and created afresh on each run (the database
the URL names is not touched) and left behind for inspection — as step 4
leaves it: jit = off and the extra index bench_client_name_id.
"""
import ipaddress
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.networks import build_app, fresh_database, logged_in_client, ms, p95  # noqa: E402

BENCH_CLIENTS_DB = "billing_bench_clients"
DEMO_PASSWORD = "demo-bench-pass-1"
CLIENTS = 100_000
PROBE = 50_000  # the searches look for the data of the 50,000th client (by id)
WARM_UP, TIMED = 3, 20
TARGET_MS = 100
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
    from app.demo import services
    from app.demo.scale import seed_clients
    from app.extensions import db

    with app.app_context():
        started = time.perf_counter()
        services.seed_dealers()
        services.seed_operators(DEMO_PASSWORD)
        services.seed_catalog()
        services.seed_neighbourhoods()
        services.seed_networks()
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


def bench_page(client, recorder, url, expect=None):
    """WARM_UP then TIMED GETs of `url`: median and p95 ms, statements per request, the last request's SQL."""
    for _ in range(WARM_UP):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert expect is None or expect in response.text, (url, expect)
    timings, sql_seconds, statements = [], [], set()
    for _ in range(TIMED):
        recorder.reset()
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        sql_seconds.append(recorder.seconds)
        statements.add(recorder.count)
        assert response.status_code == 200, (url, response.status_code)
    permission_checks = sum(1 for statement, _, _ in recorder.statements if PERMISSION_CHECK in statement)
    return {"median": ms(statistics.median(timings)), "p95": ms(p95(timings)),
            "sql_median": ms(statistics.median(sql_seconds)), "statements": sorted(statements),
            "permission_checks": permission_checks, "slowest": recorder.slowest}


def bench_pages(client, recorder, pages):
    results = {}
    for url, label, found, expect in pages:
        results[url] = result = bench_page(client, recorder, url, expect)
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


def main():
    database_url = fresh_database(BENCH_CLIENTS_DB)
    print(f"database: {sa.engine.make_url(database_url).render_as_string(hide_password=True)}")
    app = build_app(database_url)
    from app.extensions import db

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

    # The home page reads no client data: the floor every page stands on (menu, permission checks, layout).
    pages = [("/", "home page (no client data)", None, None), ("/clients/list/", "list, first page", total, None)]
    for label, text in searches.items():
        # The page must show what was looked for (phone and number are columns of the list).
        expect = text if label in ("phone", "client number") else None
        pages.append((f"/clients/list/?q={quote(text)}", f"search: {label} ({text})", matches[label], expect))
    pages.append((f"/clients/show/{card_id}", "card, 2 subscriptions", None, None))

    print(f"\n2. {WARM_UP} warm-up + {TIMED} timed requests each, as the administrator (server time in "
          f"process; SQL = time inside cursor.execute; server's jit = {jit}) …")
    results = bench_pages(client, recorder, pages)

    print("\n3. The slowest statement of each page's last request, under EXPLAIN ANALYZE …")
    for url, label, _, _ in pages:
        result = results[url]
        statement, parameters, seconds = result["slowest"]
        slow = result["median"] >= TARGET_MS
        print(f"\n   {label}{'  — OVER TARGET' if slow else ''}: slowest statement {ms(seconds):.1f} ms "
              f"of {result['median']:.1f} ms; SQL in all {result['sql_median']:.1f} ms")
        print(f"   SQL: {short(statement, None if slow else 200)}")
        for line in key_lines(explain(app, statement, parameters)):
            print(f"     {line}")

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

    print("\nSummary (median / p95 ms per request)")
    print(f"  seed_clients({CLIENTS:,}): {seeded['seconds']:.1f} s = {seeded['seconds'] / 60:.1f} min "
          f"({seeded['subscriptions']:,} subscriptions)")
    print(f"  {'page':<44} {'as is':>15} {'jit off':>15} {'+ (name, id)':>15}  statements")
    for url, label, _, _ in pages:
        cells = " ".join(f"{r[url]['median']:6.1f} /{r[url]['p95']:6.1f}" for r in (results, no_jit, indexed))
        print(f"  {label:<44} {cells}  {results[url]['statements']}")
    for name, measured in (("as is", results), ("jit off", no_jit), ("jit off + index", indexed)):
        over = [label for url, label, _, _ in pages if url != "/" and measured[url]["median"] >= TARGET_MS]
        verdict = "yes" if not over else "NO — " + ", ".join(over)
        print(f"  every client page under {TARGET_MS} ms (median), {name}: {verdict}")
    list_counts = {count for url, _, _, _ in pages if url.startswith("/clients/list/")
                   for count in results[url]["statements"]}
    print(f"  SQL statements per list request with 1 to {total:,} matching clients: {sorted(list_counts)}; "
          f"per card: {results[pages[-1][0]]['statements']}; per home page: {results['/']['statements']}")

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
