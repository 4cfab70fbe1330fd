"""Every server process sees an operator's change within a second (on PostgreSQL: through its cache)."""
import time

from pyrad import packet as radius_packet

from app.clients.models import Subscription
from app.clients.subscriptions import change_status
from app.core.transaction import unit_of_work
from app.extensions import db
from tests.factories import head_office_cashier
from tests.radius.test_radius import access, nas, start_server, stop_server, subscriber


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
