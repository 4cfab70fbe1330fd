"""The RADIUS server as a NAS sees it: a real `flask radius serve` process, asked by pyrad and by radclient."""
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyrad import packet as radius_packet
from pyrad.client import Client, Timeout
from sqlalchemy import select

from app.audit.models import LogEntry
from app.billing.models import DailyTraffic, SubscriptionFreeze
from app.clients.models import Subscription
from app.core.formatting import local_today, utcnow
from app.extensions import db
from app.radius.models import Nas, RadiusSession
from app.radius import load_dictionary
from app.catalog.models import ServiceParameter
from app.networks.services import allocate
from tests.factories import make_client, make_network, make_service, make_subscription

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"nas-secret-123"
GIB = 2 ** 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app, processes=1, **settings):
    """A `flask radius serve` process (or `processes` sharing the ports) on free ports, on the test database."""
    auth_port, acct_port = free_port(), free_port()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="radius-tests",
               RADIUS_NAS_REFRESH="1", PYTHONUNBUFFERED="1", CYCLE_SCHEDULE="0", **settings)
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "radius", "serve", "--host", "127.0.0.1",
         "--auth-port", str(auth_port), "--acct-port", str(acct_port), "--processes", str(processes)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert "RADIUS on 127.0.0.1" in line, process.stderr.read()
    # On PostgreSQL the logins are answered from memory (app.radius.auth.AuthCache); SQLite reads per batch.
    if processes == 1 and settings.get("RADIUS_AUTH_CACHE") != "0":
        assert ("logins in memory" in line) == app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"), line
    return type("Server", (), {"auth_port": auth_port, "acct_port": acct_port, "process": process})


def stop_server(server):
    server.process.terminate()
    server.process.wait(timeout=10)


@pytest.fixture
def radius(app):
    """A server process, stopped with SIGTERM after the test."""
    server = start_server(app)
    yield server
    stop_server(server)


def nas(vendor="mikrotik", require_ma=True, secret=SECRET, **values):
    record = Nas(name=f"NAS {vendor}", ip_address="127.0.0.1", secret=secret.decode(), vendor=vendor,
                 require_message_authenticator=require_ma, **values)
    db.session.add(record)
    db.session.commit()
    return record


def subscriber(username="ivan", password="parola-123", status="active", download=20000, upload=5000):
    service = make_service(f"Интернет RADIUS {username}", username_type="radius")
    service.download_kbps, service.upload_kbps = download, upload
    db.session.commit()
    subscription = make_subscription(make_client(None, f"Абонат {username}"), service, status=status,
                                     activation_date=date(2026, 1, 1), paid_until=date(2027, 12, 31),
                                     username=username, password=password)
    return subscription.id


def client(server, secret=SECRET, retries=1):
    radius_client = Client(server="127.0.0.1", authport=server.auth_port, acctport=server.acct_port,
                           secret=secret, dict=load_dictionary())
    # Every packet is answered within milliseconds; 4 s is for a machine running two test suites beside the
    # server (a login once took over 2 s there). Tests expecting no answer wait this long once.
    radius_client.timeout, radius_client.retries = 4, retries
    return radius_client


def access(server, username, password, chap=False, secret=SECRET, mac=None, retries=1):
    radius_client = client(server, secret, retries)
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=username)
    if mac:
        request["Calling-Station-Id"] = mac
    request.add_message_authenticator()
    if chap:
        challenge = os.urandom(16)
        chap_id = b"\x07"
        request["CHAP-Challenge"] = challenge
        request["CHAP-Password"] = chap_id + hashlib.md5(chap_id + password.encode() + challenge).digest()
    else:
        request["User-Password"] = request.PwCrypt(password)
    return radius_client.SendPacket(request)


def test_an_active_subscriber_logs_in_with_pap_and_chap_and_gets_address_and_speed(app, radius):
    with app.app_context():
        nas(vendor="mikrotik")
        subscription_id = subscriber()
        make_network("10.20.0.0/29", "Клиенти RADIUS")
        allocate(2, subscription_id=subscription_id)
        service = db.session.get(Subscription, subscription_id).service
        db.session.add(ServiceParameter(service=service, name="Session-Timeout", value="86400"))
        db.session.add(ServiceParameter(service=service, name="Бележка", value="не е атрибут"))
        db.session.commit()
    for chap in (False, True):
        reply = access(radius, "ivan", "parola-123", chap=chap)
        assert reply.code == radius_packet.AccessAccept
        assert reply["Framed-IP-Address"] == ["10.20.0.1"]
        assert reply["Framed-Route"] == ["10.20.0.2/32 0.0.0.0 1"]
        assert reply["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
        assert reply["Acct-Interim-Interval"] == [300]
        assert reply["Session-Timeout"] == [86400]
    assert access(radius, "ivan", "wrong-password").code == radius_packet.AccessReject
    assert access(radius, "nobody", "parola-123").code == radius_packet.AccessReject


def test_suspended_and_frozen_subscribers_are_rejected(app, radius):
    with app.app_context():
        nas()
        subscriber("suspended", status="suspended")
        frozen_id = subscriber("frozen")
        today = local_today()
        db.session.add(SubscriptionFreeze(subscription_id=frozen_id, client_id=db.session.get(
            Subscription, frozen_id).client_id, starts_on=today, ends_on=today, last_day=today, reason="море"))
        db.session.commit()
    assert access(radius, "suspended", "parola-123").code == radius_packet.AccessReject
    assert access(radius, "frozen", "parola-123").code == radius_packet.AccessReject


def test_a_subscription_bound_to_a_mac_logs_in_only_from_that_device(app, radius):
    with app.app_context():
        nas()
        subscription = db.session.get(Subscription, subscriber())
        subscription.mac_address = "AA:BB:CC:00:11:22"
        db.session.commit()
    # MikroTik writes AA:BB:CC:00:11:22, Cisco aabb.cc00.1122: the same device.
    for written in ("AA:BB:CC:00:11:22", "aabb.cc00.1122", "aa-bb-cc-00-11-22"):
        assert access(radius, "ivan", "parola-123", mac=written).code == radius_packet.AccessAccept, written
    assert access(radius, "ivan", "parola-123", mac="AA:BB:CC:00:11:23").code == radius_packet.AccessReject
    assert access(radius, "ivan", "parola-123").code == radius_packet.AccessReject


def test_a_suspended_subscriber_is_let_into_the_walled_garden_where_the_nas_has_one(app, radius):
    with app.app_context():
        nas(walled_garden_pool="debtors")
        subscriber("suspended", status="suspended")
        frozen_id = subscriber("frozen", status="suspended")
        today = local_today()
        db.session.add(SubscriptionFreeze(subscription_id=frozen_id, client_id=db.session.get(
            Subscription, frozen_id).client_id, starts_on=today, ends_on=today, last_day=today, reason="море"))
        subscriber("terminated", status="terminated")
        db.session.commit()
    reply = access(radius, "suspended", "parola-123", chap=True)
    assert reply.code == radius_packet.AccessAccept
    assert reply["Framed-Pool"] == ["debtors"]
    # A MikroTik also lists the address under the pool's name, which its walled-garden firewall rules match.
    assert reply["Mikrotik-Address-List"] == ["debtors"]
    assert "Framed-IP-Address" not in reply and "Mikrotik-Rate-Limit" not in reply
    assert reply["Reply-Message"] == ["Достъпът Ви е ограничен поради неплатена такса. Платете в офиса или при "
                                      "инкасатор и достъпът се възстановява веднага."]
    # The office's own text, longer than one attribute holds (253 octets): in pieces, whole letters each.
    own = "Уважаеми абонати, " + "плащане в офиса на ул. „Васил Левски“ 12, тел. 0888 123 456; " * 4
    with app.app_context():
        db.session.scalar(select(Nas)).walled_garden_message = own
        db.session.commit()
    time.sleep(1.2)  # the server reloads its NAS list each second here (RADIUS_NAS_REFRESH)
    pieces = access(radius, "suspended", "parola-123")["Reply-Message"]
    assert len(pieces) == 2 and "".join(pieces) == own
    assert access(radius, "suspended", "wrong").code == radius_packet.AccessReject
    assert access(radius, "frozen", "parola-123").code == radius_packet.AccessReject
    assert access(radius, "terminated", "parola-123").code == radius_packet.AccessReject


def test_radclient_gets_the_same_answers(app, radius, tmp_path):
    if shutil.which("radclient") is None:
        pytest.fail("radclient (Debian freeradius-utils) is needed") if os.environ.get("CI") else pytest.skip(
            "no radclient")
    with app.app_context():
        nas(vendor="cisco")
        subscriber()

    def radclient(attributes):
        result = subprocess.run(
            ["radclient", "-x", "-r", "1", "-t", "2", f"127.0.0.1:{radius.auth_port}", "auth", SECRET.decode()],
            input=attributes, capture_output=True, text=True, timeout=20)
        return result.stdout + result.stderr

    accepted = radclient('User-Name = "ivan", User-Password = "parola-123", Message-Authenticator = 0x00\n')
    assert "Access-Accept" in accepted
    assert "rate-limit output 20000000" in accepted and "rate-limit input 5000000" in accepted
    rejected = radclient('User-Name = "ivan", User-Password = "wrong", Message-Authenticator = 0x00\n')
    assert "Access-Reject" in rejected
    chap = radclient('User-Name = "ivan", CHAP-Password = "parola-123", Message-Authenticator = 0x00\n')
    assert "Access-Accept" in chap


def accounting(server, status, session_id="s-1", username="ivan", input_bytes=0, output_bytes=0,
               cause=None, radius_client=None):
    radius_client = radius_client or client(server)
    request = radius_client.CreateAcctPacket(User_Name=username)
    request["Acct-Status-Type"] = status
    if session_id:
        request["Acct-Session-Id"] = session_id
        request["Acct-Input-Octets"] = input_bytes % 2 ** 32
        request["Acct-Input-Gigawords"] = input_bytes // 2 ** 32
        request["Acct-Output-Octets"] = output_bytes % 2 ** 32
        request["Acct-Output-Gigawords"] = output_bytes // 2 ** 32
        request["Framed-IP-Address"] = "10.0.0.5"
    if cause:
        request["Acct-Terminate-Cause"] = cause
    return radius_client.SendPacket(request)


def test_accounting_over_4_gib_with_duplicates_and_out_of_order_counts_exactly(app, radius):
    with app.app_context():
        nas()
        subscription_id = subscriber()
    sent = [("Interim-Update", 3 * GIB, 1 * GIB), ("Start", 0, 0), ("Interim-Update", 5 * GIB + 7, 2 * GIB + 3),
            ("Interim-Update", 5 * GIB + 7, 2 * GIB + 3), ("Interim-Update", 3 * GIB, 1 * GIB),
            ("Stop", 6 * GIB + 11, 2 * GIB + 5), ("Stop", 6 * GIB + 11, 2 * GIB + 5)]
    for status, input_bytes, output_bytes in sent:
        reply = accounting(radius, status, input_bytes=input_bytes, output_bytes=output_bytes, cause="User-Request")
        assert reply.code == radius_packet.AccountingResponse
    with app.app_context():
        session = db.session.scalar(select(RadiusSession))
        assert (session.input_bytes, session.output_bytes) == (6 * GIB + 11, 2 * GIB + 5)
        assert session.stopped_at is not None and session.stop_cause == "User-Request"
        assert session.subscription_id == subscription_id and session.framed_ip == "10.0.0.5"
        traffic = db.session.scalar(select(DailyTraffic))
        assert (traffic.bytes_in, traffic.bytes_out) == (6 * GIB + 11, 2 * GIB + 5)


def test_accounting_on_from_a_rebooted_nas_closes_its_sessions(app, radius):
    with app.app_context():
        nas()
        subscriber()
    for session_id in ("a", "b"):
        accounting(radius, "Start", session_id=session_id)
    assert accounting(radius, "Accounting-On", session_id=None).code == radius_packet.AccountingResponse
    with app.app_context():
        sessions = db.session.scalars(select(RadiusSession).order_by(RadiusSession.acct_session_id)).all()
        assert [(s.acct_session_id, s.stop_cause) for s in sessions] == [("a", "NAS-Reboot"), ("b", "NAS-Reboot")]


def test_garbage_and_wrong_secrets_are_dropped_never_crash_and_are_counted(app, radius):
    with app.app_context():
        nas()
        subscriber()
    rng = random.Random(2026)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(600):
            port = radius.auth_port if number % 2 else radius.acct_port
            size = rng.choice((0, 1, 19, 20, 21, 38, 100, 4096))
            data = bytes(rng.getrandbits(8) for _ in range(size))
            if size >= 20 and number % 3 == 0:
                data = bytes([1 + number % 5, number % 256]) + len(data).to_bytes(2, "big") + data[4:]
            sock.sendto(data, ("127.0.0.1", port))
    # A wrong secret: the Message-Authenticator does not verify, so no answer at all.
    with pytest.raises(Timeout):
        access(radius, "ivan", "parola-123", secret=b"wrong-secret-1")
    with pytest.raises(Timeout):
        accounting(radius, "Start", radius_client=client(radius, b"wrong-secret-1"))
    # Still answering, right after.
    assert access(radius, "ivan", "parola-123").code == radius_packet.AccessAccept
    assert radius.process.poll() is None
    radius.process.terminate()
    radius.process.wait(timeout=10)
    with app.app_context():
        notes = db.session.scalars(select(LogEntry.note).where(LogEntry.operation == "radius_dropped")).all()
        assert any("Message-Authenticator" in note for note in notes), notes
        assert len(notes) <= 25  # bounded: one entry per reason and source, not one per packet


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_stays_flat_over_10000_bad_packets(app, radius):
    with app.app_context():
        nas()
        subscriber()
    rng = random.Random(7)

    def flood(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for number in range(count):
                data = bytes([1, number % 256]) + (20 + number % 200).to_bytes(2, "big") + rng.randbytes(
                    16 + number % 200)
                sock.sendto(data, ("127.0.0.1", radius.auth_port if number % 2 else radius.acct_port))
                if number % 200 == 0:
                    time.sleep(0.01)  # a flood the server keeps up with: each packet is read, not lost
        assert access(radius, "ivan", "parola-123").code == radius_packet.AccessAccept

    flood(2000)  # warm-up: imports, caches and the allocator settle
    before = rss_kib(radius.process.pid)
    flood(10000)
    after = rss_kib(radius.process.pid)
    assert after - before < 2048, (before, after)  # under 2 MiB of growth over 10,000 packets


def test_a_killed_server_loses_no_acknowledged_accounting(app, radius):
    with app.app_context():
        nas()
        subscriber()
    acknowledged = []
    radius_client = client(radius)
    radius_client.timeout, radius_client.retries = 0.5, 1
    for number in range(60):
        if number == 40:
            radius.process.kill()  # SIGKILL: no clean shutdown
        try:
            accounting(radius, "Start", session_id=f"k-{number}", radius_client=radius_client)
        except Timeout:
            continue
        acknowledged.append(f"k-{number}")
    assert 30 <= len(acknowledged) <= 40
    with app.app_context():
        stored = set(db.session.scalars(select(RadiusSession.acct_session_id)))
    assert set(acknowledged) <= stored


def test_two_processes_share_the_ports_and_both_answer(app):
    with app.app_context():
        nas()
        # Logins while its session is open: any number of sessions at once (Simultaneous-Use is tested apart).
        db.session.get(Subscription, subscriber()).service.simultaneous_use = 0
        db.session.commit()
    server = start_server(app, processes=2)
    try:
        # Many source ports: the kernel spreads them over both processes' sockets. A child answers once it has
        # loaded its logins (after the parent's "RADIUS on" line): a request the kernel queued for it meanwhile
        # is answered then, so a slow start beside two test suites gets a second and third wait, not a failure.
        for _number in range(20):
            assert access(server, "ivan", "parola-123", retries=3).code == radius_packet.AccessAccept
            assert accounting(server, "Interim-Update", input_bytes=5, output_bytes=7,
                              radius_client=client(server, retries=3)).code == radius_packet.AccountingResponse
        children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
        assert len(children.stdout.split()) == 2
    finally:
        stop_server(server)
    assert server.process.returncode == 0


def test_silent_sessions_are_closed_and_old_ones_purged_with_a_log_entry(app):
    with app.app_context():
        record = nas()
        subscription_id = subscriber()
        now = utcnow()
        for session_id, updated, stopped in (("silent", now - timedelta(minutes=20), None),
                                             ("fresh", now - timedelta(minutes=2), None),
                                             ("old", now - timedelta(days=200), now - timedelta(days=199))):
            db.session.add(RadiusSession(nas_id=record.id, acct_session_id=session_id, username="ivan",
                                         subscription_id=subscription_id, started_at=updated - timedelta(hours=1),
                                         updated_at=updated, stopped_at=stopped))
        db.session.commit()
    server = start_server(app, RADIUS_HOUSEKEEPING="0.2")
    try:
        time.sleep(1.5)
    finally:
        stop_server(server)
    with app.app_context():
        sessions = {row.acct_session_id: row for row in db.session.scalars(select(RadiusSession))}
        assert set(sessions) == {"silent", "fresh"}
        assert sessions["silent"].stop_cause == "Stale" and sessions["silent"].stopped_at == sessions["silent"].updated_at
        assert sessions["fresh"].stopped_at is None
        note = db.session.scalar(select(LogEntry.note).where(LogEntry.operation == "job"))
        assert note.startswith("1 RADIUS сесии") and "6 месеца" in note


def test_an_accounting_batch_waits_for_more_only_while_packets_keep_coming(app, monkeypatch):
    """Group commit: a batch waits up to GROUP_WINDOW for company, but not once the NASes stopped sending (the
    socket empty for GROUP_GAP): a lone Accounting-Request is not held for the whole window."""
    import selectors

    from app.radius import server as radius_server

    monkeypatch.setattr(radius_server, "GROUP_WINDOW", 1.0)
    with app.app_context():
        nas(require_ma=False)
        subscriber()
    server = radius_server.RadiusServer(app, "127.0.0.1", 0, 0)
    ports = type("Ports", (), {"auth_port": server.auth_socket.getsockname()[1],
                               "acct_port": server.acct_socket.getsockname()[1]})
    selector = selectors.DefaultSelector()
    selector.register(server.acct_socket, selectors.EVENT_READ)
    radius_client = client(ports)
    request = radius_client.CreateAcctPacket(User_Name="ivan")
    request["Acct-Status-Type"] = "Start"
    request["Acct-Session-Id"] = "alone-1"
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(request.RequestPacket(), ("127.0.0.1", ports.acct_port))
        selector.select(timeout=2)
        started = time.monotonic()
        with app.app_context():
            server.serve_batch()
        waited = time.monotonic() - started
        sender.settimeout(2)
        reply = radius_packet.Packet(packet=sender.recv(4096), secret=SECRET, dict=load_dictionary())
    finally:
        sender.close()
        selector.close()
        server.auth_socket.close()
        server.acct_socket.close()
        if server.cache is not None:
            server.cache.close()
    assert reply.code == radius_packet.AccountingResponse
    assert waited < 0.5, waited  # not the window's whole second
    with app.app_context():
        assert db.session.query(RadiusSession).filter_by(acct_session_id="alone-1").count() == 1
