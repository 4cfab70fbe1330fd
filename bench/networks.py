"""Networks at scale on PostgreSQL: allocation one address at a time, and the network pages.

1. 10,000 single-address allocations into an empty /16, each allocate(1)
   then commit (the realistic pattern: one subscription at a time): time
   and SQL statements per allocation.
2. A second /16 holding 60,000 used addresses: server time and SQL
   statements per request for the network's page (first page and page 200
   of its address map) and for the network list, as the administrator.
   2b. A few more allocations from the first network, now that the full one
   exists too (allocate() considers every matching network).

Works in its own database, billing_bench_networks on the server of
BENCH_DATABASE_URL, dropped and created afresh on each run (the database
the URL names is not touched) and left behind for inspection.
"""
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_NETWORKS_DB = "billing_bench_networks"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-bench-pass-1"

ALLOCATIONS = 10_000
LATE_ALLOCATIONS = 200
FILLED = 60_000
WARM_UP, TIMED = 3, 20
SHOW_TARGET_MS = 300

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def fresh_database(name):
    """Drop and create `name` on the server of SERVER_URL; its URL."""
    server = sa.engine.make_url(SERVER_URL)
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def build_app(database_url):
    """The application on a migrated database, with the roles and an administrator."""
    from flask_migrate import upgrade

    from app import create_app
    from app.security.services import ensure_operator, init_roles

    app = create_app({
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        # The login rate limit is not what is measured here.
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        upgrade()
        init_roles()
        ensure_operator(ADMIN_USERNAME, ADMIN_PASSWORD, "Администратор", "Бенчмарк")
    return app


class StatementCounter:
    """Counts the SQL statements the engine sends (reset before each measured unit)."""

    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.count += 1

    def reset(self):
        self.count = 0


def seed_office(password):
    """What every bench seeds before its bulk clients (inside an application context): the demo's dealers,
    operators (with `password`), catalog, neighbourhoods and networks."""
    from app.demo import services

    services.seed_dealers()
    services.seed_operators(password)
    services.seed_catalog()
    services.seed_neighbourhoods()
    services.seed_networks()


def add_network(cidr, name, gateway):
    from app.extensions import db
    from app.networks.models import Network
    from app.networks.services import network_errors

    network = Network(name=name, cidr=cidr, gateway=gateway)
    errors = network_errors(network)  # also fills first_address / last_address
    assert not errors, errors
    db.session.add(network)
    db.session.commit()
    return network


def ms(seconds):
    return seconds * 1000


def p95(values):
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def time_allocations(app, counter, count):
    """`count` x (allocate(1) + commit): per-allocation timings and the last allocation's address."""
    from app.extensions import db
    from app.networks.services import allocate

    with app.app_context():
        timings, statements = [], set()
        started_all = time.perf_counter()
        for i in range(1, count + 1):
            counter.reset()
            started = time.perf_counter()
            (allocation,) = allocate(1, holder=f"Клиент {i}")
            db.session.commit()
            timings.append(time.perf_counter() - started)
            statements.add(counter.count)
        total = time.perf_counter() - started_all
        last_ip = allocation.ip
    tenth = max(count // 10, 1)
    return {
        "mean": ms(statistics.mean(timings)),
        "median": ms(statistics.median(timings)),
        "p95": ms(p95(timings)),
        "max": ms(max(timings)),
        "total": total,
        # Does an allocation get slower as the network fills up?
        "first_tenth_median": ms(statistics.median(timings[:tenth])),
        "last_tenth_median": ms(statistics.median(timings[-tenth:])),
        "statements": sorted(statements),
        "last_ip": last_ip,
    }


def allocation_line(result):
    return (f"mean {result['mean']:.2f} ms, median {result['median']:.2f} ms, p95 {result['p95']:.2f} ms, "
            f"max {result['max']:.2f} ms; total {result['total']:.1f} s")


def fill_network(app):
    """Step 2 data: a /16 with FILLED used addresses, inserted in one statement.

    Straight INSERT … SELECT generate_series: no change log rows, which the
    pages measured here do not read anyway.
    """
    from app.extensions import db

    with app.app_context():
        network = add_network("10.200.0.0/16", "Бенчмарк пълна", "10.200.0.1")
        first = network.first_address + 2  # after the network address and the gateway
        started = time.perf_counter()
        db.session.execute(
            sa.text(
                "INSERT INTO ip_allocation (network_id, address, holder, allocated_at) "
                "SELECT :network_id, address, 'Клиент ' || (address - :first + 1), now() "
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS address"
            ),
            {"network_id": network.id, "first": first, "last": first + FILLED - 1},
        )
        db.session.commit()
        seconds = time.perf_counter() - started
        # A live database has planner statistics (autovacuum); give the fresh
        # one the same instead of measuring plans made on a guess.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
        used = network.used_count
        assert used == FILLED, used
        return network.id, seconds


def logged_in_client(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    token = CSRF_RE.search(client.get("/login/").text).group(1)
    response = client.post("/login/", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD,
                                             "csrf_token": token})
    assert response.status_code == 302, f"login failed ({response.status_code})"
    return client


def bench_page(client, counter, url):
    """WARM_UP then TIMED GETs of `url`: median and p95 ms, statements per request."""
    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200, url
    timings, statements = [], set()
    for _ in range(TIMED):
        counter.reset()
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        statements.add(counter.count)
        assert response.status_code == 200, url
    return {"median": ms(statistics.median(timings)), "p95": ms(p95(timings)), "statements": sorted(statements)}


def main():
    database_url = fresh_database(BENCH_NETWORKS_DB)
    print(f"database: {sa.engine.make_url(database_url).render_as_string(hide_password=True)}")
    app = build_app(database_url)
    from app.extensions import db

    with app.app_context():
        counter = StatementCounter(db.engine)
        small_id = add_network("10.100.0.0/16", "Бенчмарк разпределяне", "10.100.0.1").id

    print(f"\n1. {ALLOCATIONS:,} x allocate(1) + commit into the empty 10.100.0.0/16 …")
    allocation = time_allocations(app, counter, ALLOCATIONS)
    # Given in order after the network address and the gateway: the last is ALLOCATIONS + 1 above .0.0.
    expected = ALLOCATIONS + 1
    assert allocation["last_ip"] == f"10.100.{expected // 256}.{expected % 256}", allocation["last_ip"]
    print(f"   per allocation: {allocation_line(allocation)}")
    print(f"   median of the first {ALLOCATIONS // 10:,}: {allocation['first_tenth_median']:.2f} ms, "
          f"of the last {ALLOCATIONS // 10:,}: {allocation['last_tenth_median']:.2f} ms; "
          f"SQL statements per allocation: {allocation['statements']}")

    print(f"\n2. 10.200.0.0/16 with {FILLED:,} used addresses …")
    full_id, fill_seconds = fill_network(app)
    print(f"   bulk insert: {fill_seconds:.2f} s")
    client = logged_in_client(app)
    pages = {
        f"/networks/show/{full_id}": f"show, {FILLED:,} used, page 1",
        f"/networks/show/{full_id}?page=200": f"show, {FILLED:,} used, page 201",
        "/networks/list/": "list, 2 networks",
        # The same page for the network of step 1: the statement count must not differ.
        f"/networks/show/{small_id}": f"show, {ALLOCATIONS:,} used, page 1",
    }
    results = {}
    for url, label in pages.items():
        results[url] = result = bench_page(client, counter, url)
        print(f"   GET {url:<28} median {result['median']:7.1f} ms, p95 {result['p95']:7.1f} ms, "
              f"SQL statements/request {result['statements']}  ({label})")

    # allocate() without a service considers every shared network, so the
    # full one now weighs on each allocation from 10.100.0.0/16 too.
    print(f"\n2b. {LATE_ALLOCATIONS:,} more x allocate(1) + commit, the full network present …")
    late = time_allocations(app, counter, LATE_ALLOCATIONS)
    assert late["last_ip"].startswith("10.100."), late["last_ip"]
    print(f"   per allocation: {allocation_line(late)}; SQL statements per allocation: {late['statements']}")

    show_urls = [f"/networks/show/{full_id}", f"/networks/show/{full_id}?page=200"]
    verdict = "met" if max(results[url]["p95"] for url in show_urls) < SHOW_TARGET_MS else "MISSED"
    same_count = results[show_urls[0]]["statements"] == results[f"/networks/show/{small_id}"]["statements"]

    print("\nSummary")
    print(f"  allocate(1)+commit x {ALLOCATIONS:,} (one network):  {allocation_line(allocation)}; "
          f"{allocation['statements']} statements each")
    print(f"  allocate(1)+commit x {LATE_ALLOCATIONS:,} (full /16 present): {allocation_line(late)}; "
          f"{late['statements']} statements each")
    for url, label in pages.items():
        result = results[url]
        print(f"  {label:<28} median {result['median']:7.1f} ms  p95 {result['p95']:7.1f} ms  "
              f"{result['statements']} statements")
    print(f"  show page p95 < {SHOW_TARGET_MS} ms with {FILLED:,} used: {verdict}")
    print(f"  statements per show page independent of the number of addresses: {'yes' if same_count else 'NO'}")

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
