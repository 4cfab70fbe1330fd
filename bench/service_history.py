"""The services reports over two years of the LOG on PostgreSQL: as of a past day, and by month.

Both read the subscriptions' versions (SQLAlchemy-Continuum's subscription_version and transaction tables),
which grow with every change of a subscription — above all with every payment, which moves its "paid until".

1. The demo seeds and app.demo.scale.seed_clients(100,000), as bench/reports.py does: ~150,000 subscriptions.
2. Their history as the LOG would hold it, written by SQL: from 01.12.2024 (or the activation, if later) one
   version a month (the payment that moved "paid until"), each in its own transaction during office hours;
   every 5th subscription suspended in its 7th and 8th months; every 20th terminated in its last month.
   That is ~3,4 million versions and as many transactions. VACUUM ANALYZE.
3. Timed, median of TIMED runs after WARM_UP, beside the same statements sent bare on the same connection:
   the services report now, as of two past days, and services by month over one and two years.

Works in its own database, billing_bench_services on the server of BENCH_DATABASE_URL, dropped and created
afresh (the database the URL names is not touched) and left behind for inspection.
"""
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.networks import build_app, fresh_database  # noqa: E402
from bench.reports import bare_sql_ms, median_ms, run_sql, seed  # noqa: E402

BENCH_DB = "billing_bench_services"
HISTORY_FROM = "2024-12-01"
HISTORY_TO = "2026-11-30"

# One row per subscription and month of its life within the history, with the status it had then.
HISTORY_SQL = f"""
CREATE UNLOGGED TABLE bench_history AS
SELECT s.id, s.client_id, s.service_id, s.activation_date, s.username, s.password, s.delivery_address,
       s.technology_override, s.created_at, g.n,
       (w.start + g.n * interval '1 month')::date AS paid_until,
       w.start + g.n * interval '1 month' + interval '7 hours' + (s.id % 540) * interval '1 minute' AS issued_at,
       CASE WHEN s.id % 20 = 0 AND g.n = w.months THEN 'terminated'
            WHEN s.id % 5 = 0 AND g.n IN (6, 7) THEN 'suspended'
            ELSE 'active' END AS status
FROM subscription s
CROSS JOIN LATERAL (SELECT greatest(s.activation_date, date '{HISTORY_FROM}')::timestamp AS start) w0
CROSS JOIN LATERAL (SELECT w0.start,
                           (date_part('year', age(date '{HISTORY_TO}', w0.start)) * 12
                            + date_part('month', age(date '{HISTORY_TO}', w0.start)))::int AS months) w
CROSS JOIN LATERAL generate_series(0, w.months) AS g(n)
"""
NUMBERED_SQL = """
CREATE UNLOGGED TABLE bench_numbered AS
SELECT h.*, :base + row_number() OVER (ORDER BY h.issued_at, h.id) AS transaction_id
FROM bench_history h
"""
TRANSACTIONS_SQL = 'INSERT INTO "transaction" (id, issued_at) SELECT transaction_id, issued_at FROM bench_numbered'
VERSIONS_SQL = """
INSERT INTO subscription_version (id, client_id, service_id, status, activation_date, paid_until, username,
                                  password, delivery_address, technology_override, created_at, transaction_id,
                                  end_transaction_id, operation_type)
SELECT id, client_id, service_id, status, activation_date, paid_until, username, password, delivery_address,
       technology_override, created_at, transaction_id,
       lead(transaction_id) OVER (PARTITION BY id ORDER BY n),
       CASE WHEN n = 0 THEN 0 ELSE 1 END
FROM bench_numbered
"""


def add_history(app):
    from app.extensions import db

    started = time.perf_counter()
    with app.app_context():
        base = db.session.scalar(sa.text('SELECT coalesce(max(id), 0) FROM "transaction"'))
    run_sql(app, HISTORY_SQL)
    run_sql(app, NUMBERED_SQL, base=base)
    run_sql(app, TRANSACTIONS_SQL)
    run_sql(app, VERSIONS_SQL)
    run_sql(app, "SELECT setval('transaction_id_seq', (SELECT max(id) FROM \"transaction\"))")
    run_sql(app, "DROP TABLE bench_numbered; DROP TABLE bench_history")
    run_sql(app, "VACUUM ANALYZE")
    with app.app_context():
        versions = db.session.scalar(sa.text("SELECT count(*) FROM subscription_version"))
    return versions, time.perf_counter() - started


def report_figures(app):
    from app.extensions import db
    from app.reports import services as reports
    from app.security.models import Operator

    cases = {
        "services now": lambda admin: reports.services(admin, {}),
        "services as of 30.11.2025": lambda admin: reports.services(admin, {"as_of": date(2025, 11, 30)}),
        "services as of 31.05.2026": lambda admin: reports.services(admin, {"as_of": date(2026, 5, 31)}),
        "services by month, 2026": lambda admin: reports.service_movement(
            admin, {"date_from": date(2026, 1, 1), "date_to": date(2026, 12, 31)}),
        "services by month, 12.2024–11.2026": lambda admin: reports.service_movement(
            admin, {"date_from": date(2024, 12, 1), "date_to": date(2026, 11, 30)}),
    }
    figures = {}
    with app.app_context():
        admin = db.session.scalar(sa.select(Operator).where(Operator.username == "admin"))
        for name, build in cases.items():
            report = build(admin)
            figures[name] = {
                "report_ms": median_ms(lambda: (build(admin), db.session.rollback())),
                "bare_sql_ms": bare_sql_ms(app, lambda: build(admin)),
                "rows": len(report.rows), "total": [str(value) for value in report.total],
            }
            print(name, json.dumps(figures[name], ensure_ascii=False), flush=True)
    return figures


def main():
    database_url = fresh_database(BENCH_DB)
    app = build_app(database_url)
    clients, subscriptions, seconds = seed(app)
    print(f"seed: {clients:,} clients, {subscriptions:,} subscriptions in {seconds:.0f} s", flush=True)
    versions, seconds = add_history(app)
    print(f"history: {versions:,} subscription versions (as many transactions) in {seconds:.0f} s", flush=True)
    report_figures(app)


if __name__ == "__main__":
    main()
