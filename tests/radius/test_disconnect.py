"""A suspension disconnects the subscriber: a Disconnect-Request reaches the NAS, and its answer is recorded."""
import socket
import threading
from datetime import date, timedelta

from pyrad import packet as radius_packet
from sqlalchemy import select

from app.billing.freeze import freeze_subscription
from app.billing.models import DailyTraffic
from app.clients.models import Subscription
from app.clients.subscriptions import change_status
from app.core.formatting import local_today, utcnow
from app.core.transaction import unit_of_work
from app.extensions import db
from app.radius.models import Nas, RadiusDisconnect, RadiusSession
from app.radius.server import load_dictionary
from tests.conftest import visible_text
from tests.factories import head_office_cashier, make_client, make_service, make_subscription

SECRET = b"coa-secret-123"


class NasListener:
    """A NAS's CoA port: answers each Disconnect-Request it can verify with `answer`, and keeps what it got."""

    def __init__(self, answer, error_cause=None, address="127.0.0.1"):
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answer, self.error_cause = answer, error_cause
        self.received, self.running = [], True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        dictionary = load_dictionary()
        while self.running:
            try:
                data, source = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            request = radius_packet.CoAPacket(packet=data, secret=SECRET, dict=dictionary)
            if not request.VerifyCoARequest():
                continue
            self.received.append({"code": request.code, "User-Name": request["User-Name"][0],
                                  "Acct-Session-Id": request["Acct-Session-Id"][0]})
            if self.answer is None:
                continue  # a NAS that does not answer
            reply = request.CreateReply()
            reply.code = self.answer
            if self.error_cause:
                reply["Error-Cause"] = self.error_cause
            self.sock.sendto(reply.ReplyPacket(), source)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def online_subscriber(app, test_nas, username="petar"):
    with app.app_context():
        nas = Nas(name=f"MikroTik {test_nas.address}", ip_address=test_nas.address, secret=SECRET.decode(),
                  coa_port=test_nas.port)
        db.session.add(nas)
        service = make_service(f"Интернет {username}", username_type="radius")
        subscription = make_subscription(make_client(None, f"Абонат {username}"), service,
                                         activation_date=date(2026, 1, 1), paid_until=date(2026, 11, 30),
                                         username=username, password="parola-123")
        now = utcnow()
        db.session.add(RadiusSession(nas=nas, acct_session_id="81a00001", username=username,
                                     subscription_id=subscription.id, framed_ip="10.20.0.9", started_at=now,
                                     updated_at=now))
        db.session.commit()
        return subscription.id


def suspend(app, subscription_id):
    with app.app_context():
        with unit_of_work():
            change_status(head_office_cashier(), db.session.get(Subscription, subscription_id), "suspended",
                          "Неплатена услуга")


def outcomes(app):
    with app.app_context():
        return [(row.result, row.error_cause, row.attempts, row.acct_session_id)
                for row in db.session.scalars(select(RadiusDisconnect).order_by(RadiusDisconnect.id))]


def test_a_suspension_sends_a_disconnect_and_a_nak_is_recorded(app):
    nas = NasListener(radius_packet.DisconnectNAK, error_cause=503)
    try:
        subscription_id = online_subscriber(app, nas)
        suspend(app, subscription_id)
    finally:
        nas.close()
    assert nas.received == [{"code": radius_packet.DisconnectRequest, "User-Name": "petar",
                             "Acct-Session-Id": "81a00001"}]
    assert outcomes(app) == [("nak", 503, 1, "81a00001")]


def test_an_ack_is_recorded_and_a_silent_nas_is_asked_again(app):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        suspend(app, online_subscriber(app, nas))
    finally:
        nas.close()
    assert outcomes(app) == [("ack", None, 1, "81a00001")]

    silent = NasListener(None, address="127.0.0.2")
    try:
        suspend(app, online_subscriber(app, silent, username="georgi"))
    finally:
        silent.close()
    assert len(silent.received) == 3  # sent, then again after 0.5 s and 1 s
    assert outcomes(app)[-1] == ("no_answer", None, 3, "81a00001")


def test_a_subscriber_with_no_open_session_sends_nothing(app):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            db.session.scalar(select(RadiusSession)).stopped_at = utcnow()
            db.session.commit()
        suspend(app, subscription_id)
    finally:
        nas.close()
    assert nas.received == [] and outcomes(app) == []


def test_the_card_shows_who_is_online_the_months_traffic_and_the_disconnects(app, admin):
    nas = NasListener(radius_packet.DisconnectNAK, error_cause=503)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            db.session.add(DailyTraffic(subscription_id=subscription_id, day=local_today(), bytes_in=460_000_000,
                                        bytes_out=1_000_000_000))
            db.session.scalar(select(RadiusSession)).output_bytes = 820_300_000
            client_id = db.session.get(Subscription, subscription_id).client_id
            db.session.commit()
        card = visible_text(admin.get(f"/clients/show/{client_id}").text)
        assert "Мрежа (RADIUS)" in card and "онлайн" in card and "10.20.0.9 · MikroTik 127.0.0.1" in card
        assert "1,46 GB" in card and "↓ 820 MB ↑ 0 B" in card
        suspend(app, subscription_id)
    finally:
        nas.close()
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "извън мрежата" in card and "отказано от NAS (Error-Cause 503)" in card


def test_a_freeze_starting_today_disconnects(app):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            subscription = db.session.get(Subscription, subscription_id)
            subscription.service.max_freeze_days = 30
            subscription.paid_until = local_today() + timedelta(days=20)
            db.session.commit()
            with unit_of_work():
                freeze_subscription(head_office_cashier(), db.session.get(Subscription, subscription_id),
                                    starts_on=local_today(), ends_on=local_today() + timedelta(days=6),
                                    reason="В чужбина")
    finally:
        nas.close()
    assert [request["User-Name"] for request in nas.received] == ["petar"]
    assert outcomes(app) == [("ack", None, 1, "81a00001")]


def test_the_online_page_lists_the_open_sessions_only(app, admin):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        online_subscriber(app, nas)
    finally:
        nas.close()
    with app.app_context():
        record = db.session.scalar(select(RadiusSession))
        now = utcnow()
        db.session.add(RadiusSession(nas_id=record.nas_id, acct_session_id="closed-1", username="stoyan",
                                     started_at=now, updated_at=now, stopped_at=now))
        record.output_bytes, record.input_bytes = 1_500_000_000, 120_000_000
        db.session.commit()
    page = visible_text(admin.get("/online/list/").text)
    assert "В мрежата сега" in page and "petar" in page and "Абонат petar" in page and "10.20.0.9" in page
    assert "1,50 GB / 120 MB" in page and "stoyan" not in page
