"""The walled garden end to end, as an ISP runs it: a real `flask radius serve` process, a NAS (the test: its
RADIUS client and its CoA port), the portal and ePay.bg's notification (the test's HTTP client), and the jobs —
in the embedded default (SQLite, no Redis: the panel's own background thread) and on PostgreSQL with Redis and a
real `worker.py` process.

A suspended subscriber logs in and lands in the garden pool; the NAS reports the garden address; the portal from
that address shows what is due and starts the payment; ePay.bg's notification (its CHECKSUM computed here from the
secret word) records it, the subscription is active again and the NAS gets the Disconnect-Request; the router
dials again and gets its own address. The time from the notification to the Disconnect-Request is measured
(goal: under 5 s) and printed.
"""
import base64
import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import date

import pytest
from pyrad import packet as radius_packet

from app import create_app
from app.billing.periods import add_months, month_end
from app.clients.models import Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.networks.services import allocate
from app.radius.models import Nas
from tests.conftest import REDIS_URL, Browser, app_config, migrate_and_prepare, visible_text
from tests.core.test_jobs import ROOT, redis_or_skip
from tests.core.test_migrations import fresh_postgres_database
from tests.epay.test_web_merchant import SECRET as EPAY_SECRET, configure
from tests.factories import make_client, make_network, make_service, make_subscription
from tests.portal.test_pay import hidden_fields
from tests.radius.test_disconnect import SECRET as NAS_SECRET, NasListener
from tests.radius.test_radius import access, client, start_server, stop_server

GARDEN_ADDRESS = "10.99.0.23"  # what the NAS gave from its pool "garden"
OWN_ADDRESS = "10.30.0.1"  # the subscription's own, from the office's network
GOAL_SECONDS = 5.0


class TimedList(list):
    """The listener's requests, each stamped with the moment it arrived."""

    def append(self, item):
        item["arrived"] = time.monotonic()
        super().append(item)


def accounting(server, status, session_id, username, framed_ip):
    """An Accounting-Request from the NAS (127.0.0.1) about this session."""
    radius_client = client(server, NAS_SECRET)
    request = radius_client.CreateAcctPacket(User_Name=username)
    request["Acct-Status-Type"] = status
    request["Acct-Session-Id"] = session_id
    request["Framed-IP-Address"] = framed_ip
    if status == "Stop":
        request["Acct-Terminate-Cause"] = "Admin-Reset"
    reply = radius_client.SendPacket(request)
    assert reply.code == radius_packet.AccountingResponse


def suspended_subscriber(listener):
    """The NAS (with its garden pool and CoA port), ePay.bg's merchant settings, and a RADIUS subscriber owing a
    month of 10,00 EUR, suspended, with an address of its own."""
    db.session.add(Nas(name="MikroTik градина", ip_address="127.0.0.1", secret=NAS_SECRET.decode(),
                       vendor="mikrotik", coa_port=listener.port, walled_garden_pool="garden"))
    configure()
    make_network("10.30.0.0/29", "Клиенти")
    subscription = make_subscription(
        make_client(None, "Димитър Колев"), make_service("Интернет 100", username_type="radius", monthly_fee="10.00"),
        status="suspended", activation_date=date(2026, 1, 1), paid_until=month_end(add_months(local_today(), -1)),
        username="dimitar", password="parola-123")
    db.session.commit()
    allocate(1, subscription_id=subscription.id)
    db.session.commit()
    return subscription.id


def signed_notification(invoice):
    """ePay.bg's notification of the payment, signed as ePay.bg signs it (HMAC-SHA1 of the base64 text)."""
    encoded = base64.b64encode(f"INVOICE={invoice}:STATUS=PAID:PAY_TIME=20261207101500:STAN=654321:BCODE=GARDEN"
                               .encode()).decode()
    return {"ENCODED": encoded, "CHECKSUM": hmac.new(EPAY_SECRET.encode(), encoded.encode(), hashlib.sha1).hexdigest()}


@pytest.fixture(params=["embedded", "postgresql+redis"])
def deployment(request, tmp_path):
    """The web application (the test's), and for PostgreSQL a running `worker.py` on its own Redis queue."""
    if request.param == "embedded":
        app = create_app(app_config(f"sqlite:///{tmp_path / 'garden.db'}"))
        migrate_and_prepare(app)
        yield request.param, app
        return
    redis_or_skip()
    url = fresh_postgres_database("billing_garden_end_to_end")
    queue = f"billing-garden-{uuid.uuid4().hex[:8]}"
    app = create_app(app_config(url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue))
    migrate_and_prepare(app)
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue, PYTHONUNBUFFERED="1",
               SECRET_KEY="test-secret-key-for-the-test-suite-only", CYCLE_SCHEDULE="0")
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        # Ready once it listens on its queue (RQ logs it): the measured time is the jobs', not the start's.
        for line in worker.stdout:
            if "Listening on" in line or "*** Listening" in line:
                break
        else:
            pytest.fail(f"worker.py did not start (exit {worker.wait()})")
        # Its log read on, so that a full pipe never stops it mid-job.
        threading.Thread(target=worker.stdout.read, daemon=True).start()
        yield request.param, app
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.once
def test_a_suspended_subscriber_pays_from_the_walled_garden_and_is_back_with_their_own_address(deployment):
    mode, app = deployment
    listener = NasListener(radius_packet.DisconnectACK)
    listener.received = TimedList()
    server = start_server(app)
    try:
        with app.app_context():
            subscription_id = suspended_subscriber(listener)

        # 1. The suspended subscriber's router logs in: accepted into the garden pool, not rejected.
        reply = access(server, "dimitar", "parola-123", secret=NAS_SECRET)
        assert reply.code == radius_packet.AccessAccept
        assert reply["Framed-Pool"] == ["garden"] and reply["Mikrotik-Address-List"] == ["garden"]
        assert "Framed-IP-Address" not in reply
        accounting(server, "Start", "garden-1", "dimitar", GARDEN_ADDRESS)

        # 2. The portal from the garden address: the amount and "Плати", without a login.
        subscriber = Browser(app, remote_addr=GARDEN_ADDRESS)
        text = visible_text(subscriber.get("/my/").text)
        assert "Абонат Д. К." in text and "Дължите 10,00 EUR" in text and "Димитър" not in text
        redirect = subscriber.submit("/my/garden/pay", {"page": "credit_paydirect"}, form_url="/my/")
        assert redirect.status_code == 200, redirect.text
        fields = hidden_fields(redirect.text)
        assert fields["CHECKSUM"] == hmac.new(EPAY_SECRET.encode(), fields["ENCODED"].encode(),
                                              hashlib.sha1).hexdigest()
        lines = dict(line.split("=", 1) for line in base64.b64decode(fields["ENCODED"]).decode().splitlines())
        assert lines["AMOUNT"] == "10.00"

        # 3. ePay.bg's notification: recorded, and the NAS gets the Disconnect-Request of the garden session.
        epay = app.test_client()
        epay.environ_base["REMOTE_ADDR"] = "192.0.2.200"
        notified = time.monotonic()
        answer = epay.post("/epay/notify", data=signed_notification(lines["INVOICE"]))
        assert answer.text == f"INVOICE={lines['INVOICE']}:STATUS=OK\n"
        while not listener.received and time.monotonic() - notified < 30:
            time.sleep(0.005)
        assert [(request["code"], request["User-Name"], request["Acct-Session-Id"])
                for request in listener.received] == [(radius_packet.DisconnectRequest, "dimitar", "garden-1")]
        elapsed = listener.received[0]["arrived"] - notified
        print(f"\n[{mode}] ePay.bg notification → Disconnect-Request: {elapsed * 1000:.0f} ms")
        assert elapsed < GOAL_SECONDS
        with app.app_context():
            assert db.session.get(Subscription, subscription_id).status == "active"

        # 4. The NAS ends the session; the router dials again and gets its own address, not the garden.
        accounting(server, "Stop", "garden-1", "dimitar", GARDEN_ADDRESS)
        reply = access(server, "dimitar", "parola-123", secret=NAS_SECRET)
        assert reply.code == radius_packet.AccessAccept
        assert reply["Framed-IP-Address"] == [OWN_ADDRESS] and "Framed-Pool" not in reply
        accounting(server, "Start", "own-1", "dimitar", OWN_ADDRESS)
        # From its own address the portal asks for a login like anywhere else.
        assert Browser(app, remote_addr=OWN_ADDRESS).get("/my/").status_code == 302
    finally:
        stop_server(server)
        listener.close()
