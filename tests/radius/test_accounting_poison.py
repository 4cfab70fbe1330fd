"""One bad accounting packet costs only itself: the others in its batch are stored and acknowledged, and the
bad one is in the LOG (app.radius.accounting.record)."""
import select as select_module
import socket
import time

from pyrad import packet as radius_packet
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.radius import accounting, load_dictionary
from app.radius.drops import Drops
from app.radius.models import RadiusSession
from app.radius.server import NasInfo, Request
from tests.radius.test_radius import SECRET, nas, start_server, stop_server, subscriber

POISONED = 200  # the packet of the 400 whose counter cannot be true
COUNT = 400


def packet(number, dictionary, identifier):
    """An Interim-Update of session p-<number>; some carry what once sank the batch, harmless now; the
    POISONED one an Acct-Input-Gigawords of 2³¹ (over 8 EiB: no session moves that)."""
    request = radius_packet.AcctPacket(id=identifier, secret=SECRET, dict=dictionary)
    request["User-Name"] = "ivan"
    request["Acct-Status-Type"] = "Interim-Update"
    request["Acct-Session-Id"] = f"p-{number}"
    request["Acct-Input-Octets"], request["Acct-Output-Octets"] = 1000 + number, 5000 + number
    request["Acct-Input-Gigawords"], request["Acct-Output-Gigawords"] = 0, 0
    request["Acct-Session-Time"] = 300
    request["Framed-IP-Address"] = "10.0.0.5"
    if number == 10:
        request["Acct-Session-Time"] = 2 ** 31 + 5
    elif number == 20:
        request[31] = [b"\xff\xfe" * 60]  # a long Calling-Station-Id that is not UTF-8
    elif number == 30:
        request[31] = [b"AA:BB:CC\x00\x00"]  # NUL, which PostgreSQL refuses in text
    elif number == 40:
        request[44] = [b"p-40\xff"]  # an Acct-Session-Id that is not UTF-8
    elif number == 50:
        request[8] = [b"\x0a\x00\x00"]  # a Framed-IP-Address of 3 octets
    elif number == POISONED:
        request["Acct-Input-Gigawords"] = 2 ** 31
    return request


def send_all(server, requests):
    """Sends every request at once (as a NAS flushing its queue does) and collects the verified replies
    for a few seconds; returns the numbers answered."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range((len(requests) + 199) // 200)]
    try:
        waiting = {}
        for position, (number, request) in enumerate(requests):
            sock = sockets[position // 200]
            waiting[(sock.fileno(), request.id)] = (number, request)
            sock.sendto(request.RequestPacket(), ("127.0.0.1", server.acct_port))
        answered = set()
        deadline = time.monotonic() + 4
        while waiting and time.monotonic() < deadline:
            ready, _, _ = select_module.select(sockets, [], [], 0.2)
            for sock in ready:
                data = sock.recv(4096)
                number, request = waiting.pop((sock.fileno(), data[1]))
                reply = request.CreateReply(packet=data)
                assert reply.code == radius_packet.AccountingResponse and request.VerifyReply(reply, data), number
                answered.add(number)
        return answered
    finally:
        for sock in sockets:
            sock.close()


def test_a_poisoned_packet_among_400_costs_only_itself_and_is_in_the_log(app):
    with app.app_context():
        nas()
        subscription_id = subscriber()
    dictionary = load_dictionary()
    server = start_server(app)
    try:
        batch = [(number, packet(number, dictionary, number % 200)) for number in range(COUNT)]
        answered = send_all(server, batch)
        assert answered == set(range(COUNT)) - {POISONED}
        # The NAS sends the bad packet again, among new ones: it poisons no later batch either.
        later = [(number, packet(number, dictionary, number - COUNT)) for number in range(COUNT, COUNT + 50)]
        again = send_all(server, [(POISONED, packet(POISONED, dictionary, 77)), *later])
        assert again == set(range(COUNT, COUNT + 50))
    finally:
        stop_server(server)
    errors = server.process.stderr.read()
    assert "Traceback" not in errors, errors
    with app.app_context():
        sessions = {row.acct_session_id: row for row in db.session.scalars(select(RadiusSession))}
        assert len(sessions) == COUNT + 49 and "p-200" not in sessions
        assert all(row.subscription_id == subscription_id for row in sessions.values())
        assert (sessions["p-7"].input_bytes, sessions["p-7"].output_bytes) == (1007, 5007)
        # What once sank the batch is stored, made to fit its column.
        assert sessions["p-10"].session_time == 2 ** 31 - 1
        assert sessions["p-20"].calling_station_id == "\ufffd" * 50
        assert sessions["p-30"].calling_station_id == "AA:BB:CC"
        assert "p-40\ufffd" in sessions
        assert sessions["p-50"].framed_ip is None and sessions["p-51"].framed_ip == "10.0.0.5"
        notes = db.session.scalars(select(LogEntry.note).where(
            LogEntry.operation == LogEntry.RADIUS_DROPPED)).all()
        # Both sendings of the bad packet in one entry, with its NAS, user and session and why, in Bulgarian.
        assert notes == ["2 × отчетът за трафик е отказан: брояч на байтове отвъд възможното за една сесия "
                         "(Acct-*-Gigawords) — NAS NAS mikrotik, потребител ivan, сесия p-200"], notes


def requests_of(nas_record, dictionary):
    info = NasInfo(nas_record.id, nas_record.name, SECRET, nas_record.vendor, False)
    made = []
    for number in range(COUNT):
        raw = packet(number, dictionary, number % 256).RequestPacket()
        made.append(Request(radius_packet.AcctPacket(packet=raw, secret=SECRET, dict=dictionary), info,
                            ("127.0.0.1", 40000 + number // 256)))
    return made


def test_a_packet_the_database_refuses_is_found_by_storing_one_by_one(app, monkeypatch):
    """What the checks before the batch do not foresee (here: they are made to let an impossible counter
    through) fails the batch in the database; stored again one by one, only that packet is lost."""
    monkeypatch.setattr(accounting, "BIGINT_MAX", 2 ** 64)
    with app.app_context():
        nas_record = nas()
        subscriber()
        drops = Drops()
        replies = accounting.record(requests_of(nas_record, load_dictionary()), drops)
        assert len(replies) == COUNT - 1
        assert db.session.scalar(select(db.func.count()).select_from(RadiusSession)) == COUNT - 1
        assert db.session.scalar(select(RadiusSession).where(RadiusSession.acct_session_id == "p-200")) is None
        assert drops.flush(force=True) == 1
        note = db.session.scalar(select(LogEntry.note).where(LogEntry.operation == LogEntry.RADIUS_DROPPED))
        assert note.startswith("1 × отчетът за трафик не е записан: базата данни го отказа — NAS NAS mikrotik, "
                               "потребител ivan, сесия p-200: "), note
