"""The NAS is told: a suspension disconnects the subscriber, a payment lets one out of the walled garden, a new
speed goes by CoA, and what the NAS answers is recorded and shown."""
import socket
import threading
import time
from datetime import date, timedelta

from pyrad import packet as radius_packet
from sqlalchemy import select

from app.billing.freeze import freeze_subscription
from app.billing.models import DailyTraffic, SubscriptionFreeze
from app.billing.periods import add_months, month_end
from app.catalog.services import update_service
from app.clients.models import Subscription
from app.clients.subscriptions import change_status
from app.core.formatting import local_today, utcnow
from app.core.queue import wait_for_background_jobs
from app.core.transaction import unit_of_work
from app.extensions import db
from app.radius import load_dictionary
from app.radius.models import Nas, RadiusDisconnect, RadiusSession
from tests.conftest import visible_text
from tests.radius.test_radius import start_server, stop_server
from tests.factories import head_office_cashier, make_client, make_dealer, make_service, make_subscription

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
            received = {"code": request.code, "User-Name": request["User-Name"][0],
                        "Acct-Session-Id": request["Acct-Session-Id"][0]}
            if "Mikrotik-Rate-Limit" in request:
                received["Mikrotik-Rate-Limit"] = request["Mikrotik-Rate-Limit"][0]
            self.received.append(received)
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


def online_subscriber(app, test_nas, username="petar", status="active", paid_until=date(2026, 11, 30),
                      walled_garden_pool=None):
    with app.app_context():
        nas = Nas(name=f"MikroTik {test_nas.address}", ip_address=test_nas.address, secret=SECRET.decode(),
                  coa_port=test_nas.port, walled_garden_pool=walled_garden_pool)
        db.session.add(nas)
        service = make_service(f"Интернет {username}", username_type="radius")
        subscription = make_subscription(make_client(None, f"Абонат {username}"), service, status=status,
                                         activation_date=date(2026, 1, 1), paid_until=paid_until,
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
        # Without Redis the disconnect runs in the process's background thread: the operator does not wait.
        wait_for_background_jobs()


def outcomes(app, kind="disconnect"):
    with app.app_context():
        return [(row.result, row.error_cause, row.attempts, row.acct_session_id)
                for row in db.session.scalars(select(RadiusDisconnect).where(RadiusDisconnect.kind == kind)
                                              .order_by(RadiusDisconnect.id))]


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
            wait_for_background_jobs()
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


def test_a_payment_lets_a_subscriber_out_of_the_walled_garden(app, admin):
    """Suspended, in the NAS's walled garden; the cashier takes three months: active, and the walled-garden
    session is disconnected, so the subscriber's router dials again and gets its own address and speed."""
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        with app.app_context():
            today = local_today()
        subscription_id = online_subscriber(app, nas, status="suspended", walled_garden_pool="debtors",
                                            paid_until=month_end(add_months(today, -2)))
        with app.app_context():
            client_id = db.session.get(Subscription, subscription_id).client_id
        response = admin.submit(f"/payments/record/{client_id}", {f"months_{subscription_id}": "3",
                                                                 "request_key": "garden-1"})
        assert response.status_code == 302
        with app.app_context():
            wait_for_background_jobs()
            assert db.session.get(Subscription, subscription_id).status == "active"
    finally:
        nas.close()
    assert [(request["code"], request["User-Name"]) for request in nas.received] == [
        (radius_packet.DisconnectRequest, "petar")]
    with app.app_context():
        request = db.session.scalar(select(RadiusDisconnect))
        assert (request.kind, request.result, request.reason) == ("disconnect", "ack",
                                                                   "Отново активен: извън ограничения достъп")


def test_reactivation_without_a_walled_garden_disconnects_nobody(app):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas, status="suspended")
        with app.app_context():
            with unit_of_work():
                change_status(head_office_cashier(), db.session.get(Subscription, subscription_id), "active",
                              "Платено")
            wait_for_background_jobs()
    finally:
        nas.close()
    assert nas.received == [] and outcomes(app) == []


def test_a_new_speed_reaches_the_subscribers_online_by_coa(app, admin):
    nas = NasListener(radius_packet.CoAACK)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            service = db.session.get(Subscription, subscription_id).service
            with unit_of_work():
                update_service(head_office_cashier(), service, download_kbps=50000, upload_kbps=10000)
            wait_for_background_jobs()
    finally:
        nas.close()
    assert nas.received == [{"code": radius_packet.CoARequest, "User-Name": "petar", "Acct-Session-Id": "81a00001",
                             "Mikrotik-Rate-Limit": "10000k/50000k"}]
    assert outcomes(app, "coa") == [("ack", None, 1, "81a00001")] and outcomes(app) == []
    with app.app_context():
        client_id = db.session.get(Subscription, subscription_id).client_id
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "CoA (скорост) petar MikroTik 127.0.0.1 Нова скорост 50000/10000 kbit/s приложено от NAS" in card


def test_a_new_speed_through_the_rest_api_sends_the_coa_too(app, api):
    """The API loads the body into the record before the operation runs: the operation still sees the old speed."""
    nas = NasListener(radius_packet.CoAACK)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            service_id = db.session.get(Subscription, subscription_id).service_id
        response = api.put(f"/api/v1/services/{service_id}", json={"download_kbps": 40000, "upload_kbps": 8000})
        assert response.status_code == 200, response.text
        # The same speed again changes nothing, and tells the NAS nothing.
        assert api.put(f"/api/v1/services/{service_id}", json={"download_kbps": 40000}).status_code == 200
        with app.app_context():
            wait_for_background_jobs()
    finally:
        nas.close()
    assert nas.received == [{"code": radius_packet.CoARequest, "User-Name": "petar", "Acct-Session-Id": "81a00001",
                             "Mikrotik-Rate-Limit": "8000k/40000k"}]
    assert outcomes(app, "coa") == [("ack", None, 1, "81a00001")]


def test_a_coa_the_nas_refuses_is_recorded_with_its_cause(app, admin):
    nas = NasListener(radius_packet.CoANAK, error_cause=502)
    try:
        subscription_id = online_subscriber(app, nas)
        with app.app_context():
            subscription = db.session.get(Subscription, subscription_id)
            client_id = subscription.client_id
            with unit_of_work():
                update_service(head_office_cashier(), subscription.service, download_kbps=30000)
            wait_for_background_jobs()
    finally:
        nas.close()
    assert outcomes(app, "coa") == [("nak", 502, 1, "81a00001")]
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "CoA (скорост)" in card and "Нова скорост 30000/" in card and "отказано от NAS (Error-Cause 502)" in card


def test_the_server_disconnects_on_its_own_who_is_still_online_and_may_not_be(app):
    """A freeze that began today (booked last week), and a suspension whose disconnect the NAS never answered:
    the RADIUS server's housekeeping asks the NAS again, at most once per ten minutes per session."""
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        frozen_id = online_subscriber(app, nas)
        with app.app_context():
            frozen = db.session.get(Subscription, frozen_id)
            today = local_today()
            db.session.add(SubscriptionFreeze(subscription_id=frozen_id, client_id=frozen.client_id, starts_on=today,
                                              ends_on=today + timedelta(days=3), last_day=today + timedelta(days=3),
                                              reason="Почивка"))
            suspended = make_subscription(make_client(None, "Абонат с неотговорил NAS"), frozen.service,
                                          status="suspended", username="stoyan", password="parola-123")
            record = db.session.scalar(select(RadiusSession))
            now = utcnow()
            db.session.add(RadiusSession(nas_id=record.nas_id, acct_session_id="81a00002", username="stoyan",
                                         subscription_id=suspended.id, started_at=now, updated_at=now))
            db.session.add(RadiusDisconnect(subscription_id=suspended.id, nas_id=record.nas_id,
                                            acct_session_id="81a00002", username="stoyan", reason="Спрян",
                                            result="no_answer", attempts=3, requested_at=now - timedelta(minutes=11)))
            db.session.commit()
        server = start_server(app, RADIUS_HOUSEKEEPING="0.3")
        try:
            deadline = time.monotonic() + 10
            while len(nas.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)  # housekeeping ran three more times meanwhile: nobody is asked twice
        finally:
            stop_server(server)
    finally:
        nas.close()
    assert sorted(request["User-Name"] for request in nas.received) == ["petar", "stoyan"]
    with app.app_context():
        reasons = db.session.scalars(select(RadiusDisconnect.reason).where(RadiusDisconnect.result == "ack")).all()
        assert reasons == ["Все още в мрежата, а не бива"] * 2


def test_a_subscriptions_sessions_page_lists_its_history_only(app, admin):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas)
    finally:
        nas.close()
    with app.app_context():
        record = db.session.scalar(select(RadiusSession))
        started = record.started_at - timedelta(days=2)
        db.session.add(RadiusSession(nas_id=record.nas_id, acct_session_id="81a00000", username="petar",
                                     subscription_id=subscription_id, started_at=started,
                                     updated_at=started + timedelta(hours=26, minutes=3),
                                     stopped_at=started + timedelta(hours=26, minutes=3), stop_cause="User-Request",
                                     session_time=26 * 3600 + 180, output_bytes=2_400_000_000))
        other = make_subscription(make_client(None, "Друг абонат"), record.subscription.service, username="drug")
        db.session.add(RadiusSession(nas_id=record.nas_id, acct_session_id="99", username="drug",
                                     subscription_id=other.id, started_at=started, updated_at=started))
        client_id = record.subscription.client_id
        db.session.commit()
    card = admin.get(f"/clients/show/{client_id}").text
    link = f"/sessions/list/?_flt_0_subscription_id={subscription_id}"
    assert link in card
    page = visible_text(admin.get(link).text)
    assert "81a00000" not in page  # the list shows what the office reads, not the NAS's ids
    assert page.count("petar") >= 2 and "drug" not in page
    assert "1 д. 02:03:00" in page and "User-Request" in page and "2,40 GB / 0 B" in page


def test_the_online_page_filters_by_service_and_dealer(app, admin):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas)
    finally:
        nas.close()
    with app.app_context():
        record = db.session.scalar(select(RadiusSession))
        other_service = make_service("Интернет Друг", username_type="radius")
        dealer = make_dealer("Алфа")
        other = make_subscription(make_client(dealer, "Друг абонат"), other_service, username="drug")
        now = utcnow()
        db.session.add(RadiusSession(nas_id=record.nas_id, acct_session_id="99", username="drug",
                                     subscription_id=other.id, started_at=now, updated_at=now))
        service_id = db.session.get(Subscription, subscription_id).service_id
        dealer_id = dealer.id
        db.session.commit()
    everyone = visible_text(admin.get("/online/list/").text)
    assert "petar" in everyone and "drug" in everyone
    filtered = visible_text(admin.get(f"/online/list/?_flt_0_service={service_id}").text)
    assert "petar" in filtered and "drug" not in filtered
    of_dealer = visible_text(admin.get(f"/online/list/?_flt_0_dealer={dealer_id}").text)
    assert "drug" in of_dealer and "petar" not in of_dealer


def test_the_office_binds_a_subscription_to_a_mac_and_a_wrong_one_is_refused(app, admin):
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        subscription_id = online_subscriber(app, nas)
    finally:
        nas.close()
    url = f"/subscriptions/edit/{subscription_id}"
    page = admin.submit(url, {"username": "petar", "mac_address": "AA:BB:CC:DD:EE"})
    assert page.status_code == 200
    assert "12 шестнадесетични цифри" in visible_text(page.text)
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).mac_address is None
    assert admin.submit(url, {"username": "petar", "mac_address": "aabb.ccdd.eeff"}).status_code == 302
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).mac_address == "AA:BB:CC:DD:EE:FF"
    assert "AA:BB:CC:DD:EE:FF" in visible_text(admin.get(f"/subscriptions/show/{subscription_id}").text)
