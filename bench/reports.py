"""Reports at scale on PostgreSQL: revenue over 1,000,000 and 3,000,000 payments, debtors over 150,000
subscriptions, and a 1,000,000-row CSV export streamed in bounded memory.

1. The demo seeds (dealers, operators, catalog, neighbourhoods, networks), then
   app.demo.scale.seed_clients(100,000): ~150,000 subscriptions; then "paid until" spread so that about a
   third are behind by 1 to 5 months.
2. 1,000,000 payments over three years (EUR 80 %, BGN 15 %, USD 5 %; 1 % reversed), each allocated to a
   period of the client's first subscription (every 10th to an advance), written by SQL (generate_series),
   then VACUUM ANALYZE. Timed:
   - the revenue report by month, day and service over a year and by method over the three years
     (app.reports.services.revenue), median of TIMED runs, beside the bare SQL statement it sends,
     run on the same connection with the same parameters (its compiled text): the report's own cost is the
     difference (turning rows into values);
   - the debtors report (app.reports.services.debtors) over the 150,000 subscriptions (at both sizes);
   - the CSV export of the payment list, all 1,000,000 rows (app.reports.exports.write_export, the job),
     in a child process: its time and peak RSS (ru_maxrss), beside the same child's RSS before it.
3. 2,000,000 more payments (3,000,000 in all), VACUUM ANALYZE, the revenue figures again.

Works in its own database, billing_bench_reports on the server of BENCH_DATABASE_URL, dropped and
created afresh (the database the URL names is not touched) and left behind for inspection.
BENCH_REPORTS_REUSE=1: that database as an earlier run left it (3,000,000 payments), migrated to the code's
schema and measured again (the 3,000,000 figures only), without seeding.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.networks import SERVER_URL, build_app, fresh_database, ms, seed_office  # noqa: E402

BENCH_DB = "billing_bench_reports"
CLIENTS = 100_000  # ~1.5 subscriptions each: ~150,000 subscriptions
FIRST_PAYMENTS, MORE_PAYMENTS = 1_000_000, 2_000_000
WARM_UP, TIMED = 2, 7
DEMO_PASSWORD = "demo-bench-pass-1"
YEAR = {"date_from": date(2026, 1, 1), "date_to": date(2026, 12, 31)}
THREE_YEARS = {"date_from": date(2024, 1, 1), "date_to": date(2026, 12, 31)}
TODAY = date(2026, 12, 1)

PAYMENTS_SQL = """
INSERT INTO payment (client_id, dealer_id, operator_id, method_id, type_id, amount, currency, amount_eur, paid_at,
                     paid_on)
SELECT c.id, c.dealer_id, :operator, m.id, t.id,
       CASE WHEN g % 20 = 0 THEN 22.00 WHEN g % 7 = 0 THEN 39.12 ELSE 20.00 END,
       CASE WHEN g % 20 = 0 THEN 'USD' WHEN g % 7 = 0 THEN 'BGN' ELSE 'EUR' END,
       20.00, w.paid_at, CAST(timezone('Europe/Sofia', timezone('UTC', w.paid_at)) AS DATE)
FROM generate_series(:first, :last) AS g
CROSS JOIN LATERAL (SELECT timestamp '2024-01-01' + (g % 1096) * interval '1 day'
                           + (g % 86400) * interval '1 second' AS paid_at) w
JOIN client c ON c.id = (g % :clients) + :first_client
JOIN LATERAL (SELECT id FROM payment_method ORDER BY id LIMIT 1 OFFSET g % 3) m ON true
JOIN LATERAL (SELECT id FROM payment_type ORDER BY id LIMIT 1 OFFSET g % 2) t ON true
"""
# 1 % reversed, the next day: a negative payment pointing at its original.
REVERSALS_SQL = """
INSERT INTO payment (client_id, dealer_id, operator_id, method_id, type_id, amount, currency, amount_eur, paid_at,
                     paid_on, reversal_of_id)
SELECT client_id, dealer_id, operator_id, method_id, type_id, -amount, currency, -amount_eur,
       paid_at + interval '1 day', paid_on + 1, id
FROM payment WHERE id % 100 = 0 AND reversal_of_id IS NULL AND id > :after
"""

# What each payment paid, as the desk allocates it: one period of the client's first subscription, or (every
# 10th) an advance. A reversal has none of its own: the report takes back its original's.
ALLOCATIONS_SQL = """
INSERT INTO payment_allocation (payment_id, kind, subscription_id, periods, amount_eur, paid_on, client_id)
SELECT p.id, CASE WHEN p.id % 10 = 0 THEN 'advance' ELSE 'periods' END,
       CASE WHEN p.id % 10 = 0 THEN NULL ELSE s.id END, CASE WHEN p.id % 10 = 0 THEN NULL ELSE 1 END, p.amount_eur,
       p.paid_on, p.client_id
FROM payment p
JOIN (SELECT client_id, min(id) AS id FROM subscription GROUP BY client_id) s ON s.client_id = p.client_id
WHERE p.id > :after AND p.reversal_of_id IS NULL
"""


def median_ms(func, runs=TIMED):
    for _ in range(WARM_UP):
        func()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        timings.append(time.perf_counter() - started)
    return ms(statistics.median(timings))


def run_sql(app, sql, **params):
    from app.extensions import db

    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return connection.execute(sa.text(sql), params)


def seed(app):
    from app.demo.scale import seed_clients
    from app.extensions import db

    started = time.perf_counter()
    with app.app_context():
        seed_office(DEMO_PASSWORD)
        db.session.commit()
        clients, subscriptions = seed_clients(CLIENTS)
    # A third behind by 1 to 5 months, the rest paid to the end of this month or later.
    run_sql(app, """UPDATE subscription SET status = 'active', paid_until = CASE
                      WHEN id % 3 = 0 THEN (date '2026-11-30' - ((id % 5) * interval '1 month'))::date
                      ELSE date '2026-12-31' END""")
    return clients, subscriptions, time.perf_counter() - started


def add_payments(app, count):
    from app.extensions import db
    from app.security.models import Operator

    with app.app_context():
        operator = db.session.scalar(sa.select(Operator.id).order_by(Operator.id))
        first_client, clients = db.session.execute(sa.text("SELECT min(id), count(*) FROM client")).one()
        before = db.session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM payment"))
    started = time.perf_counter()
    run_sql(app, PAYMENTS_SQL, operator=operator, first=before + 1, last=before + count, clients=clients,
            first_client=first_client)
    run_sql(app, REVERSALS_SQL, after=before)
    run_sql(app, ALLOCATIONS_SQL, after=before)
    run_sql(app, "VACUUM ANALYZE")
    return time.perf_counter() - started


def bare_sql(build):
    """A callable sending the report's statements (the debtors send two: the totals and the rows), captured
    from one `build()` as they were sent, on their own (rows fetched, nothing else). In an app context."""
    from app.extensions import db

    statements = []
    listener = lambda conn, cursor, statement, parameters, context, executemany: statements.append(  # noqa: E731
        (statement, parameters))
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        build()
        db.session.rollback()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    statements = [(statement, parameters) for statement, parameters in statements
                  if statement.lstrip().upper().startswith(("SELECT", "WITH"))]

    def bare():
        with db.engine.connect() as connection:
            for statement, parameters in statements:
                connection.exec_driver_sql(statement, parameters).fetchall()

    return bare


def bare_sql_ms(app, build):
    """The median ms of the report's statements on their own (`bare_sql`)."""
    with app.app_context():
        return median_ms(bare_sql(build))


def report_figures(app, label):
    from app.extensions import db
    from app.reports import services as reports
    from app.security.models import Operator

    figures = {}
    with app.app_context():
        admin = db.session.scalar(sa.select(Operator).where(Operator.username == "admin"))
        cases = {
            "revenue by month, one year": lambda: reports.revenue(admin, YEAR, "month"),
            "revenue by method, three years": lambda: reports.revenue(admin, THREE_YEARS, "method"),
            "revenue by day, one year": lambda: reports.revenue(admin, YEAR, "day"),
            "revenue by service, one year": lambda: reports.revenue(admin, YEAR, "service"),
        }
        for name, build in cases.items():
            report_ms = median_ms(lambda: (build(), db.session.rollback()))
            figures[name] = {"report_ms": report_ms, "bare_sql_ms": bare_sql_ms(app, build),
                             "rows": len(build().rows)}
        # The debtors at both sizes: their advances are read from the payments' allocations.
        for name, page in (("debtors, the screen's first page", 0), ("debtors, every row (an export)", None)):
            debtors = lambda: reports.debtors(admin, {}, today=TODAY, page=page)  # noqa: E731
            figures[name] = {"report_ms": median_ms(lambda: (debtors(), db.session.rollback())),
                             "bare_sql_ms": bare_sql_ms(app, debtors), "rows": len(debtors().rows),
                             "debtors": debtors().count}
    return figures


def print_goals(figures, load_before):
    """Issue 33's goals at 3,000,000 payments, against these figures, with the load they were measured at."""
    revenue = {name: value["report_ms"] for name, value in figures.items() if name.startswith("revenue")}
    screen = figures["debtors, the screen's first page"]["report_ms"]
    every = figures["debtors, every row (an export)"]
    ratio = every["report_ms"] / every["bare_sql_ms"]
    slowest = max(revenue, key=revenue.get)
    print(f"load average {load_before} before, {open('/proc/loadavg').read().split()[0]} after (2 cores)")
    print(f"goal: the debtors' screen < 300 ms: {screen:.0f} ms — {'met' if screen < 300 else 'NOT met'}")
    print(f"goal: every revenue report < 1 s: slowest {slowest} {revenue[slowest]:.0f} ms — "
          f"{'met' if revenue[slowest] < 1000 else 'NOT met'}")
    print(f"goal: every debtor written ≤ 1.3× its SQL: {every['report_ms']:.0f} / {every['bare_sql_ms']:.0f} ms = "
          f"{ratio:.2f}× — {'met' if ratio <= 1.3 else 'NOT met'}", flush=True)


def export_child(database_url):
    """Run in a child process: the payment list's CSV export through the job; prints time and peak RSS."""
    from app.core.actors import acting_as
    from app.core.transaction import PENDING_EFFECTS, unit_of_work
    from app.extensions import db
    from app.reports.exports import start_export, write_export
    from app.reports.models import Export
    from app.security.models import Operator

    from app import create_app

    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None,
                      "EXPORTS_DIR": "/tmp/billing-bench-exports"})
    with app.app_context():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with unit_of_work():
            admin = db.session.scalar(sa.select(Operator).where(Operator.username == "admin"))
            export = start_export(admin, "list:PaymentView", "csv", "")
            export_id = export.id
            # start_export queues the job after the commit; the bench runs it itself, timed.
            db.session.info.pop(PENDING_EFFECTS, None)
        started = time.perf_counter()
        with app.test_request_context("/"), unit_of_work():
            admin = db.session.scalar(sa.select(Operator).where(Operator.username == "admin"))
            with acting_as(admin):
                write_export(admin, export_id)
        seconds = time.perf_counter() - started
        export = db.session.get(Export, export_id)
        size = (Path("/tmp/billing-bench-exports") / export.file_name).stat().st_size
        print(json.dumps({"rows": export.rows_done, "seconds": round(seconds, 1), "mb": round(size / 1e6, 1),
                          "rss_before_mb": round(before / 1024, 1),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                          "status": export.status, "error": export.error}))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--export-child":
        export_child(sys.argv[2])
        return
    if os.environ.get("BENCH_REPORTS_REUSE"):
        app = build_app(sa.engine.make_url(SERVER_URL).set(database=BENCH_DB).render_as_string(hide_password=False))
        load_before = open("/proc/loadavg").read().split()[0]
        figures = report_figures(app, "3M")
        print(json.dumps({"3M": figures}, indent=1, ensure_ascii=False), flush=True)
        print_goals(figures, load_before)
        return
    database_url = fresh_database(BENCH_DB)
    app = build_app(database_url)
    clients, subscriptions, seconds = seed(app)
    print(f"seed: {clients:,} clients, {subscriptions:,} subscriptions in {seconds:.0f} s", flush=True)
    print(f"payments: {FIRST_PAYMENTS:,} (+1 % reversals) in {add_payments(app, FIRST_PAYMENTS):.0f} s", flush=True)
    results = {"1M": report_figures(app, "1M")}
    print(json.dumps(results["1M"], indent=1, ensure_ascii=False), flush=True)
    if not os.environ.get("BENCH_SKIP_EXPORT"):  # the export alone takes about 5 minutes
        child = subprocess.run([sys.executable, __file__, "--export-child", database_url], capture_output=True,
                               text=True, cwd=Path(__file__).resolve().parents[1])
        print("export:", child.stdout.strip().splitlines()[-1] if child.stdout.strip() else child.stderr[-2000:],
              flush=True)
    print(f"payments: {MORE_PAYMENTS:,} more in {add_payments(app, MORE_PAYMENTS):.0f} s", flush=True)
    load_before = open("/proc/loadavg").read().split()[0]
    results["3M"] = report_figures(app, "3M")
    print(json.dumps(results["3M"], indent=1, ensure_ascii=False), flush=True)
    print_goals(results["3M"], load_before)


if __name__ == "__main__":
    main()
