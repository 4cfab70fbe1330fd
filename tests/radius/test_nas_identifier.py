"""Several NAS behind one address, told apart by NAS-Identifier, each with its own secret, make and interim
interval: a real `flask radius serve` process asked as each of them, on the lean decoder's path and pyrad's."""
import time
from datetime import timedelta

from pyrad import packet as radius_packet
from pyrad.client import Timeout
from sqlalchemy import select

from app.clients.models import Subscription
from app.core.formatting import utcnow
from app.extensions import db
from app.radius.accounting import close_stale_sessions
from app.radius.models import Nas, RadiusSession
import pytest

from tests.radius.test_radius import client, start_server, stop_server, subscriber

FIRST, SECOND, ADDRESS_NAS = b"bras-one-secret", b"bras-two-secret", b"address-secret"


def add_nas(name, secret, identifier=None, vendor="mikrotik", interim=None):
    db.session.add(Nas(name=name, ip_address="127.0.0.1", secret=secret.decode(), vendor=vendor,
                       nas_identifier=identifier, interim_interval=interim, require_message_authenticator=True))
    db.session.commit()


def login(server, secret, identifier=None, pyrad_path=False):
    """An Access-Request signed with `secret`, naming `identifier`; `pyrad_path`: with an attribute the lean
    decoder leaves to pyrad (a Framed-IP-Address hint), so that pyrad's decoder reads it."""
    radius_client = client(server, secret)
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name="ivan")
    if identifier is not None:
        request["NAS-Identifier"] = identifier
    if pyrad_path:
        request["Framed-IP-Address"] = "10.9.9.9"
    request["User-Password"] = request.PwCrypt("parola-123")
    request.add_message_authenticator()
    return radius_client.SendPacket(request)


def account(server, secret, identifier, session_id):
    radius_client = client(server, secret)
    request = radius_client.CreateAcctPacket(User_Name="ivan")
    request["Acct-Status-Type"] = "Start"
    request["Acct-Session-Id"] = session_id
    request["NAS-Identifier"] = identifier
    return radius_client.SendPacket(request)


def test_nas_behind_one_address_are_told_apart_by_their_identifier(app):
    with app.app_context():
        add_nas("BRAS 1", FIRST, "bras-1", interim=120)
        add_nas("BRAS 2", SECOND, "bras-2", vendor="cisco")
        subscription = db.session.get(Subscription, subscriber())
        subscription.simultaneous_use = 0  # the session opened below does not stand in the way of the logins
        db.session.commit()
    server = start_server(app)
    try:
        for pyrad_path in (False, True):
            reply = login(server, FIRST, "bras-1", pyrad_path)
            assert reply.code == radius_packet.AccessAccept
            # The NAS's own interval, and its make's speed attribute.
            assert reply["Acct-Interim-Interval"] == [120] and reply["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
            reply = login(server, SECOND, "bras-2", pyrad_path)
            assert reply.code == radius_packet.AccessAccept
            assert reply["Acct-Interim-Interval"] == [300] and "Mikrotik-Rate-Limit" not in reply
            assert any("rate-limit" in pair for pair in reply["Cisco-AVPair"])
        assert account(server, SECOND, "bras-2", "s-2").code == radius_packet.AccountingResponse
        # An identifier no NAS of the address has, or none, while every NAS of it has one: dropped, unanswered.
        with pytest.raises(Timeout):
            login(server, FIRST, "bras-9")
        with app.app_context():
            add_nas("Адресът", ADDRESS_NAS)  # the address's NAS, with no identifier
            session = db.session.scalar(select(RadiusSession).where(RadiusSession.acct_session_id == "s-2"))
            assert session.nas.name == "BRAS 2"
        time.sleep(1.2)  # RADIUS_NAS_REFRESH=1
        # Now what names no NAS of the address (or nothing) is the address's NAS's: its secret, its interval.
        for identifier in ("bras-9", None):
            for pyrad_path in (False, True):
                reply = login(server, ADDRESS_NAS, identifier, pyrad_path)
                assert reply.code == radius_packet.AccessAccept and reply["Acct-Interim-Interval"] == [300]
        # A NAS with an identifier is still its own: the address's secret does not answer for it.
        with pytest.raises(Timeout):
            login(server, ADDRESS_NAS, "bras-1")
    finally:
        stop_server(server)


def test_a_session_is_silent_after_twice_its_own_nas_interval(app):
    """Housekeeping closes a session silent for 2 × its NAS's interval plus the margin (60 s here), the NAS's own
    where it has one, else the server's (300 s)."""
    with app.app_context():
        add_nas("Бърз", FIRST, "fast", interim=60)
        add_nas("Обикновен", SECOND, "usual")
        fast, usual = (db.session.scalar(select(Nas.id).where(Nas.nas_identifier == name)) for name in ("fast", "usual"))
        now = utcnow()
        for nas_id, session_id, minutes in ((fast, "fast-4", 4), (fast, "fast-2", 2), (usual, "usual-4", 4),
                                            (usual, "usual-12", 12)):
            at = now - timedelta(minutes=minutes)
            db.session.add(RadiusSession(nas_id=nas_id, acct_session_id=session_id, username="ivan",
                                         started_at=at - timedelta(hours=1), updated_at=at))
        db.session.commit()
        assert close_stale_sessions(now, 300, 60) == 2
        open_ones = set(db.session.scalars(select(RadiusSession.acct_session_id)
                                           .where(RadiusSession.stopped_at.is_(None))))
        assert open_ones == {"fast-2", "usual-4"}
