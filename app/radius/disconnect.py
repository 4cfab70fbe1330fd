"""Disconnect-Request (RFC 5176) to the NAS of each open session of subscriptions that may no longer be online.

Sent when a subscription is suspended or terminated (from
subscription_status_changed, app.radius.handlers), after the change is
committed, as one job for all the subscriptions a unit of work changed (the
billing cycle suspends thousands at once). Each request is sent again when
unanswered, after TIMEOUTS (0.5, 1 and 2 s: a NAS that is down costs the
job 3.5 s, not one timeout per session). Every outcome — Disconnect-ACK,
Disconnect-NAK with its Error-Cause, or no answer — is a RadiusDisconnect
row the client's card shows. The session itself ends with the Stop the
NAS sends — or at once when the NAS answers that it has no such session.
"""
import logging
import select
import socket
import time

from pyrad import packet as radius_packet
from sqlalchemy import select as sql_select

from app.core.formatting import utcnow
from app.extensions import db
from app.radius.models import ACK, NAK, NO_ANSWER, Nas, RadiusDisconnect, RadiusSession
from app.radius.server import load_dictionary

log = logging.getLogger(__name__)
TIMEOUTS = (0.5, 1.0, 2.0)
IDS = 256  # a packet id is one octet: at most this many requests in flight on one socket
SESSION_NOT_FOUND = 503  # Error-Cause: Session-Context-Not-Found


def disconnect(subscription_ids, reason):
    """Asks the NASes to end the open sessions of these subscriptions; returns the RadiusDisconnect rows added."""
    rows = db.session.execute(
        sql_select(RadiusSession, Nas).join(Nas, Nas.id == RadiusSession.nas_id)
        .where(RadiusSession.subscription_id.in_(subscription_ids), RadiusSession.stopped_at.is_(None))
        .order_by(RadiusSession.id)
    ).all()
    dictionary = load_dictionary()
    outcomes = []
    for start in range(0, len(rows), IDS):
        part = rows[start:start + IDS]
        requests = [_request(number, session, nas, dictionary) for number, (session, nas) in enumerate(part)]
        answers = exchange([(request, (nas.ip_address, nas.coa_port)) for request, (_s, nas) in zip(requests, part)])
        for (session, nas), request, answer in zip(part, requests, answers):
            result, cause = _outcome(answer)
            outcome = RadiusDisconnect(subscription_id=session.subscription_id, session_id=session.id, nas_id=nas.id,
                                       acct_session_id=session.acct_session_id, username=session.username,
                                       reason=reason[:100], result=result, error_cause=cause,
                                       attempts=request.attempts, answered_at=utcnow() if answer else None)
            db.session.add(outcome)
            outcomes.append(outcome)
            if result == NAK and cause == SESSION_NOT_FOUND and session.stopped_at is None:
                # The NAS has no such session: it ended without a Stop reaching us. Not online any more.
                session.stopped_at, session.stop_cause = utcnow(), "Session-Context-Not-Found"
    db.session.flush()
    return outcomes


def _request(number, session, nas, dictionary):
    request = radius_packet.CoAPacket(code=radius_packet.DisconnectRequest, id=number, secret=nas.secret.encode(),
                                      dict=dictionary)
    request["User-Name"] = session.username
    request["Acct-Session-Id"] = session.acct_session_id
    if session.framed_ip:
        request["Framed-IP-Address"] = session.framed_ip
    request["Event-Timestamp"] = int(time.time())
    request.add_message_authenticator()
    request.attempts = 0
    return request


def _outcome(answer):
    if answer is None:
        return NO_ANSWER, None
    if answer.code == radius_packet.DisconnectACK:
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
        answered = reply.code in (radius_packet.DisconnectACK, radius_packet.DisconnectNAK)
        if answered and request.VerifyReply(reply, data):
            answers[index] = reply
