"""The RADIUS servers hear of every subscription the billing cycle changes (NOTIFY radius_auth, PostgreSQL).

The triggers fire once per statement (migration 0045) and name each row the
statement inserted, changed or deleted, as the per-row triggers did.
"""
import select as wait
import time
from datetime import date

import psycopg2
import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.billing.test_cycle import run_cycle, subscriber


def heard(connection, seconds=2.0):
    """The payloads of radius_auth heard on `connection` within `seconds` of quiet."""
    payloads, until = set(), time.monotonic() + seconds
    while time.monotonic() < until:
        if wait.select([connection], [], [], 0.2) != ([], [], []):
            connection.poll()
            while connection.notifies:
                payloads.add(connection.notifies.pop(0).payload)
    return payloads


@pytest.fixture
def listener(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL notifies the RADIUS servers; SQLite has no notifications")
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg2.connect(url)
    connection.autocommit = True
    connection.cursor().execute("LISTEN radius_auth")
    yield connection
    connection.close()


def test_each_subscription_the_cycle_suspends_or_pays_is_named_once_per_change(app, outbox, listener):
    with app.app_context():
        overdue = [subscriber(f"Длъжник {number}", f"d{number}@example.bg", paid_until=date(2026, 11, 30))[1]
                   for number in range(3)]
        service_id = db.session.scalar(sa.text("SELECT service_id FROM subscription WHERE id = :id"),
                                       {"id": overdue[0]})
    heard(listener, 0.5)  # what making them said
    run_cycle(app, date(2026, 12, 10))
    assert {f"subscription:{number}" for number in overdue} <= heard(listener)

    with app.app_context():
        client_id = db.session.scalar(sa.text("SELECT client_id FROM subscription WHERE id = :id"), {"id": overdue[1]})
        freeze = {"subscription": overdue[1], "client": client_id}
        db.session.execute(sa.text(
            "INSERT INTO subscription_freeze (subscription_id, client_id, starts_on, ends_on, last_day, reason, "
            "created_at) VALUES (:subscription, :client, DATE '2027-02-01', DATE '2027-02-10', DATE '2027-02-10', 'тест', now())"), freeze)
        db.session.commit()
        assert heard(listener) == {f"subscription:{overdue[1]}"}
        db.session.execute(sa.text("UPDATE service SET name = name WHERE id = :id"), {"id": service_id})
        db.session.commit()
        assert heard(listener) == {f"service:{service_id}"}
        db.session.execute(sa.text("DELETE FROM subscription_freeze WHERE subscription_id = :subscription"), freeze)
        db.session.execute(sa.text("UPDATE subscription SET status_reason = status_reason WHERE id IN :ids")
                           .bindparams(sa.bindparam("ids", expanding=True)), {"ids": overdue[::2]})
        db.session.commit()
        assert heard(listener) == {f"subscription:{number}" for number in overdue}
        db.session.execute(sa.text("UPDATE subscription SET status_reason = status_reason WHERE id < 0"))
        db.session.commit()
        assert heard(listener, 0.5) == set()  # a statement that changed no row names none
        # Once per statement: no trigger of the RADIUS servers' channel fires per row (tgtype bit 0).
        assert db.session.scalar(sa.text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'radius_auth%' "
                                         "AND tgtype & 1 = 1")) == 0
        assert db.session.scalar(sa.text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'radius_auth%'")) == 18
