"""Every server process sees an operator's change within a second (on PostgreSQL: through its cache)."""
import time

import pytest
from pyrad import packet as radius_packet
from pyrad.client import Timeout
from sqlalchemy import text

from app.clients.models import Subscription
from app.clients.subscriptions import change_status
from app.core.transaction import unit_of_work
from app.extensions import db
from tests.factories import head_office_cashier
from tests.radius.test_radius import accounting, access, nas, start_server, stop_server, subscriber


def answer_within(server, username, password, expected, seconds=1.0):
    deadline = time.monotonic() + seconds
    while True:
        code = access(server, username, password).code
        if code == expected or time.monotonic() > deadline:
            return code
        time.sleep(0.05)


def test_a_new_password_and_a_suspension_are_in_effect_within_a_second_in_a_second_process(app):
    with app.app_context():
        nas()
        subscription_id = subscriber()
    first, second = start_server(app), start_server(app)
    try:
        for server in (first, second):
            assert access(server, "ivan", "parola-123").code == radius_packet.AccessAccept
        with app.app_context():
            db.session.get(Subscription, subscription_id).password = "nova-parola-9"
            db.session.commit()
        changed = time.monotonic()
        for server in (first, second):
            assert answer_within(server, "ivan", "nova-parola-9", radius_packet.AccessAccept) \
                == radius_packet.AccessAccept
            assert access(server, "ivan", "parola-123").code == radius_packet.AccessReject
        assert time.monotonic() - changed < 2.5
        with app.app_context():
            with unit_of_work():
                change_status(head_office_cashier(), db.session.get(Subscription, subscription_id), "suspended",
                              "Неплатена услуга")
        for server in (first, second):
            assert answer_within(server, "ivan", "nova-parola-9", radius_packet.AccessReject) \
                == radius_packet.AccessReject
    finally:
        stop_server(first)
        stop_server(second)


def test_the_server_outlives_its_database_connections(app):
    """PostgreSQL restarted or a connection killed: the server answers again, and its cache is current again."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("killing the server's connections needs PostgreSQL")
    with app.app_context():
        nas()
        subscription_id = subscriber()
        # Logins while its session is open: any number of sessions at once (Simultaneous-Use is tested apart).
        db.session.get(Subscription, subscription_id).service.simultaneous_use = 0
        db.session.commit()
    server = start_server(app)
    try:
        assert access(server, "ivan", "parola-123").code == radius_packet.AccessAccept
        with app.app_context():
            killed = db.session.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            db.session.commit()
        assert killed >= 1
        # Answered again within a few seconds (a request in between may go unanswered: the NAS resends).
        deadline = time.monotonic() + 10
        while True:
            try:
                if accounting(server, "Start", session_id="after-kill").code == radius_packet.AccountingResponse:
                    break
            except Timeout:
                pass
            assert time.monotonic() < deadline, "no accounting answer after the connections were killed"
        with app.app_context():
            db.session.get(Subscription, subscription_id).password = "nova-parola-9"
            db.session.commit()
        assert answer_within(server, "ivan", "nova-parola-9", radius_packet.AccessAccept, seconds=5) \
            == radius_packet.AccessAccept
        assert server.process.poll() is None
    finally:
        stop_server(server)


def test_without_the_cache_each_batch_executes_a_statement_prepared_on_its_connection(app):
    """RADIUS_AUTH_CACHE=0 on PostgreSQL: every login reads the database (a change is in effect at the next
    login), through a statement prepared once on the server's connection — prepared again on a new one."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a prepared statement of PostgreSQL's")
    with app.app_context():
        nas()
        subscription_id = subscriber()
    server = start_server(app, RADIUS_AUTH_CACHE="0")

    def executing():
        with app.app_context():
            found = db.session.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'EXECUTE radius_logins(%'")).scalars().all()
            db.session.commit()
        return found

    try:
        assert access(server, "ivan", "parola-123").code == radius_packet.AccessAccept
        first = executing()
        assert len(first) == 1
        with app.app_context():
            db.session.get(Subscription, subscription_id).password = "nova-parola-9"
            db.session.commit()
        assert access(server, "ivan", "nova-parola-9").code == radius_packet.AccessAccept  # no cache to wait for
        assert access(server, "ivan", "parola-123").code == radius_packet.AccessReject
        with app.app_context():
            db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0]})
            db.session.commit()
        # The batch on the killed connection goes unanswered (the NAS resends); the next prepares on a new one.
        deadline = time.monotonic() + 10
        while True:
            try:
                if access(server, "ivan", "nova-parola-9").code == radius_packet.AccessAccept:
                    break
            except Timeout:
                pass
            assert time.monotonic() < deadline, "no login answered after the connection was killed"
        again = executing()
        assert len(again) == 1 and again != first
        assert server.process.poll() is None
    finally:
        stop_server(server)


def test_the_prepared_batch_is_planned_for_its_own_usernames_every_time(app):
    """After five EXECUTEs PostgreSQL may keep a generic plan of a prepared statement, blind to the array of
    usernames; for the batch's statement that plan read whole tables (the bench's logins without the cache fell
    to a tenth). Every batch is planned for its own usernames: no generic plan however many batches ran."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a prepared statement of PostgreSQL's")
    from app.radius import auth

    with app.app_context():
        nas()
        subscriber()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for _batch in range(12):
                assert set(auth.load(usernames={"ivan", "nobody"}, connection=connection)) == {"ivan"}
            generic, custom = connection.execute(text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = :name"),
                {"name": auth.PREPARED}).one()
    assert (generic, custom) == (0, 12)
