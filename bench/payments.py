"""Payments at scale on PostgreSQL: 100,000 clients, 1,000,000 payments; the list, a client's history, recording.

1. The demo seeds and seed_clients(100,000), as bench/clients.py does
   (bench.clients.seed), then 1,000,000 payments in one
   INSERT … SELECT generate_series (timed), 1,000 reversals of them, one
   PaymentAllocation per payment (timed), then VACUUM ANALYZE.
   The bulk rows bypass the ORM: no Continuum version rows and no LOG
   entries are written for them (the pages measured here read neither).
2. As the administrator, server time and SQL statements per request for the
   payment list's first page (paid_at desc), one client's history
   (?client=), that client's card (latest 10 payments, what is due), and
   the payment form.
3. POST /payments/record/<client_id> — 1 month of one active subscription,
   cash, EUR, a fresh request_key — each run for another client; then the
   service alone (record_payment in a unit of work, in a request context) for
   comparison.
4. The slowest statement of each measurement under EXPLAIN ANALYZE.
5. What-if, in the bench database only (the application is not changed):
   whatever index or setting is tried to explain a missed target.

Works in its own database, billing_bench_payments on the server of
BENCH_DATABASE_URL, dropped and created afresh on each run (the database
the URL names is not touched) and left behind for inspection.
"""
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.clients import StatementRecorder, explain, key_lines, run_sql, seed, short  # noqa: E402
from bench.networks import ADMIN_USERNAME, CSRF_RE, build_app, fresh_database, logged_in_client, ms, p95  # noqa: E402

BENCH_PAYMENTS_DB = "billing_bench_payments"
PAYMENTS = 1_000_000
REVERSALS = 1_000  # every 1000th payment is reversed (a payment row of its own)
YEARS = 3
WARM_UP, TIMED = 3, 30
MORE_PAYMENTS = 2_000_000  # step 5: ~3,000,000 in all, about 2.5 years of 100,000 clients paying monthly
COUNT_CAP = 10_000  # step 5: "more than 10,000" instead of an exact count
PAGE_TARGET_MS = 100
RECORD_TARGET_MS = 50

# How the bulk payments are spread (weights in %).
METHOD_WEIGHTS = {"cash": 60, "bank": 20, "epay": 10, "easypay": 7, "card": 3}
TYPE_WEIGHTS = {"monthly": 90, "installation": 3, "traffic": 2, "deposit": 3, "other": 2}
FEES_EUR = ["1.50", "9.90", "12.90", "14.90", "17.90", "24.90"]  # the demo catalog's monthly fees
BGN_PER_EUR = "1.95583"


def weighted_case(column, ids_by_code, weights):
    """SQL CASE picking an id by a uniform random number in [0, 1) from a column."""
    parts, bound = [], 0
    for code, weight in weights.items():
        bound += weight
        parts.append(f"WHEN {column} < {bound / 100} THEN {ids_by_code[code]}")
    return "CASE " + " ".join(parts[:-1]) + f" ELSE {ids_by_code[list(weights)[-1]]} END"


def insert_payments(app, count):
    """`count` bulk payments in one INSERT … SELECT generate_series (committed); seconds."""
    from app.extensions import db

    with app.app_context():
        methods = dict(db.session.execute(sa.text("SELECT code, id FROM payment_method")).all())
        types = dict(db.session.execute(sa.text("SELECT code, id FROM payment_type")).all())
        # The cashiers: head-office operators (the administrator and the demo operators without a dealer).
        operators = db.session.scalars(sa.text("SELECT id FROM ab_user WHERE dealer_id IS NULL ORDER BY id")).all()
        first_client, last_client = db.session.execute(sa.text("SELECT min(id), max(id) FROM client")).one()
        fees = "ARRAY[" + ", ".join(f"{fee}::numeric" for fee in FEES_EUR) + "]"
        started = time.perf_counter()
        db.session.execute(sa.text("SELECT setseed(:seed)"), {"seed": 0.2026 if count == PAYMENTS else 0.7})
        # r_*: independent random numbers per payment; the client is random
        # (about 10 payments each, a few with 25+), paid_at spread over YEARS years.
        db.session.execute(sa.text(f"""
            INSERT INTO payment (client_id, dealer_id, operator_id, method_id, type_id,
                                 amount, currency, amount_eur, paid_at, paid_on)
            SELECT c.id, c.dealer_id, (:operators)[1 + floor(r.r_operator * :operator_count)::int],
                   {weighted_case("r.r_method", methods, METHOD_WEIGHTS)},
                   {weighted_case("r.r_type", types, TYPE_WEIGHTS)},
                   CASE WHEN r.r_currency < 0.15 THEN round(r.eur * {BGN_PER_EUR}, 2) ELSE r.eur END,
                   CASE WHEN r.r_currency < 0.15 THEN 'BGN' ELSE 'EUR' END,
                   r.eur, r.paid_at, CAST(timezone('Europe/Sofia', timezone('UTC', r.paid_at)) AS DATE)
            FROM (
                SELECT :first_client + floor(random() * (:last_client - :first_client + 1))::int AS client_id,
                       random() AS r_operator, random() AS r_method, random() AS r_type,
                       random() AS r_currency,
                       (now() AT TIME ZONE 'UTC') - interval '1 hour'
                           - random() * interval '{365 * YEARS} days' AS paid_at,
                       ({fees})[1 + floor(random() * {len(FEES_EUR)})::int] * (1 + floor(random() * 3)::int) AS eur
                FROM generate_series(1, :count)
            ) AS r
            JOIN client c ON c.id = r.client_id
        """), {"operators": operators, "operator_count": len(operators), "first_client": first_client,
               "last_client": last_client, "count": count})
        db.session.commit()
        return time.perf_counter() - started


def seed_payments(app):
    """PAYMENTS payments, REVERSALS reversals and one allocation per payment; seconds of each step."""
    from app.extensions import db

    timings = {"payments": insert_payments(app, PAYMENTS)}
    with app.app_context():
        started = time.perf_counter()
        db.session.execute(sa.text("""
            INSERT INTO payment (client_id, dealer_id, operator_id, method_id, type_id, amount, currency,
                                 amount_eur, paid_at, paid_on, note, reversal_of_id)
            SELECT client_id, dealer_id, operator_id, method_id, type_id, -amount, currency, -amount_eur,
                   paid_at + interval '1 minute',
                   CAST(timezone('Europe/Sofia', timezone('UTC', paid_at + interval '1 minute')) AS DATE),
                   'Сторно (бенчмарк)', id
            FROM payment WHERE id % :every = 0 AND reversal_of_id IS NULL
        """), {"every": PAYMENTS // REVERSALS})
        db.session.commit()
        timings["reversals"] = time.perf_counter() - started

        started = time.perf_counter()
        # One allocation per payment (not per reversal): 1 period of the client's
        # first subscription, or every 50th an advance.
        db.session.execute(sa.text("""
            INSERT INTO payment_allocation (payment_id, kind, subscription_id, periods, amount_eur, paid_on,
                                            client_id)
            SELECT p.id, CASE WHEN p.id % 50 = 0 THEN 'advance' ELSE 'periods' END,
                   CASE WHEN p.id % 50 = 0 THEN NULL ELSE s.subscription_id END,
                   CASE WHEN p.id % 50 = 0 THEN NULL ELSE 1 END,
                   p.amount_eur, p.paid_on, p.client_id
            FROM payment p
            JOIN (SELECT client_id, min(id) AS subscription_id FROM subscription GROUP BY client_id) s
              ON s.client_id = p.client_id
            WHERE p.reversal_of_id IS NULL
        """))
        db.session.commit()
        timings["allocations"] = time.perf_counter() - started
        counts = db.session.execute(sa.text(
            "SELECT (SELECT count(*) FROM payment), (SELECT count(*) FROM payment WHERE reversal_of_id IS NOT NULL), "
            "(SELECT count(*) FROM payment_allocation)")).one()
    started = time.perf_counter()
    run_sql(app, "VACUUM ANALYZE")
    timings["vacuum"] = time.perf_counter() - started
    return timings, counts


def probes(app):
    """The client with the most payments (its history and card), and clients for recording payments."""
    from app.extensions import db

    with app.app_context():
        heavy_id, heavy_count = db.session.execute(sa.text(
            "SELECT client_id, count(*) FROM payment GROUP BY client_id ORDER BY count(*) DESC, client_id LIMIT 1"
        )).one()
        typical_id, typical_count = db.session.execute(sa.text(
            "SELECT client_id, count(*) FROM payment WHERE client_id >= 50000 GROUP BY client_id "
            "HAVING count(*) = 10 ORDER BY client_id LIMIT 1")).one()
        # Clients paying 1 month of an active, paid-for subscription: no
        # reactivation job, a plain cash payment. One client per run.
        payers = db.session.execute(sa.text("""
            SELECT s.client_id, min(s.id)
            FROM subscription s JOIN service sv ON sv.id = s.service_id
            JOIN client c ON c.id = s.client_id
            WHERE s.status = 'active' AND sv.monthly_fee > 0 AND c.kind = 'individual' AND s.client_id > 60000
            GROUP BY s.client_id ORDER BY s.client_id LIMIT :n
        """), {"n": 2 * (WARM_UP + TIMED)}).all()
        cash_id = db.session.scalar(sa.text("SELECT id FROM payment_method WHERE code = 'cash'"))
        admin_id = db.session.scalar(sa.text("SELECT id FROM ab_user WHERE username = :u"), {"u": ADMIN_USERNAME})
    return {"heavy": (heavy_id, heavy_count), "typical": (typical_id, typical_count), "payers": payers,
            "cash_id": cash_id, "admin_id": admin_id}


def summarize(timings, sql_seconds, statements, recorder):
    return {"median": ms(statistics.median(timings)), "p95": ms(p95(timings)),
            "sql_median": ms(statistics.median(sql_seconds)), "statements": sorted(statements),
            "slowest": recorder.slowest, "last": list(recorder.statements)}


def bench_get(client, recorder, url):
    """WARM_UP then TIMED GETs of `url`."""
    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200, url
    timings, sql_seconds, statements = [], [], set()
    for _ in range(TIMED):
        recorder.reset()
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        sql_seconds.append(recorder.seconds)
        statements.add(recorder.count)
        assert response.status_code == 200, (url, response.status_code)
    return summarize(timings, sql_seconds, statements, recorder)


def bench_record_post(client, recorder, payers, cash_id):
    """WARM_UP then TIMED POSTs of the payment form, each for another client: 1 month, cash, EUR."""
    token = CSRF_RE.search(client.get(f"/payments/record/{payers[0][0]}").text).group(1)
    timings, sql_seconds, statements = [], [], set()
    for run, (client_id, subscription_id) in enumerate(payers[:WARM_UP + TIMED]):
        data = {"csrf_token": token, "request_key": uuid.uuid4().hex, f"months_{subscription_id}": "1",
                "method": str(cash_id), "currency": "EUR"}
        recorder.reset()
        started = time.perf_counter()
        response = client.post(f"/payments/record/{client_id}", data=data)
        elapsed = time.perf_counter() - started
        assert response.status_code == 302 and "/payments/show/" in response.location, \
            (client_id, response.status_code, response.text[:2000])
        if run >= WARM_UP:
            timings.append(elapsed)
            sql_seconds.append(recorder.seconds)
            statements.add(recorder.count)
    return summarize(timings, sql_seconds, statements, recorder)


def bench_record_service(app, recorder, payers, cash_id, admin_id):
    """record_payment in a unit of work alone, in a request context per run (client and operator loaded beforehand)."""
    from app.billing.models import PaymentMethod
    from app.billing.services import record_payment
    from app.clients.models import Client
    from app.core.actors import acting_as
    from app.core.transaction import unit_of_work
    from app.extensions import db
    from app.security.models import Operator

    timings, sql_seconds, statements = [], [], set()
    for run, (client_id, subscription_id) in enumerate(payers):
        with app.test_request_context():
            operator = db.session.get(Operator, admin_id)
            client = db.session.get(Client, client_id)
            method = db.session.get(PaymentMethod, cash_id)
            recorder.reset()
            started = time.perf_counter()
            with acting_as(operator), unit_of_work():
                result = record_payment(operator, client, method=method, currency="EUR",
                                        periods={str(subscription_id): "1"}, request_key=uuid.uuid4().hex)
            elapsed = time.perf_counter() - started
            assert not result.repeated
            db.session.remove()
        if run >= WARM_UP:
            timings.append(elapsed)
            sql_seconds.append(recorder.seconds)
            statements.add(recorder.count)
    return summarize(timings, sql_seconds, statements, recorder)


def line(label, result):
    return (f"   {label:<46} median {result['median']:6.1f} ms, p95 {result['p95']:6.1f} ms, "
            f"SQL {result['sql_median']:6.1f} ms; statements {result['statements']}")


def show_slowest(app, label, result, target, top=3):
    """The request's slowest statements; EXPLAIN ANALYZE of the slowest SELECT (rolled back)."""
    over = result["median"] >= target
    print(f"\n   {label}{'  — OVER TARGET' if over else ''}: {result['median']:.1f} ms, "
          f"SQL {result['sql_median']:.1f} ms in {result['statements']} statements; slowest of the last run:")
    ranked = sorted(result["last"], key=lambda entry: entry[2], reverse=True)
    for statement, _, seconds in ranked[:top]:
        print(f"     {ms(seconds):6.2f} ms  {short(statement, 170)}")
    selects = [entry for entry in ranked if entry[0].lstrip().upper().startswith("SELECT")]
    if selects:
        statement, parameters, _ = selects[0]
        for plan_line in key_lines(explain(app, statement, parameters)):
            print(f"       {plan_line}")


def time_sql(app, sql, parameters=None, runs=10):
    """Median ms of a statement run `runs` times on one connection (after one warm-up run)."""
    from app.extensions import db

    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            timings = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                cursor.execute(sql, parameters)
                cursor.fetchall()
                timings.append(time.perf_counter() - started)
            connection.rollback()
        finally:
            connection.close()
    return ms(statistics.median(timings[1:]))


def count_what_if(app, list_result, label):
    """FAB's count statement of the list page as sent, against a capped count and the planner's estimate."""
    statement, parameters, _ = max((entry for entry in list_result["last"] if "count(" in entry[0]),
                                   key=lambda entry: entry[2])
    exact = time_sql(app, statement, parameters)
    capped = time_sql(app, f"SELECT count(*) FROM (SELECT 1 FROM payment LIMIT {COUNT_CAP + 1}) AS capped")
    estimate = time_sql(app, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'payment'::regclass")
    print(f"   {label}: FAB's count as sent {exact:.1f} ms; capped at {COUNT_CAP + 1:,} rows {capped:.2f} ms; "
          f"planner estimate (pg_class.reltuples) {estimate:.2f} ms")
    return exact, capped


def main():
    database_url = fresh_database(BENCH_PAYMENTS_DB)
    print(f"database: {sa.engine.make_url(database_url).render_as_string(hide_password=True)}")
    app = build_app(database_url)
    from app.extensions import db

    print("\n1. demo seeds, seed_clients(100,000) (bench.clients.seed), then the payments …")
    seeded = seed(app)
    print(f"   demo seeds {seeded['demo']:.1f} s; seed_clients: {seeded['seconds']:.1f} s, {seeded['clients']:,} "
          f"clients, {seeded['subscriptions']:,} subscriptions; VACUUM ANALYZE {seeded['vacuum']:.1f} s")
    timings, (payments, reversals, allocations) = seed_payments(app)
    print(f"   {PAYMENTS:,} payments (INSERT … SELECT generate_series): {timings['payments']:.1f} s; "
          f"{REVERSALS:,} reversals: {timings['reversals']:.1f} s; one allocation per payment: "
          f"{timings['allocations']:.1f} s; VACUUM ANALYZE: {timings['vacuum']:.1f} s")
    print(f"   now {payments:,} payment rows ({reversals:,} reversals), {allocations:,} allocations")

    found = probes(app)
    heavy_id, heavy_count = found["heavy"]
    typical_id, typical_count = found["typical"]
    payers = found["payers"]
    assert len(payers) == 2 * (WARM_UP + TIMED), len(payers)
    with app.app_context():
        recorder = StatementRecorder(db.engine)
        jit = db.session.scalar(sa.text("SHOW jit"))
    client = logged_in_client(app)

    pages = [
        ("/", "home page (the floor of every page)"),
        ("/payments/list/", "payment list, first page"),
        (f"/payments/list/?client={typical_id}", f"history ?client=, {typical_count} payments"),
        (f"/payments/list/?client={heavy_id}", f"history ?client=, {heavy_count} payments (most)"),
        (f"/clients/show/{typical_id}", f"card, {typical_count} payments"),
        (f"/clients/show/{heavy_id}", f"card, {heavy_count} payments (most)"),
        (f"/payments/record/{payers[-1][0]}", "payment form (GET)"),
    ]
    print(f"\n   load average of the machine (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"\n2. {WARM_UP} warm-up + {TIMED} timed requests each, as the administrator "
          f"(server time in process; SQL = time inside cursor.execute; jit = {jit}) …")
    results = {}
    for url, label in pages:
        results[label] = bench_get(client, recorder, url)
        print(line(label, results[label]))

    print(f"\n3. Recording: {WARM_UP} warm-up + {TIMED} timed, 1 month of an active subscription, cash, EUR, "
          f"each run another client …")
    post_label = "POST /payments/record/<client_id>"
    results[post_label] = bench_record_post(client, recorder, payers[:WARM_UP + TIMED], found["cash_id"])
    print(line(post_label, results[post_label]))
    service_label = "record_payment in a unit of work (service alone)"
    results[service_label] = bench_record_service(app, recorder, payers[WARM_UP + TIMED:], found["cash_id"],
                                                  found["admin_id"])
    print(line(service_label, results[service_label]))

    print("\n4. The slowest statements of each measurement's last run; EXPLAIN ANALYZE of its slowest SELECT …")
    for label, result in results.items():
        target = RECORD_TARGET_MS if label in (post_label, service_label) else PAGE_TARGET_MS
        show_slowest(app, label, result, target)

    print("\n5. What-if, in the bench database only: the list's count(*) …")
    list_label = pages[1][1]
    count_1m = count_what_if(app, results[list_label], f"{payments:,} payments")
    started = time.perf_counter()
    more_seconds = insert_payments(app, MORE_PAYMENTS)
    run_sql(app, "VACUUM ANALYZE payment")
    with app.app_context():
        total = db.session.scalar(sa.text("SELECT count(*) FROM payment"))
        now_counts = [db.session.scalar(sa.text("SELECT count(*) FROM payment WHERE client_id = :id"), {"id": id_})
                      for id_ in (typical_id, heavy_id)]
    print(f"   {MORE_PAYMENTS:,} more payments: {more_seconds:.1f} s (+ VACUUM ANALYZE payment "
          f"{time.perf_counter() - started - more_seconds:.1f} s), now {total:,}; the two clients of the history "
          f"and card now have {now_counts[0]} and {now_counts[1]} payments (the labels below keep the old counts)")
    larger = {}
    for url, label in pages[1:6]:
        larger[label] = bench_get(client, recorder, url)
        print(line(f"{label} @ {total / 1e6:.1f}M", larger[label]))
    count_3m = count_what_if(app, larger[list_label], f"{total:,} payments")

    print("\nSummary (server ms per request: median / p95; SQL statements per request)")
    print(f"  seeding: seed_clients(100,000) {seeded['seconds']:.1f} s; {PAYMENTS:,} payments "
          f"{timings['payments']:.1f} s + {REVERSALS:,} reversals {timings['reversals']:.1f} s + allocations "
          f"{timings['allocations']:.1f} s; VACUUM ANALYZE {timings['vacuum']:.1f} s")
    for label, result in results.items():
        target = RECORD_TARGET_MS if label in (post_label, service_label) else PAGE_TARGET_MS
        verdict = "" if label.startswith("home") else (" ok" if result["median"] < target else " OVER")
        print(f"  {label:<46} {result['median']:6.1f} / {result['p95']:6.1f}  {result['statements']}"
              f"  (target {target} ms){verdict}")

    print(f"  with {total:,} payments: list {larger[list_label]['median']:.1f} / {larger[list_label]['p95']:.1f}; "
          f"its count(*) {count_3m[0]:.1f} ms (capped at {COUNT_CAP + 1:,}: {count_3m[1]:.2f} ms) against "
          f"{count_1m[0]:.1f} ms at {payments:,}")
    print(f"  load average of the machine at the end (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
