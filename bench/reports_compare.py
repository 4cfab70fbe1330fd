"""The reports of bench/reports.py on its kept database (billing_bench_reports, 3,000,000 payments), by the
code of the folder this runs from, without migrating: run from two worktrees (main's and a branch's) on the
same database, alternated, to compare their results (a hash of each case's rows and totals) and times.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/reports_compare.py [hash|time|alternate]

`hash`: every case's hash; `time`: the timed cases (medians of 7 after 2 warm-ups), the report beside its
bare SQL, with the load average before and after; `alternate`: the debtors' screen (7 pairs) and every row
(11 pairs), the report and its bare SQL one after the other.
"""
import hashlib
import json
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

import sqlalchemy as sa  # noqa: E402

from bench.reports import BENCH_DB, THREE_YEARS, TODAY, YEAR, bare_sql, bare_sql_ms, median_ms  # noqa: E402
from bench.networks import SERVER_URL  # noqa: E402


def load():
    return open("/proc/loadavg").read().split()[0]


def alternated(app, build, pairs):
    """The report and its bare SQL (the statements it sends, on one connection), one after the other `pairs`
    times after a warm-up: their medians in ms, side by side at the same moments."""
    import statistics
    import time

    from app.extensions import db

    bare = bare_sql(build)
    report, sql = [], []
    bare()
    for _ in range(pairs):
        started = time.perf_counter()
        build()
        db.session.rollback()
        report.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare()
        sql.append(time.perf_counter() - started)
    report_ms, sql_ms = statistics.median(report) * 1000, statistics.median(sql) * 1000
    return {"report_ms": round(report_ms), "bare_sql_ms": round(sql_ms), "ratio": round(report_ms / sql_ms, 2)}


def main():
    from app import create_app
    from app.extensions import db
    from app.reports import services as reports
    from app.security.models import Operator

    url = sa.engine.make_url(SERVER_URL).set(database=BENCH_DB).render_as_string(hide_password=False)
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "RATELIMIT_ENABLED": False})
    mode = sys.argv[1] if len(sys.argv) > 1 else "hash"
    with app.app_context():
        admin = db.session.scalar(sa.select(Operator).where(Operator.username == "admin"))
        dealer = db.session.scalar(sa.text("SELECT min(id) FROM dealer"))
        service = db.session.scalar(sa.text("SELECT min(service_id) FROM subscription"))
        method = db.session.scalar(sa.text("SELECT min(id) FROM payment_method"))
        month = {"date_from": date(2026, 11, 1), "date_to": date(2026, 11, 30)}
        cases = {
            "revenue by month, a year": lambda: reports.revenue(admin, YEAR, "month"),
            "revenue by method, three years": lambda: reports.revenue(admin, THREE_YEARS, "method"),
            "revenue by day, a year": lambda: reports.revenue(admin, YEAR, "day"),
            "revenue by service, a year": lambda: reports.revenue(admin, YEAR, "service"),
            "revenue by service, three years, a method": lambda: reports.revenue(
                admin, {**THREE_YEARS, "method": method}, "service"),
            "revenue by service, a year, a dealer": lambda: reports.revenue(admin, {**YEAR, "dealer": dealer},
                                                                            "service"),
            "revenue by service, a year, a service": lambda: reports.revenue(admin, {**YEAR, "service": service},
                                                                             "service"),
            "revenue by service, a month": lambda: reports.revenue(admin, month, "service"),
            "debtors, page 0": lambda: reports.debtors(admin, {}, today=TODAY, page=0),
            "debtors, page 3": lambda: reports.debtors(admin, {}, today=TODAY, page=3),
            "debtors, past the end": lambda: reports.debtors(admin, {}, today=TODAY, page=100_000),
            "debtors, every row": lambda: reports.debtors(admin, {}, today=TODAY),
            "debtors, a service": lambda: reports.debtors(admin, {"service": service}, today=TODAY, page=0),
            "debtors, an age group and a dealer": lambda: reports.debtors(admin, {"age": 2, "dealer": dealer},
                                                                          today=TODAY, page=0),
            "debtors, every row, head office's own": lambda: reports.debtors(admin, {"dealer": 0}, today=TODAY),
        }
        if mode == "hash":
            for name, build in cases.items():
                report = build()
                db.session.rollback()
                text = repr((report.columns, report.rows, report.total, getattr(report, "by_age", None),
                             report.count, report.page))
                print(f"{hashlib.sha256(text.encode()).hexdigest()[:16]}  {len(report.rows):>6} rows  {name}",
                      flush=True)
            return
        if mode == "alternate":  # the debtors' screen and every row, each alternated with its bare SQL
            for name, pairs in (("debtors, page 0", 7), ("debtors, every row", 11)):
                print(json.dumps({"code": os.path.basename(os.getcwd()), "case": name,
                                  **alternated(app, cases[name], pairs), "load": load()}), flush=True)
            return
        timed = ["revenue by month, a year", "revenue by method, three years", "revenue by day, a year",
                 "revenue by service, a year", "debtors, page 0", "debtors, every row"]
        figures = {"load_before": load()}
        for name in timed:
            build = cases[name]
            figures[name] = (median_ms(lambda: (build(), db.session.rollback())), bare_sql_ms(app, build))
        figures["load_after"] = load()
        print(json.dumps({"code": os.path.basename(os.getcwd()), **figures}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
