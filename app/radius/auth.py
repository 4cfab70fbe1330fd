"""Access-Request: who may log in to the network, and with which address and speed.

A batch of requests is answered with one query per table for all its
usernames (app.radius.server batches them), so the database sees a few
indexed reads per batch, not per packet.

Accepted: an active, not frozen subscription of a RADIUS-type service,
with the right password (PAP or CHAP). The Access-Accept carries
- Framed-IP-Address (the subscription's first address) and a Framed-Route
  for each further one;
- the speed in the NAS vendor's attribute: MikroTik's Mikrotik-Rate-Limit,
  Cisco's rate-limit AV pairs, else (Juniper and others) WISPr's bandwidth
  attributes;
- Acct-Interim-Interval (RADIUS_INTERIM_INTERVAL);
- every extra parameter of the service named like an attribute of the
  dictionary ("Session-Timeout" = "86400", "Framed-Pool" = "clients").
Anything else gets an Access-Reject.
"""
import ipaddress
import logging

from flask import current_app
from pyrad import packet as radius_packet
from sqlalchemy import and_, select

from app.billing.models import SubscriptionFreeze
from app.catalog.models import Service, ServiceParameter
from app.clients.models import ACTIVE, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.networks.models import IpAllocation
from app.radius.models import CISCO, MIKROTIK

log = logging.getLogger(__name__)
RADIUS_TYPE = "radius"


def answer(requests):
    """The encoded replies to a batch of Access-Requests: [(bytes, destination)]."""
    usernames = {_username(request.packet) for request in requests} - {None}
    subscriptions = load(usernames)
    replies = []
    for request in requests:
        try:
            reply = decide(request, subscriptions.get(_username(request.packet)))
            replies.append((reply.ReplyPacket(), request.source))
        except Exception:  # noqa: BLE001 — one odd packet must not cost the batch its answers
            log.exception("radius: cannot answer an Access-Request from %s", request.source[0])
    return replies


def _username(packet):
    try:
        return packet["User-Name"][0][:100]
    except (KeyError, IndexError, UnicodeDecodeError):
        return None


class AuthData:
    """What authorising one username needs, read once per batch."""

    __slots__ = ("subscription_id", "password", "active", "download_kbps", "upload_kbps", "addresses",
                 "parameters")

    def __init__(self, row):
        self.subscription_id = row.id
        self.password = row.password or ""
        self.active = row.status == ACTIVE
        self.download_kbps, self.upload_kbps = row.download_kbps, row.upload_kbps
        self.addresses, self.parameters = [], []


def load(usernames):
    """{username: AuthData} of the RADIUS-type subscriptions with these usernames (live or not)."""
    if not usernames:
        return {}
    rows = db.session.execute(
        select(Subscription.id, Subscription.username, Subscription.password, Subscription.status,
               Subscription.service_id, Service.download_kbps, Service.upload_kbps)
        .join(Service, Service.id == Subscription.service_id)
        .where(Subscription.username.in_(usernames), Service.username_type == RADIUS_TYPE)
    ).all()
    found = {row.username: AuthData(row) for row in rows}
    by_id = {data.subscription_id: data for data in found.values()}
    if by_id:
        today = local_today()
        for (subscription_id,) in db.session.execute(
                select(SubscriptionFreeze.subscription_id)
                .where(SubscriptionFreeze.subscription_id.in_(by_id), SubscriptionFreeze.covers(today))):
            by_id[subscription_id].active = False  # frozen: no login, as the billing cycle leaves it alone
        for subscription_id, address in db.session.execute(
                select(IpAllocation.subscription_id, IpAllocation.address)
                .where(IpAllocation.subscription_id.in_(by_id)).order_by(IpAllocation.address)):
            by_id[subscription_id].addresses.append(str(ipaddress.IPv4Address(address)))
        service_of = {row.id: row.service_id for row in rows}
        parameters = {}
        for service_id, name, value in db.session.execute(
                select(ServiceParameter.service_id, ServiceParameter.name, ServiceParameter.value)
                .where(and_(ServiceParameter.service_id.in_(set(service_of.values()))))
                .order_by(ServiceParameter.id)):
            parameters.setdefault(service_id, []).append((name, value))
        for subscription_id, service_id in service_of.items():
            by_id[subscription_id].parameters = parameters.get(service_id, [])
    db.session.rollback()  # a read-only transaction ends here: no snapshot held between batches
    return found


def password_matches(packet, password):
    """PAP (User-Password) or CHAP (CHAP-Password) against the subscription's password."""
    if "CHAP-Password" in packet:
        return packet.VerifyChapPasswd(password)
    try:
        typed = packet.PwDecrypt(packet["User-Password"][0])
    except (KeyError, IndexError, UnicodeDecodeError):
        return False
    return bool(password) and typed == password


def decide(request, data):
    """The reply to one Access-Request."""
    packet = request.packet
    reply = packet.CreateReply()
    if data is None or not data.active or not password_matches(packet, data.password):
        reply.code = radius_packet.AccessReject
        return reply
    reply.code = radius_packet.AccessAccept
    if data.addresses:
        reply["Framed-IP-Address"] = data.addresses[0]
        if len(data.addresses) > 1:
            reply["Framed-Route"] = [f"{address}/32 0.0.0.0 1" for address in data.addresses[1:]]
    for name, value in speed_attributes(request.nas.vendor, data.download_kbps, data.upload_kbps):
        reply.AddAttribute(name, value)
    reply["Acct-Interim-Interval"] = int(current_app.config["RADIUS_INTERIM_INTERVAL"])
    for name, value in data.parameters:
        _add_parameter(reply, name, value)
    return reply


def speed_attributes(vendor, download_kbps, upload_kbps):
    """The speed limit in the NAS vendor's attribute(s); nothing when the service sets no speed."""
    if not download_kbps and not upload_kbps:
        return []
    down, up = download_kbps or 0, upload_kbps or 0
    if vendor == MIKROTIK:
        # rx/tx as the router sees the subscriber: it receives the upload and transmits the download.
        return [("Mikrotik-Rate-Limit", f"{up}k/{down}k")]
    if vendor == CISCO:
        return [("Cisco-AVPair", f"lcp:interface-config=rate-limit input {up * 1000} 8000 8000 "
                                 "conform-action transmit exceed-action drop"),
                ("Cisco-AVPair", f"lcp:interface-config=rate-limit output {down * 1000} 8000 8000 "
                                 "conform-action transmit exceed-action drop")]
    return [("WISPr-Bandwidth-Max-Up", up * 1000), ("WISPr-Bandwidth-Max-Down", down * 1000)]


def _add_parameter(reply, name, value):
    """A service parameter named like a dictionary attribute goes into the reply; others are not RADIUS's."""
    attribute = reply.dict.attributes.get(name) if reply.dict else None
    if attribute is None:
        return
    try:
        reply.AddAttribute(name, int(value) if attribute.type == "integer" else value)
    except (ValueError, TypeError) as error:
        log.warning("radius: service parameter %s=%r cannot be sent: %s", name, value, error)
