"""Disconnect-Request and CoA-Request (RFC 5176) to the NAS of each open session that must end or change.

- Disconnect: a subscription suspended, terminated or frozen may no longer
  be online (app.radius.handlers, from the domain events); one that pays
  while in a NAS's walled garden is disconnected too, so that its router
  dials again at once and gets its own address and speed (no NAS moves a
  live session to another address pool by CoA).
- CoA: a service's speed changed; its subscribers online get the new speed
  in their NAS's attribute without losing the session.
- `enforce`, every few minutes: a session still open that may not be (the
  NAS did not answer, a freeze began today, a change made by a script) is
  asked again, at most once per RETRY_AFTER.

Each is one job for all the subscriptions a unit of work changed (the
billing cycle suspends thousands at once), after the commit. Each request
is sent again when unanswered, after TIMEOUTS (0.5, 1 and 2 s: a NAS that
is down costs the job 3.5 s, not one timeout per session). Every outcome —
ACK, NAK with its Error-Cause, or no answer — is a RadiusDisconnect row
(kind "disconnect" or "coa") the client's card shows. A disconnected
session ends with the Stop the NAS sends — or at once when the NAS answers
that it has no such session.
"""
import logging
import select
import socket
import time
from datetime import timedelta

from flask_babel import gettext
from pyrad import packet as radius_packet
from sqlalchemy import and_, exists, text
from sqlalchemy import select as sql_select

from app.billing import usable
from app.catalog.models import Service
from app.clients.models import ACTIVE, Subscription
from app.core.formatting import local_today, utcnow
from app.extensions import db
from app.radius.auth import speed_attributes
from app.radius.models import ACK, COA, DISCONNECT, NAK, NO_ANSWER, Nas, RadiusDisconnect, RadiusSession
from app.radius import load_dictionary

log = logging.getLogger(__name__)
TIMEOUTS = (0.5, 1.0, 2.0)
IDS = 256  # a packet id is one octet: at most this many requests in flight on one socket
SESSION_NOT_FOUND = 503  # Error-Cause: Session-Context-Not-Found
RETRY_AFTER = timedelta(minutes=10)  # `enforce` asks a NAS again about a session at most this often
ENFORCE_LIMIT = 2000  # sessions per `enforce` run; the rest wait for the next
ENFORCE_LOCK = 0x72616469  # PostgreSQL advisory lock: one `enforce` at a time across processes and hosts
REQUESTS = {  # kind: (request code, ACK code, NAK code)
    DISCONNECT: (radius_packet.DisconnectRequest, radius_packet.DisconnectACK, radius_packet.DisconnectNAK),
    COA: (radius_packet.CoARequest, radius_packet.CoAACK, radius_packet.CoANAK),
}
KINDS = {codes[0]: kind for kind, codes in REQUESTS.items()}


def _open_sessions(*criteria):
    return db.session.execute(
        sql_select(RadiusSession, Nas).join(Nas, Nas.id == RadiusSession.nas_id)
        .where(RadiusSession.stopped_at.is_(None), *criteria)
        .order_by(RadiusSession.id)
    ).all()


def disconnect(subscription_ids, reason, walled_garden_only=False):
    """Asks the NASes to end the open sessions of these subscriptions; returns the RadiusDisconnect rows added.

    `walled_garden_only`: only sessions on NASes that have a walled garden (a subscription that paid).
    """
    criteria = [RadiusSession.subscription_id.in_(subscription_ids)]
    if walled_garden_only:
        criteria.append(Nas.walled_garden_pool.is_not(None))
        criteria.append(Nas.walled_garden_pool != "")
    return send(DISCONNECT, _open_sessions(*criteria), reason)


def change_speed(service_id, reason):
    """CoA-Requests giving the open sessions of the service's active subscriptions its current speed."""
    service = db.session.get(Service, service_id)
    if service is None:
        return []
    rows = _open_sessions(RadiusSession.subscription_id.in_(
        sql_select(Subscription.id).where(Subscription.service_id == service_id, Subscription.status == ACTIVE)))
    return send(COA, rows, reason, lambda session, nas: speed_attributes(
        nas.vendor, service.download_kbps, service.upload_kbps))


def sessions_to_cut(now, limit=ENFORCE_LIMIT):
    """Open sessions whose subscription may not be online, not asked about since RETRY_AFTER.

    May not be online: not usable today, nor suspended on a NAS with a walled
    garden (app.billing.usable).
    """
    today = local_today()
    walled = and_(Nas.walled_garden_pool.is_not(None), Nas.walled_garden_pool != "")
    asked = exists().where(RadiusDisconnect.session_id == RadiusSession.id, RadiusDisconnect.kind == DISCONNECT,
                           RadiusDisconnect.requested_at > now - RETRY_AFTER)
    return db.session.execute(
        sql_select(RadiusSession, Nas)
        .join(Nas, Nas.id == RadiusSession.nas_id)
        .join(Subscription, Subscription.id == RadiusSession.subscription_id)
        .where(RadiusSession.stopped_at.is_(None), ~asked,
               ~usable.may_be_online_condition(today, walled))
        .order_by(RadiusSession.id).limit(limit)
    ).all()


def enforce():
    """Disconnects the sessions still online that may not be; returns the RadiusDisconnect rows added."""
    if db.engine.dialect.name == "postgresql":
        # Two server processes ask at the same moment: the second finds the first's requests and sends none.
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ENFORCE_LOCK})
    rows = sessions_to_cut(utcnow())
    return send(DISCONNECT, rows, gettext("Still online, although it may not be")) if rows else []


def send(kind, rows, reason, attributes=None):
    """Sends a `kind` request for each (session, nas), records each outcome; returns the RadiusDisconnect rows.

    `attributes(session, nas)`: what a CoA-Request changes, [(name, value)].
    """
    dictionary = load_dictionary()
    outcomes = []
    for start in range(0, len(rows), IDS):
        part = rows[start:start + IDS]
        requests = [_request(kind, number, session, nas, dictionary, attributes(session, nas) if attributes else ())
                    for number, (session, nas) in enumerate(part)]
        answers = exchange([(request, (nas.ip_address, nas.coa_port)) for request, (_s, nas) in zip(requests, part)])
        for (session, nas), request, answer in zip(part, requests, answers):
            result, cause = _outcome(answer)
            outcome = RadiusDisconnect(subscription_id=session.subscription_id, session_id=session.id, nas_id=nas.id,
                                       acct_session_id=session.acct_session_id, username=session.username,
                                       kind=kind, reason=reason[:100], result=result, error_cause=cause,
                                       attempts=request.attempts, answered_at=utcnow() if answer else None)
            db.session.add(outcome)
            outcomes.append(outcome)
            if result == NAK and cause == SESSION_NOT_FOUND and session.stopped_at is None:
                # The NAS has no such session: it ended without a Stop reaching us. Not online any more.
                session.stopped_at, session.stop_cause = utcnow(), "Session-Context-Not-Found"
    db.session.flush()
    return outcomes


def _request(kind, number, session, nas, dictionary, attributes):
    request = radius_packet.CoAPacket(code=REQUESTS[kind][0], id=number, secret=nas.secret.encode(),
                                      dict=dictionary)
    request["User-Name"] = session.username
    if nas.nas_identifier:
        # Several NAS behind one address: the one meant (RFC 5176 section 3).
        request["NAS-Identifier"] = nas.nas_identifier
    request["Acct-Session-Id"] = session.acct_session_id
    if session.framed_ip:
        request["Framed-IP-Address"] = session.framed_ip
    for name, value in attributes:
        request.AddAttribute(name, value)
    request["Event-Timestamp"] = int(time.time())
    request.add_message_authenticator()
    request.attempts = 0
    return request


def _outcome(answer):
    if answer is None:
        return NO_ANSWER, None
    if answer.code in (radius_packet.DisconnectACK, radius_packet.CoAACK):
        return ACK, None
    causes = answer.get(101) or [None]
    cause = causes[0]
    return NAK, int.from_bytes(cause, "big") if isinstance(cause, bytes) else cause


def exchange(requests):
    """Sends each (request, destination) and waits for its verified answer, resending after each timeout.

    Returns the answers in order, None where none came.
    """
    answers = [None] * len(requests)
    raw = [request.RequestPacket() for request, _destination in requests]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for timeout in TIMEOUTS:
            waiting = [index for index, answer in enumerate(answers) if answer is None]
            if not waiting:
                break
            for index in waiting:
                request, destination = requests[index]
                request.attempts += 1
                try:
                    sock.sendto(raw[index], destination)
                except OSError as error:
                    log.warning("radius disconnect to %s: %s", destination, error)
            _collect(sock, requests, answers, time.monotonic() + timeout)
    return answers


def _collect(sock, requests, answers, deadline):
    by_id = {request.id: index for index, (request, _destination) in enumerate(requests)}
    while any(answer is None for answer in answers):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return
        try:
            data, source = sock.recvfrom(4096)
        except OSError:
            continue  # an ICMP "port unreachable" from a NAS that is down: wait for the others
        index = by_id.get(data[1]) if len(data) >= 20 else None
        if index is None or answers[index] is not None:
            continue
        request, destination = requests[index]
        if source[0] != destination[0]:
            continue
        try:
            reply = request.CreateReply(packet=data)
        except Exception:  # noqa: BLE001 — garbage from the NAS's address
            continue
        answered = reply.code in REQUESTS[KINDS[request.code]][1:]
        if answered and request.VerifyReply(reply, data):
            answers[index] = reply
