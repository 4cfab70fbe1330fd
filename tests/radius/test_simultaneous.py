"""Simultaneous-Use against a real server process: one session at a time unless the service or subscription says
otherwise; a silent session or the same device redialling on the same port does not lock the subscriber out."""
import time
from datetime import timedelta

from pyrad import packet as radius_packet
from sqlalchemy import select, update

from app.clients.models import Subscription
from app.core.formatting import utcnow
from app.extensions import db
from app.radius.models import RadiusSession
from tests.conftest import visible_text
from tests.radius.test_radius import client, nas, start_server, stop_server, subscriber

MAC_A, MAC_B, MAC_C = "AA:BB:CC:00:00:0A", "aa-bb-cc-00-00-0b", "aabb.cc00.000c"
REFUSAL = "Достигнат е броят едновременни връзки за този абонамент (1)."


def login(server, mac, port="ether1", lean=True, username="ivan", password="parola-123"):
    """The reply to a PAP login from `mac` on NAS port `port`; lean=False adds an attribute the lean path does
    not read, so that pyrad's path answers."""
    radius_client = client(server)
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=username)
    request["Calling-Station-Id"] = mac
    request["NAS-Port-Id"] = port
    request["NAS-Port"] = 15
    if not lean:
        request["Framed-MTU"] = 1480
    request["User-Password"] = request.PwCrypt(password)
    request.add_message_authenticator()
    return radius_client.SendPacket(request)


def account(server, status, session_id, mac, port="ether1", username="ivan", delay=0):
    """An Accounting-Request; `delay` seconds late (Acct-Delay-Time): the session was last heard of then."""
    radius_client = client(server)
    request = radius_client.CreateAcctPacket(User_Name=username)
    request["Acct-Status-Type"] = status
    request["Acct-Session-Id"] = session_id
    request["Calling-Station-Id"] = mac
    request["NAS-Port-Id"] = port
    if delay:
        request["Acct-Delay-Time"] = delay
    assert radius_client.SendPacket(request).code == radius_packet.AccountingResponse


def code_within(server, mac, expected, seconds=1.0, **options):
    """The login's reply once its code is `expected`: on PostgreSQL a session's Start or Stop reaches the servers'
    memory by a notification, within milliseconds of the Accounting-Response, not before it."""
    deadline = time.monotonic() + seconds
    while True:
        reply = login(server, mac, **options)
        if reply.code == expected or time.monotonic() > deadline:
            return reply
        time.sleep(0.02)


def reply_message(reply):
    return "".join(part.decode() if isinstance(part, bytes) else part for part in reply["Reply-Message"])


def sessions(app):
    with app.app_context():
        return {row.acct_session_id: (row.stop_cause, row.nas_port)
                for row in db.session.scalars(select(RadiusSession).order_by(RadiusSession.id))}


def test_simultaneous_use_1_rejects_a_second_device_while_the_first_session_is_live(app):
    with app.app_context():
        nas()
        subscriber()
    # A session is silent after 2 × 5 + 5 seconds without accounting.
    server = start_server(app, RADIUS_INTERIM_INTERVAL="5", RADIUS_STALE_MARGIN="5")
    try:
        assert login(server, MAC_A).code == radius_packet.AccessAccept
        account(server, "Start", "a1", MAC_A)
        for lean in (True, False):
            rejected = code_within(server, MAC_B, radius_packet.AccessReject, lean=lean)
            assert rejected.code == radius_packet.AccessReject
            assert reply_message(rejected).startswith(REFUSAL)
        account(server, "Interim-Update", "a1", MAC_A)
        assert login(server, MAC_B).code == radius_packet.AccessReject
        # The wrong password is still only a wrong password: no word about sessions.
        wrong = login(server, MAC_B, password="wrong-one")
        assert wrong.code == radius_packet.AccessReject and "Reply-Message" not in wrong

        # A stopped session no longer counts.
        account(server, "Stop", "a1", MAC_A)
        assert code_within(server, MAC_B, radius_packet.AccessAccept).code == radius_packet.AccessAccept
        assert sessions(app) == {"a1": (None, "ether1")}

        # A silent session (the NAS lost it without a Stop: last heard of 16 s ago) gives way, closed at its
        # last report.
        account(server, "Start", "a2", MAC_A, delay=16)
        assert login(server, MAC_B).code == radius_packet.AccessAccept
        with app.app_context():
            silent = db.session.scalar(select(RadiusSession).where(RadiusSession.acct_session_id == "a2"))
            assert silent.stop_cause == "Stale" and silent.stopped_at == silent.updated_at
            assert silent.updated_at < utcnow() - timedelta(seconds=15)
        account(server, "Start", "b1", MAC_B, port="ether2")
        assert code_within(server, MAC_C, radius_packet.AccessReject, lean=False).code == radius_packet.AccessReject

        # The same device on the same port redials (pyrad's path and the lean one): the old session is closed.
        assert login(server, MAC_B.replace("-", ":").upper(), port="ether2", lean=False).code == \
            radius_packet.AccessAccept
        assert sessions(app)["b1"] == ("Redial", "ether2")
        account(server, "Start", "b2", MAC_B, port="ether2")
        assert code_within(server, MAC_B, radius_packet.AccessReject, port="ether3").code == radius_packet.AccessReject
        assert login(server, MAC_B, port="ether2").code == radius_packet.AccessAccept
        assert sessions(app)["b2"] == ("Redial", "ether2")

        # The subscription's own number: two at once; then any number (0).
        with app.app_context():
            db.session.execute(update(Subscription).values(simultaneous_use=2))
            db.session.commit()
        account(server, "Start", "b3", MAC_B, port="ether2")
        account(server, "Start", "c1", MAC_C, port="ether4")
        rejected = code_within(server, MAC_A, radius_packet.AccessReject, port="ether6")
        assert reply_message(rejected).startswith(REFUSAL.replace("(1)", "(2)"))
        with app.app_context():
            db.session.execute(update(Subscription).values(simultaneous_use=0))
            db.session.commit()
        reply = code_within(server, MAC_A, radius_packet.AccessAccept, port="ether6")
        assert reply.code == radius_packet.AccessAccept
    finally:
        stop_server(server)


def test_the_office_sets_the_sessions_allowed_on_the_service_and_on_a_subscription(app, admin, api):
    with app.app_context():
        subscription_id = subscriber()
        service_id = db.session.get(Subscription, subscription_id).service_id
    url = f"/subscriptions/edit/{subscription_id}"
    page = admin.submit(url, {"username": "ivan", "simultaneous_use": "5000"})
    assert page.status_code == 200 and "От 0 (без ограничение) до 1000 връзки." in visible_text(page.text)
    assert admin.submit(url, {"username": "ivan", "simultaneous_use": "2"}).status_code == 302
    assert "Едновременни връзки (RADIUS) 2" in visible_text(admin.get(f"/subscriptions/show/{subscription_id}").text)
    assert admin.submit(url, {"username": "ivan", "simultaneous_use": ""}).status_code == 302
    response = api.put(f"/api/v1/services/{service_id}", json={"simultaneous_use": -1})
    assert response.status_code == 422 and "simultaneous_use" in response.json["message"]
    assert api.put(f"/api/v1/services/{service_id}", json={"simultaneous_use": 3}).status_code == 200
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.simultaneous_use is None and subscription.service.simultaneous_use == 3


def test_without_the_cache_each_login_reads_the_open_sessions(app):
    """RADIUS_AUTH_CACHE=0: the batch's statement reads the subscriber's open sessions (on PostgreSQL login by
    login through the open sessions' index): a second device is refused while the first session is open, and
    accepted once it stopped."""
    with app.app_context():
        nas()
        subscriber()
    server = start_server(app, RADIUS_AUTH_CACHE="0")
    try:
        assert login(server, MAC_A).code == radius_packet.AccessAccept
        account(server, "Start", "n1", MAC_A)
        rejected = login(server, MAC_B)
        assert rejected.code == radius_packet.AccessReject and reply_message(rejected).startswith(REFUSAL)
        account(server, "Stop", "n1", MAC_A)
        assert login(server, MAC_B).code == radius_packet.AccessAccept
    finally:
        stop_server(server)
