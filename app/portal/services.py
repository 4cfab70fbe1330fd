"""The portal's operations: logging in, access links, and what a subscriber reads and does on their own account.

The subscriber is an actor of their own (`subscriber_actor`: "абонат 100001" in the LOG), never an operator:
what they do goes through the office's operations (a freeze, a fault task, their contacts), which check the
rights this actor holds — those in SUBSCRIBER_RIGHTS and SUBSCRIBER_PERMISSIONS, and nothing else.

Every read here is by the logged-in client's id (`own_*`): another client's record is None, a 404.

Nobody learns from the portal who is a client: a login or a link asked for a number nobody has answers
as one for a client does, after the same password-hash work, and the mail (only to the address on record)
is sent after the answer.
"""
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from limits import parse
from sqlalchemy import case, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.models import LogEntry
from app.audit.services import record_event, record_security_event
from app.billing.charges import due_today
from app.billing.freeze import freeze_subscription
from app.billing.models import DailyTraffic, Payment
from app.clients.models import Client, Subscription
from app.clients.services import update_client
from app.contracts.models import Contract
from app.core import one_time_links
from app.core.actors import acting_as, named_actor, operator_of
from app.core.errors import FieldErrors
from app.core.money import format_money
from app.core.formatting import local_today, office_language, utcnow
from app.core.links import public_url
from app.core.scoping import in_scope
from app.epay.models import PAID as EPAY_PAID, EpayRequest
from app.extensions import db
from app.invoices.models import Invoice
from app.notifications.models import Notification
from app.notifications.services import queue_mail
from app.organizer.models import PURPOSE_FAULT
from app.organizer.services import may_report_faults, report_fault as office_report_fault, type_for
from app.portal.models import PortalAccess
from app.epay.services import start_online_payment
from app.radius.services import card_radius, walled_garden_subscription
from app.security.permissions import REPORT_FAULTS
from app.security.rights import may_access

SUBSCRIBER = _l("subscriber %(name)s")
# Exactly what the portal's operations ask: a fault task (the organizer asks "add" of tasks and "plan tasks"),
# a freeze ("add" of freezes), the client's own phone and e-mail ("edit" of clients; the portal passes only
# those two fields).
SUBSCRIBER_RIGHTS = frozenset({REPORT_FAULTS})
SUBSCRIBER_PERMISSIONS = frozenset({("can_add", "SubscriptionFreeze"), ("can_edit", "Client")})

LINK_PURPOSE = "portal-password"
LINK_LIFETIME = timedelta(hours=48)
MIN_PASSWORD, MAX_PASSWORD = 8, 200
MAX_LOGIN = 100
MAX_NOTE = 1000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PORTAL_NOTE = "портал"


class TooManyAttempts(Exception):
    """Too many failed logins or links asked, from the address or for the client; `message` says when to retry."""

    def __init__(self, minutes):
        super().__init__(minutes)
        self.message = gettext("Too many attempts. Try again in %(num)d minutes.", num=minutes)


def subscriber_actor(client):
    """The acting party of a logged-in subscriber: named for the LOG, holding only the portal's rights, and
    limited to the client's dealer."""
    return named_actor(SUBSCRIBER, client.client_number, rights=SUBSCRIBER_RIGHTS,
                       permissions=SUBSCRIBER_PERMISSIONS, dealer_id=client.dealer_id, client_id=client.id)


def subscriber_label(key):
    """The LOG's name for a subscriber by client number (or, for a login of nobody, what was typed)."""
    return str(named_actor(SUBSCRIBER, key))


# --- who is logging in ----------------------------------------------------------------------------------------

def find_client(login):
    """The client a login names: its client number, or a username of one of its subscriptions (any case)."""
    login = (login or "").strip()
    if not login or len(login) > MAX_LOGIN:
        return None
    client = db.session.scalar(select(Client).where(Client.client_number == login))
    if client is not None:
        return client
    return db.session.scalar(select(Client).join(Subscription, Subscription.client_id == Client.id)
                             .where(func.lower(Subscription.username) == login.lower()).limit(1))


def _key(login, client):
    return client.client_number if client is not None else (login or "").strip()[:MAX_LOGIN]


def _window(setting):
    limit = parse(current_app.config[setting])
    return limit.amount, utcnow() - timedelta(seconds=limit.get_expiry()), limit.get_expiry()


PORTAL_ATTEMPTS = (LogEntry.LOGIN_FAILED, LogEntry.PORTAL_LINK)


def _attempts(*conditions, since):
    return db.session.scalar(select(func.count(LogEntry.id)).where(
        LogEntry.operation.in_(PORTAL_ATTEMPTS), LogEntry.issued_at >= since, *conditions))


def refuse_too_many(key, remote_addr):
    """Raises TooManyAttempts (and records the refusal) when this client, or this address, has failed to log
    in or asked for links too often: counted from the LOG, so that every web process sees the same."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    label = subscriber_label(key)
    amount, since, expiry = _window("PORTAL_RATE_LIMIT")
    locked = _attempts(LogEntry.username == label, since=since) >= amount
    if not locked:
        amount, since, expiry = _window("PORTAL_ADDRESS_RATE_LIMIT")
        prefix = subscriber_label("")
        locked = _attempts(LogEntry.remote_addr == remote_addr, LogEntry.username.startswith(prefix),
                           LogEntry.note.startswith(PORTAL_NOTE), since=since) >= amount
    if locked:
        record_security_event(LogEntry.REFUSED, username=label, note=f"{PORTAL_NOTE}: too many attempts")
        raise TooManyAttempts(max(expiry // 60, 1))


_unused_hash = []


def _hash_of_nobody():
    """A hash of the same kind as the clients' (made once per process), so that a login for nobody costs what a
    real one does."""
    if not _unused_hash:
        _unused_hash.append(generate_password_hash("no client has this password"))
    return _unused_hash[0]


def access_of(client):
    return db.session.scalar(select(PortalAccess).where(PortalAccess.client_id == client.id))


def log_in(login, password, remote_addr):
    """The client whose login and portal password these are, or None. Raises TooManyAttempts.

    A success resets the failed count and keeps the moment and address; every outcome is in the LOG with
    the address (a failure on the security-event path: it must outlive the request).
    """
    client = find_client(login)
    key = _key(login, client)
    refuse_too_many(key, remote_addr)
    access = access_of(client) if client is not None else None
    stored = access.password_hash if access is not None and access.password_hash else None
    password = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else ""
    matches = check_password_hash(stored or _hash_of_nobody(), password) and stored is not None
    if not matches:
        # The LOG's entry first, on its own connection, before this unit writes (SQLite has one writer).
        record_security_event(LogEntry.LOGIN_FAILED, username=subscriber_label(key),
                              note=f"{PORTAL_NOTE}: wrong login or password")
        if access is not None:
            db.session.execute(update(PortalAccess).where(PortalAccess.id == access.id)
                               .values(failed_logins=PortalAccess.failed_logins + 1))
        return None
    # Plain UPDATEs: a login is no change of the access's data (the LOG's entry below says it).
    db.session.execute(update(PortalAccess).where(PortalAccess.id == access.id).values(
        failed_logins=0, last_login_at=utcnow(), last_login_addr=(remote_addr or "")[:50]))
    db.session.refresh(access)
    record_event(LogEntry.LOGIN, username=subscriber_label(client.client_number), note=PORTAL_NOTE, entity=access)
    return client


def session_is_current(client, generation):
    """False when a password change or a logout has ended this session since it began."""
    access = access_of(client)
    return access is not None and access.password_hash is not None and access.session_generation == generation


def end_sessions(client):
    """At a logout: every session of the client ends. Flushes."""
    access = access_of(client)
    if access is not None:
        access.session_generation += 1
        db.session.flush()
        record_event(LogEntry.LOGOUT, username=subscriber_label(client.client_number), note=PORTAL_NOTE,
                     entity=access)


# --- access links ---------------------------------------------------------------------------------------------

def _ensure_access(client):
    access = access_of(client)
    if access is None:
        access = PortalAccess(client=client)
        db.session.add(access)
        db.session.flush()
    return access


def _send_link(actor, client, note, **who):
    """Mails the client a link to set the portal password (a first access or a new password) and writes the LOG
    line; `who` names the asker for it (the subscriber's username= or the operator's user=)."""
    access = _ensure_access(client)
    first = access.password_hash is None
    token = one_time_links.issue(LINK_PURPOSE, f"client:{client.id}", LINK_LIFETIME)
    link = public_url("portal.set_password", token=token)
    if first:
        subject = gettext("Your access to the subscribers' portal")
        body = gettext("Hello,\n\nyou can now see your account, invoices and payments on our subscribers' portal: "
                       "%(portal)s\nYou log in with your client number %(number)s. Set your password with this "
                       "link:\n%(link)s\n\nThe link works once and for 48 hours.\n",
                       portal=public_url("portal.login"), number=client.client_number, link=link)
    else:
        subject = gettext("New password for the subscribers' portal")
        body = gettext("Hello,\n\nto set a new password for the subscribers' portal (client number %(number)s) "
                       "open this link:\n%(link)s\n\nThe link works once and for 48 hours. If you did not ask "
                       "for it, ignore this message: your password stays as it is.\n",
                       number=client.client_number, link=link)
    key = f"{LINK_PURPOSE}-{hashlib.sha256(token.encode()).hexdigest()[:32]}"
    queue_mail(actor, key, client.email, subject, body, client=client, background=True)
    record_event(LogEntry.PORTAL_LINK, note=f"{PORTAL_NOTE}: {note}", entity=access, **who)
    return access


def request_link(login, remote_addr):
    """A subscriber asks for a (first or new) password link: mailed to the client's e-mail on record, if
    there is a client and an e-mail. The caller answers the same in every case. Raises TooManyAttempts.
    Flushes."""
    client = find_client(login)
    key = _key(login, client)
    refuse_too_many(key, remote_addr)
    _hash_of_nobody()
    if client is None or not client.email:
        record_event(LogEntry.PORTAL_LINK, username=subscriber_label(key),
                     note=f"{PORTAL_NOTE}: link asked, " + ("no e-mail on record" if client else "no such client"))
        return None
    _send_link(subscriber_actor(client), client, "link sent by e-mail", username=subscriber_label(key))
    return client


def may_send_access(actor):
    """The office sends portal access from the card: the right to change clients."""
    return may_access(actor, "can_edit", "Client")


def send_access(actor, client):
    """The office sends the client a link to set the portal password, to the e-mail on record. Flushes;
    FieldErrors."""
    if not may_send_access(actor) or not in_scope(client, actor):
        raise FieldErrors({"email": [gettext("You do not have the right to change clients.")]})
    if not client.email or not EMAIL.match(client.email):
        raise FieldErrors({"email": [gettext("The client has no e-mail on record: add it on the card first.")]})
    return _send_link(actor, client, f"access sent to {client.email}", user=operator_of(actor))


def check_link(token):
    """The client a working password link is for (it stays unused); raises LinkRefused."""
    link = one_time_links.check(LINK_PURPOSE, token)
    return _client_of(link)


def _client_of(link):
    client = db.session.get(Client, int(link.subject.rsplit(":", 1)[1]))
    if client is None:
        raise one_time_links.LinkRefused(one_time_links.WRONG)
    return client


def _password_errors(password, repeated):
    if not (MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD):
        return {"password": [gettext("At least %(number)d characters.", number=MIN_PASSWORD)]}
    if password != repeated:
        return {"repeated": [gettext("The two passwords differ.")]}
    return {}


def _set_password(access, password):
    access.password_hash = generate_password_hash(password)
    access.password_set_at = utcnow()
    access.failed_logins = 0
    access.session_generation += 1  # every other session ends
    db.session.flush()


def set_password_by_link(token, password, repeated):
    """Sets the portal password of a working link's client (the link then is used). Raises FieldErrors (the
    link still works) or LinkRefused. Flushes."""
    one_time_links.check(LINK_PURPOSE, token)
    errors = _password_errors(password, repeated)
    if errors:
        raise FieldErrors(errors)
    client = _client_of(one_time_links.redeem(LINK_PURPOSE, token))
    access = _ensure_access(client)
    _set_password(access, password)
    record_event(LogEntry.UPDATE, username=subscriber_label(client.client_number),
                 note=f"{PORTAL_NOTE}: password set by the e-mailed link", entity=access)
    return client


def demo_password(client, password):
    """The demo's client gets a portal password without a link (app.demo): nobody reads a mail there."""
    access = _ensure_access(client)
    _set_password(access, password)
    return access


def change_password(actor, client, current, password, repeated):
    """The logged-in subscriber changes the portal password (the current one first). Flushes; FieldErrors."""
    access = access_of(client)
    if access is None or not access.password_hash or not check_password_hash(access.password_hash,
                                                                               current or ""):
        raise FieldErrors({"current": [gettext("The current password is wrong.")]})
    errors = _password_errors(password, repeated)
    if errors:
        raise FieldErrors(errors)
    _set_password(access, password)
    record_event(LogEntry.UPDATE, username=str(actor), note=f"{PORTAL_NOTE}: password changed", entity=access)
    return access


def change_contacts(actor, client, *, phone, email):
    """The subscriber's own phone and e-mail, through the clients' operation (its LOG names the subscriber).
    Flushes; FieldErrors."""
    phone, email = (phone or "").strip(), (email or "").strip()
    errors = {}
    if len(phone) > 100:
        errors["phone"] = [gettext("At most %(max)d characters.", max=100)]
    if email and (len(email) > 150 or not EMAIL.match(email)):
        errors["email"] = [gettext("Not an e-mail address.")]
    if errors:
        raise FieldErrors(errors)
    return update_client(actor, client, phone=phone or None, email=email or None)


# --- what the subscriber reads: their own only ----------------------------------------------------------------

def own_subscriptions(client):
    return db.session.scalars(select(Subscription).where(Subscription.client_id == client.id)
                              .order_by(Subscription.id)).all()


def own_subscription(client, subscription_id):
    return db.session.scalar(select(Subscription).where(Subscription.id == subscription_id,
                                                        Subscription.client_id == client.id))


def own_payments(client):
    return db.session.scalars(select(Payment).where(Payment.client_id == client.id)
                              .order_by(Payment.paid_at.desc(), Payment.id.desc()).limit(200)).all()


def own_payment(client, payment_id):
    return db.session.scalar(select(Payment).where(Payment.id == payment_id, Payment.client_id == client.id))


def own_invoices(client):
    return db.session.scalars(select(Invoice).where(Invoice.client_id == client.id)
                              .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(200)).all()


def own_invoice(client, invoice_id):
    return db.session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.client_id == client.id))


def own_contracts(client):
    return db.session.scalars(select(Contract).where(Contract.client_id == client.id)
                              .order_by(Contract.id.desc())).all()


def own_contract(client, contract_id):
    return db.session.scalar(select(Contract).where(Contract.id == contract_id, Contract.client_id == client.id))


def own_notices(client, limit=100):
    """The e-mails sent (or being sent) to the client, newest first: the warnings, the portal's access mails."""
    return db.session.scalars(select(Notification).where(Notification.client_id == client.id)
                              .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()


NOTICE_STATUSES = {"pending": _l("being sent"), "sending": _l("being sent"), "sent": _l("sent"),
                   "failed": _l("not delivered yet")}


def notice_body_shown(notice):
    """A mail carrying a password link is listed without its text: a session (a shared computer) must not
    become a new password without the current one."""
    return not notice.key.startswith(LINK_PURPOSE)


TRAFFIC_DAYS = 30


@dataclass
class TrafficDay:
    day: object
    bytes: int
    percent: float  # of the busiest day shown


def own_daily_traffic(subscriptions, days=TRAFFIC_DAYS):
    """{subscription id: [TrafficDay] for each of the last `days` days, today last}, for the given (own)
    subscriptions only: one query by the daily table's key (subscription, day), as RADIUS accounting sums it."""
    ids = [subscription.id for subscription in subscriptions if subscription.service.username_type == "radius"]
    if not ids:
        return {}
    today = local_today()
    first = today - timedelta(days=days - 1)
    moved = {}
    for subscription_id, day, count in db.session.execute(
            select(DailyTraffic.subscription_id, DailyTraffic.day, DailyTraffic.bytes_in + DailyTraffic.bytes_out)
            .where(DailyTraffic.subscription_id.in_(ids), DailyTraffic.day >= first, DailyTraffic.day <= today)):
        moved[(subscription_id, day)] = int(count or 0)
    chart = {}
    for subscription_id in ids:
        values = [(first + timedelta(days=offset), moved.get((subscription_id, first + timedelta(days=offset)), 0))
                  for offset in range(days)]
        busiest = max(count for _day, count in values) or 1
        chart[subscription_id] = [TrafficDay(day, count, round(100 * count / busiest, 1)) for day, count in values]
    return chart


@dataclass
class Overview:
    client: object
    money: object  # app.billing.charges.DueToday: the card's own figures
    subscriptions: list
    online: dict  # subscription id → its open sessions
    month_traffic: dict  # subscription id → bytes this month
    daily_traffic: dict  # subscription id → [TrafficDay] of the last 30 days


def overview(actor, client):
    """The home page: the card's money, and each service with what RADIUS says of it."""
    subscriptions = own_subscriptions(client)
    radius = card_radius(client, actor, subscriptions=subscriptions)
    online = {}
    for session in radius.get("radius_online", []):
        online.setdefault(session.subscription_id, []).append(session)
    return Overview(client=client, money=due_today(client, subscriptions=subscriptions),
                    subscriptions=subscriptions, online=online,
                    month_traffic=radius.get("radius_month_traffic", {}),
                    daily_traffic=own_daily_traffic(subscriptions))


# --- the walled garden: no login, only what paying needs ----------------------------------------------------------

@dataclass
class GardenVisit:
    """What the portal shows at an address of the walled garden without a login: whose initials, what is due."""

    client: object
    initials: str
    due_eur: object  # Decimal: due today, the card's own figure


def initials(name):
    """"Иван Петров Иванов" → "И. П. И.": enough for a subscriber to know their own account, too little to tell
    anyone else whose it is."""
    return " ".join(f"{word[0].upper()}." for word in (name or "").split()[:3] if word[:1].isalpha())


def garden_visit(address):
    """The visit of a subscriber in the walled garden (the live RADIUS session holding `address`, after the
    configured proxies), or None: then the portal asks for a login as anywhere else. Reads only."""
    subscription = walled_garden_subscription(address)
    if subscription is None:
        return None
    client = subscription.client
    return GardenVisit(client=client, initials=initials(client.name), due_eur=due_today(client).due_eur)


def garden_actor(client):
    """The acting party of a payment started from the walled garden: the subscriber (the LOG's "абонат <number>"),
    holding no right at all — starting an online payment of their own needs none."""
    return named_actor(SUBSCRIBER, client.client_number, rights=frozenset(), permissions=frozenset(),
                       dealer_id=client.dealer_id, client_id=client.id)


def start_garden_payment(address, *, page, url_ok, url_cancel):
    """The ePay.bg payment request for what the subscriber at `address` in the walled garden owes today, never
    another amount: as the subscriber's own actor, for their own client only. Flushes; FieldErrors."""
    visit = garden_visit(address)
    if visit is None:
        raise FieldErrors({"page": [gettext("This address is no longer in the limited access: log in to pay.")]})
    if visit.due_eur <= 0:
        raise FieldErrors({"page": [gettext("There is nothing to pay online now.")]})
    actor = garden_actor(visit.client)
    with acting_as(actor):  # the LOG names the subscriber
        return start_online_payment(actor, visit.client, visit.due_eur, page=page, url_ok=url_ok,
                                    url_cancel=url_cancel)


# --- what the subscriber does ---------------------------------------------------------------------------------

def payable_amounts(money):
    """What the subscriber may pay online, {key: (amount in EUR, label)}: the amounts the portal shows (due today,
    or that and the next payment), never one typed in the browser."""
    choices = {}
    if money.due_eur > 0:
        choices["due"] = (money.due_eur, gettext("Due today: %(amount)s", amount=format_money(money.due_eur, "EUR")))
    if money.next_day and money.next_eur > 0:
        total = money.due_eur + money.next_eur
        choices["next"] = (total, gettext("Due today and the next payment (from %(day)s): %(amount)s",
                                          day=money.next_day.strftime("%d.%m.%Y"),
                                          amount=format_money(total, "EUR")))
    return choices


def book_freeze(actor, client, subscription, *, starts_on, ends_on, reason):
    """A vacation freeze of the subscriber's own subscription, through the office's operation and its rules."""
    return freeze_subscription(actor, subscription, starts_on=starts_on, ends_on=ends_on,
                               reason=f"{_from_portal()}: {reason.strip()}"[:300] if (reason or "").strip() else "")


def report_fault(actor, client, subscription, note):
    """A fault the subscriber reports: the office's own operation (a fault task, urgent, among the unplanned), with
    the note marked as from the portal. Flushes; FieldErrors."""
    if not may_report_faults(actor):
        raise FieldErrors({"note": [gettext("You do not have the right to add tasks.")]})
    note = (note or "").strip()
    if not note:
        raise FieldErrors({"note": [gettext("Describe the fault.")]})
    if len(note) > MAX_NOTE:
        raise FieldErrors({"note": [gettext("At most %(max)d characters.", max=MAX_NOTE)]})
    if type_for(PURPOSE_FAULT) is None:  # the office's message tells an administrator what to set up
        raise FieldErrors({"note": [gettext("Faults cannot be reported here now: please phone the office.")]})
    try:
        return office_report_fault(actor, client, f"{_from_portal()}: {note}", subscription)
    except FieldErrors as refusal:
        raise FieldErrors({"note": [message for messages in refusal.errors.values() for message in messages]}) \
            from None


def _from_portal():
    # Written into the record, which the office reads: in the office's language whoever asked.
    with office_language():
        return gettext("From the portal")


@dataclass
class OnlinePayments:
    started: int  # requests sent to ePay.bg (the WEB page or an EasyPay code), paid or not
    paid: int
    easypay_codes: int
    last_started_at: object


def portal_card(client, actor, **_known):
    """The client card's line about the portal: access sent or set, last login, payments started and paid online
    (the WEB page or an EasyPay code); the button if allowed. One statement: the access and the requests' counts."""
    access, started, paid, codes, last = db.session.execute(
        select(PortalAccess, func.count(EpayRequest.id), func.count(case((EpayRequest.status == EPAY_PAID, 1))),
               func.count(EpayRequest.idn), func.max(EpayRequest.created_at))
        .select_from(Client)
        .outerjoin(PortalAccess, PortalAccess.client_id == Client.id)
        .outerjoin(EpayRequest, EpayRequest.client_id == Client.id)
        .where(Client.id == client.id).group_by(PortalAccess.id)).one()
    return {"portal_access": access, "can_send_portal_access": may_send_access(actor),
            "online_payments": OnlinePayments(started or 0, paid or 0, codes or 0, last)}


STATUS_LABELS = {"pending": _l("Awaiting installation"), "active": _l("Active (service)"), "suspended": _l("Suspended"),
                 "terminated": _l("Terminated")}


def format_speed(kbps):
    """"100 Mbit/s", "512 kbit/s", or "—"."""
    if not kbps:
        return "—"
    if kbps >= 1000 and kbps % 1000 == 0:
        return f"{kbps // 1000} Mbit/s"
    if kbps >= 1000:
        return f"{kbps / 1000:.1f}".replace(".", ",") + " Mbit/s"
    return f"{kbps} kbit/s"
