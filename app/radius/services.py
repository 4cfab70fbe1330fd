"""The NAS list's rules, reading a NAS's shared secret (a right of its own, in the LOG), and the card's RADIUS part."""
import ipaddress

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, inspect, select, union

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.billing import usable
from app.billing.models import DailyTraffic
from app.clients.models import Subscription
from app.core.formatting import local_today, utcnow
from app.extensions import db
from app.networks.ipv6 import inside_condition, subscriptions_holding
from app.radius.accounting import silent_since
from app.radius.models import (
    ACK,
    COA,
    MAX_INTERIM,
    MIN_INTERIM,
    NAK,
    NAS_IDENTIFIER_LENGTH,
    NO_ANSWER,
    VENDORS,
    Nas,
    RadiusDisconnect,
    RadiusSession,
)
from app.security.rights import may_access

DISCONNECT_RESULTS = {ACK: _l("disconnected"), NAK: _l("refused by the NAS"), NO_ANSWER: _l("no answer")}
COA_RESULTS = {**DISCONNECT_RESULTS, ACK: _l("applied by the NAS")}

MIN_SECRET = 8


def may_read_secret(actor):
    return may_access(actor, "can_secret", "Nas")


def record_secret_read(actor, nas):
    """The NAS's page showed its secret to the actor: the LOG says who read it, and when."""
    if may_read_secret(actor):
        record_event(LogEntry.SECRET_VIEWED, user=actor, entity=nas, note=gettext("Shared secret"))


def keep_secret_unless_typed(nas):
    """An edit form leaves the secret empty (it is never sent to the browser): empty keeps the old one."""
    if not nas.secret:
        previous = inspect(nas).attrs.secret.history.deleted
        if previous:
            nas.secret = previous[0]


def nas_errors(nas):
    """{field: [message]} of a NAS that breaks the list's rules; empty when it may be stored."""
    keep_secret_unless_typed(nas)
    errors = {}
    name = (nas.name or "").strip()
    if not name:
        errors["name"] = [gettext("Give the NAS a name.")]
    try:
        nas.ip_address = str(ipaddress.ip_address((nas.ip_address or "").strip()))
    except ValueError:
        errors["ip_address"] = [gettext("Give the IP address the NAS sends its requests from, e.g. 10.0.0.1.")]
    if not nas.secret or len(nas.secret) < MIN_SECRET:
        errors["secret"] = [gettext("The shared secret needs at least %(count)d characters.", count=MIN_SECRET)]
    elif len(nas.secret) > 128 or not nas.secret.isprintable():
        errors["secret"] = [gettext("The shared secret: at most 128 printable characters.")]
    if nas.vendor not in VENDORS:
        errors["vendor"] = [gettext("Choose the NAS's make.")]
    if not isinstance(nas.coa_port, int) or not 1 <= nas.coa_port <= 65535:
        errors["coa_port"] = [gettext("A port from 1 to 65535.")]
    nas.nas_identifier = (nas.nas_identifier or "").strip() or None
    if nas.nas_identifier is not None and (len(nas.nas_identifier) > NAS_IDENTIFIER_LENGTH
                                           or not nas.nas_identifier.isprintable()):
        errors["nas_identifier"] = [gettext("The NAS-Identifier: at most %(count)d printable characters, as the "
                                            "NAS sends it.", count=NAS_IDENTIFIER_LENGTH)]
    if nas.interim_interval is not None and (
            not isinstance(nas.interim_interval, int) or not MIN_INTERIM <= nas.interim_interval <= MAX_INTERIM):
        errors["interim_interval"] = [gettext("Seconds from %(low)d to %(high)d, or empty for the default.",
                                              low=MIN_INTERIM, high=MAX_INTERIM)]
    with db.session.no_autoflush:
        same_address = (Nas.ip_address == nas.ip_address) & (
            Nas.nas_identifier.is_(None) if nas.nas_identifier is None else Nas.nas_identifier == nas.nas_identifier)
        for field, condition, message in (
                ("name", Nas.name == name, gettext("Another NAS has this name.")),
                ("ip_address", same_address,
                 gettext("Another NAS has this address and NAS-Identifier. NAS behind one address are told "
                         "apart by their NAS-Identifier: give each its own."))):
            if field in errors or (field == "name" and not name):
                continue
            other = db.session.scalar(select(Nas.id).where(condition, Nas.id != nas.id)
                                      if nas.id else select(Nas.id).where(condition))
            if other is not None:
                errors[field] = [message]
    nas.name = name
    return errors


def format_bytes(count):
    """Bytes as the office reads them: "1,46 GB", "820,3 MB", "12 KB" (decimal units, decimal comma)."""
    count = int(count or 0)
    for unit, size in (("TB", 10 ** 12), ("GB", 10 ** 9), ("MB", 10 ** 6), ("KB", 10 ** 3)):
        if count >= size:
            value = count / size
            text = f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return f"{text.replace('.', ',')} {unit}"
    return f"{count} B"


def card_radius(client, actor, subscriptions=None, **_known):
    """The client card's RADIUS part: who is online now, this month's traffic, the latest disconnects.
    `subscriptions`: the client's, when the card has read them."""
    subscriptions = [subscription for subscription in (client.subscriptions if subscriptions is None else subscriptions)
                     if subscription.service.username_type == "radius"]
    if not subscriptions:
        return {"radius_subscriptions": []}
    ids = [subscription.id for subscription in subscriptions]
    today = local_today()
    month_traffic = dict(db.session.execute(
        select(DailyTraffic.subscription_id, func.sum(DailyTraffic.bytes_in + DailyTraffic.bytes_out))
        .where(DailyTraffic.subscription_id.in_(ids), DailyTraffic.day >= today.replace(day=1))
        .group_by(DailyTraffic.subscription_id)).all())
    online = db.session.scalars(
        select(RadiusSession).where(RadiusSession.subscription_id.in_(ids), RadiusSession.stopped_at.is_(None))
        .order_by(RadiusSession.started_at.desc()).limit(20)).all()
    disconnects = db.session.scalars(
        select(RadiusDisconnect).where(RadiusDisconnect.subscription_id.in_(ids))
        .order_by(RadiusDisconnect.id.desc()).limit(5)).all()
    return {"radius_subscriptions": subscriptions, "radius_online": online, "radius_disconnects": disconnects,
            "radius_month_traffic": month_traffic, "format_bytes": format_bytes,
            "disconnect_result": lambda request: str(
                (COA_RESULTS if request.kind == COA else DISCONNECT_RESULTS).get(request.result, request.result))}


def walled_garden_subscription(address, now=None):
    """The subscription in the walled garden that holds `address` now, or None: the address's newest open session
    that still reports (the silence rule of housekeeping), on a NAS with a walled garden, of a subscription in the
    walled garden today. How the portal knows, without a login, who opens it from the garden."""
    try:
        address = str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return None
    now = now or utcnow()
    config = current_app.config
    open_here = db.session.execute(
        select(RadiusSession.subscription_id, RadiusSession.updated_at, Nas.walled_garden_pool, Nas.interim_interval)
        .join(Nas, Nas.id == RadiusSession.nas_id)
        .where(RadiusSession.framed_ip == address, RadiusSession.stopped_at.is_(None))
        .order_by(RadiusSession.started_at.desc(), RadiusSession.id.desc()).limit(5)).all()
    # Silent by the NAS's own interim interval where it has one, as housekeeping closes them.
    session = next((row for row in open_here if row.updated_at >= silent_since(
        now, row.interim_interval or config["RADIUS_INTERIM_INTERVAL"], config["RADIUS_STALE_MARGIN"])), None)
    if session is None or session.subscription_id is None or not session.walled_garden_pool:
        return None
    return db.session.scalar(select(Subscription).where(Subscription.id == session.subscription_id,
                                                        usable.walled_garden_condition(local_today())))


def sessions_holding_ipv6(address, open_only=False):
    """SQL: the ids of the sessions (`open_only`: open now) of a subscriber holding this IPv6 address — inside
    the link's /64 or the delegated prefix handed to their subscription (app.networks.ipv6), or inside what the
    NAS reported for the session (its prefixes, or its address's /64).

    Each part is its own indexed lookup joined with UNION (one OR over them would read every session)."""
    session = RadiusSession

    def where(*conditions):
        return select(session.id).where(*conditions, *([session.stopped_at.is_(None)] if open_only else []))

    return union(
        where(session.subscription_id.in_(subscriptions_holding(address))),
        where(inside_condition(session.ipv6_link_first_key, session.ipv6_link_last_key, address)),
        where(inside_condition(session.ipv6_delegated_first_key, session.ipv6_delegated_last_key, address)),
    )


def clients_with_ipv6_session(address):
    """SQL: the ids of the clients online now with this IPv6 address inside what their NAS reported (the client
    search, app.clients.services.SEARCH_LOOKUPS; the prefixes handed to subscriptions it finds itself)."""
    session = RadiusSession
    return select(Subscription.client_id).join(session, session.subscription_id == Subscription.id).where(
        session.id.in_(union(
            select(session.id).where(session.stopped_at.is_(None), inside_condition(
                session.ipv6_link_first_key, session.ipv6_link_last_key, address)),
            select(session.id).where(session.stopped_at.is_(None), inside_condition(
                session.ipv6_delegated_first_key, session.ipv6_delegated_last_key, address)))))
