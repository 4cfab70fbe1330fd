"""Selling a service to a client, its technical parameters and its status — only through here.

Each operation takes the acting operator (or a system actor) first, checks
once, raises FieldErrors, flushes and sends its event: subscription_sold
(billing charges the installation fee; the organizer will open the
installation task) and subscription_status_changed (RADIUS will disconnect a
suspended subscriber).
"""
import secrets
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext, ngettext
from sqlalchemy import select

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.catalog.services import may_sell
from app.clients.models import ACTIVE, PENDING, SUSPENDED, TERMINATED, Subscription
from app.core.errors import FieldErrors, StateConflict
from app.core.events import send, subscription_sold, subscription_status_changed
from app.core.formatting import format_date, local_today, office_language
from app.core.validators import InvalidValue, parse_day
from app.extensions import db
from app.networks.ipv6 import NoFreePrefix, allocate_prefixes, give_service_prefixes as give_prefixes, release_prefixes
from app.networks.services import AddressRefused, NoFreeAddress, allocate, allocate_address, normalize_mac, release
from app.security import permissions
from app.security.rights import may, may_access
from app.core.scoping import in_scope

# status → statuses it may change to
TRANSITIONS = {
    PENDING: {ACTIVE, TERMINATED},
    ACTIVE: {SUSPENDED, TERMINATED},
    SUSPENDED: {ACTIVE, TERMINATED},
    TERMINATED: set(),
}
TECHNICAL_FIELDS = ("username", "password", "delivery_address", "mac_address", "simultaneous_use")


@dataclass(frozen=True)
class CarriedOver:
    """A subscription brought over from another system (app.imports): installed and paid there. Its sale sends
    no subscription_sold (no installation fee, no installation task), keeps the days it had there, and is
    active from the start unless `active` is False (it was awaiting installation there)."""
    reason: str
    activation_date: date = None
    paid_until: date = None
    active: bool = True


def sale_errors(actor, client, service, username=None, override_technology=False):
    """Why this actor may not sell this service to this client, as {field: [message]}."""
    errors = {}
    if client is None:
        errors["client"] = [gettext("Choose the client.")]
    elif not in_scope(client, actor):
        errors["client"] = [gettext("This record belongs to another dealer.")]
    if service is None:
        errors["service"] = [gettext("Choose the service.")]
    if errors:
        return errors
    if not may(actor, permissions.ADD_SUBSCRIPTIONS):
        errors["service"] = [gettext("You do not have the right to add services to clients.")]
    elif not may_sell(actor, service):
        errors["service"] = [gettext("You may not sell the service %(service)s.", service=service.name)]
    if service.technology_id and client.block is not None and not client.block.has_technology(service.technology_id):
        if not override_technology:
            errors["service"] = errors.get("service", []) + [
                gettext(
                    "Block %(block)s has no %(technology)s, which %(service)s needs.",
                    block=str(client.block), technology=service.technology.name, service=service.name,
                )
            ]
        elif not may(actor, permissions.OVERRIDE_TECHNOLOGY):
            errors["technology_override"] = [gettext("You do not have the right to override the technology check.")]
    if username and _username_taken(username):
        errors["username"] = [gettext("The username %(username)s is taken.", username=username)]
    return errors


def _username_taken(username, subscription_id=None):
    return db.session.query(Subscription.id).filter(
        Subscription.username == username, Subscription.id != (subscription_id or 0)
    ).first() is not None


def activation_day_errors(service, activates_on, today):
    """Why `activates_on` (a day, or text read by parse_day; empty: at once) cannot be a sale's activation day,
    as ({field: [message]}, the day or None)."""
    try:
        day = parse_day(activates_on, None)
    except InvalidValue as error:
        return {"activates_on": [str(error.message)]}, None
    if day is None:
        return {}, None
    if day < today:
        return {"activates_on": [gettext("The activation day %(day)s has passed; choose today or a later day.",
                                         day=format_date(day))]}, None
    if service is not None and service.needs_installation:
        return {"activates_on": [gettext("A service that needs installation is activated when its installation "
                                         "is completed; leave the activation day empty.")]}, None
    return {}, day


def sell_subscription(actor, client, service, *, username=None, password=None, delivery_address=None,
                      technology_override=False, addresses=None, carried_over=None, activates_on=None):
    """Sells `service` to `client`: a subscription with its username, password and IP addresses — awaiting
    installation when the service needs one (the organizer's task activates it), else active at once, or on
    the day chosen (`activates_on`, a day after today: it awaits that day, and the billing cycle's run for the
    day activates it — activate_on_chosen_day).

    `addresses`: the IP addresses to give instead of the next free ones (a subscriber carried over keeps
    theirs). `carried_over`: a CarriedOver when the subscription comes from another system.

    Returns the subscription, flushed; sends subscription_sold. Raises
    FieldErrors, and nothing is kept, when it may not be sold.
    """
    override = bool(technology_override)
    errors = sale_errors(actor, client, service, username, override)
    day_errors, activates_on = activation_day_errors(service, activates_on, local_today())
    errors.update(day_errors)
    if errors:
        raise FieldErrors(errors)
    if activates_on is not None and activates_on <= local_today():
        activates_on = None  # today is at once
    subscription = Subscription(client=client, service=service, status=PENDING, username=username or None,
                                password=password or None, delivery_address=delivery_address or None,
                                technology_override=bool(override and service.technology_id))
    if carried_over is not None:
        subscription.activation_date, subscription.paid_until = carried_over.activation_date, carried_over.paid_until
    if service.username_type != "none":
        subscription.password = subscription.password or secrets.token_urlsafe(9)
    db.session.add(subscription)
    db.session.flush()
    if service.username_type != "none" and not subscription.username:
        # "u" and the client number, as the office reads it to the subscriber (the demo's form too); a second
        # login of the same client adds its subscription's number.
        username = f"u{client.client_number}"
        subscription.username = username if not _username_taken(username, subscription.id) else \
            f"{username}-{subscription.id}"
    try:
        if addresses:
            for address in addresses:
                allocate_address(address, service=service, dealer_id=client.dealer_id, holder=client.name,
                                 subscription_id=subscription.id)
        else:
            allocate(service.ip_count, service=service, dealer_id=client.dealer_id, holder=client.name,
                     subscription_id=subscription.id)
    except (NoFreeAddress, AddressRefused) as refusal:
        raise FieldErrors({"ip_addresses" if addresses else "service": [str(refusal)]}) from None
    try:
        allocate_prefixes(service, subscription.id)  # its IPv6 prefixes, when the service gives IPv6
    except NoFreePrefix as refusal:
        raise FieldErrors({"service": [str(refusal)]}) from None
    if subscription.technology_override:
        with office_language():
            note = gettext("Sold without the block's technology: %(service)s", service=service.name)
        record_event(LogEntry.OVERRIDE, user=actor, entity=subscription, note=note)
    db.session.flush()
    if carried_over is not None:
        if carried_over.active:
            # Active where it comes from: a consequence of the sale, as a sale without installation.
            change_status_as_consequence(actor, subscription, ACTIVE, carried_over.reason,
                                         right=permissions.ADD_SUBSCRIPTIONS)
        return subscription
    send(subscription_sold, actor, subscription=subscription)
    if activates_on is not None:
        # Nothing to install, but a day ahead chosen: it awaits that day.
        subscription.activates_on = activates_on
        with office_language():
            subscription.status_reason = gettext("Sold to start on the chosen day, %(day)s.",
                                                 day=format_date(activates_on))
        db.session.flush()
    elif not service.needs_installation:
        # Nothing to install: live from the sale, by the same status change an installation's completion makes.
        with office_language():
            reason = gettext("Sold without installation: active from the sale.")
        change_status_as_consequence(actor, subscription, ACTIVE, reason, right=permissions.ADD_SUBSCRIPTIONS)
    return subscription


# A right of the system only, not in the operators' matrix: the billing cycle's actor (app.billing.cycle.cycle_actor)
# holds it, and with it activates the sales chosen to start on a day.
ACTIVATE_ON_CHOSEN_DAY = "activate_on_chosen_day"


def activate_on_chosen_day(actor, day):
    """Activates the subscriptions sold to start on a chosen day that has come by `day` (the billing cycle's
    run for `day` calls it), each by a status change with its reason — so billing spends the client's advance
    on it, as on any activation. Its activation day (the floating months' anchor) is the day chosen. Only by
    a system actor holding ACTIVATE_ON_CHOSEN_DAY (FieldErrors). Flushes; returns the subscriptions activated."""
    if ACTIVATE_ON_CHOSEN_DAY not in getattr(actor, "rights", ()):
        raise FieldErrors({"status": [gettext("You do not have the right to change a subscription's status.")]})
    due = db.session.scalars(
        db.select(Subscription).where(Subscription.status == PENDING, Subscription.activates_on.is_not(None),
                                      Subscription.activates_on <= day)
        .order_by(Subscription.id).with_for_update(of=Subscription)).all()
    for subscription in due:
        subscription.activation_date = subscription.activates_on
        with office_language():
            reason = gettext("Activated on the chosen day, %(day)s.", day=format_date(subscription.activates_on))
        change_status_as_consequence(actor, subscription, ACTIVE, reason, right=ACTIVATE_ON_CHOSEN_DAY)
    return due


def change_technical_parameters(actor, subscription, **fields):
    """Username, password, delivery address and the MAC the subscriber logs in from; only with the right to
    change technical parameters. Flushes."""
    if not may(actor, permissions.CHANGE_TECHNICAL):
        raise FieldErrors({"username": [gettext("You do not have the right to change technical parameters.")]})
    if not in_scope(subscription, actor):
        raise FieldErrors({"username": [gettext("This record belongs to another dealer.")]})
    if not fields.get("password"):
        fields.pop("password", None)  # an empty password field keeps the password
    unknown = set(fields) - set(TECHNICAL_FIELDS)
    if unknown:
        raise FieldErrors({name: [gettext("This field cannot be changed here.")] for name in unknown})
    username = fields.get("username", subscription.username)
    if username and _username_taken(username, subscription.id):
        raise FieldErrors({"username": [gettext("The username %(username)s is taken.", username=username)]})
    if "mac_address" in fields:
        typed = fields["mac_address"]
        fields["mac_address"] = normalize_mac(typed) if typed else None
        if typed and fields["mac_address"] is None:
            raise FieldErrors({"mac_address": [gettext(
                "A MAC address has 12 hexadecimal digits, e.g. AA:BB:CC:DD:EE:FF or aabb.ccdd.eeff.")]})
    sessions = fields.get("simultaneous_use")
    if sessions is not None and (not isinstance(sessions, int) or not 0 <= sessions <= 1000):
        raise FieldErrors({"simultaneous_use": [gettext("From 0 (any number) to 1000 sessions.")]})
    for name, value in fields.items():
        setattr(subscription, name, value)
    db.session.flush()
    return subscription


def may_read_password(actor):
    """A subscriber's network password is read only by who may change technical parameters."""
    return may(actor, permissions.CHANGE_TECHNICAL)


def record_password_read(actor, subscription):
    """The subscription's page showed its password to the actor: the LOG says who read it, and when."""
    if subscription.password and may_read_password(actor):
        record_event(LogEntry.SECRET_VIEWED, user=actor, entity=subscription, note="Парола")


def change_status(actor, subscription, status, reason):
    """Move a subscription to another status, saying why (the LOG keeps both); sends subscription_status_changed.

    Only by who holds the "change status" permission of subscriptions (the card's form, the API's status
    operation); what another operation changes as its consequence goes through
    `change_status_as_consequence`. Termination gives its IP addresses and IPv6 prefixes back. Flushes; raises
    FieldErrors.
    """
    if not may_change_status(actor):
        raise FieldErrors({"status": [gettext("You do not have the right to change a subscription's status.")]})
    return _change_status(actor, subscription, status, reason)


def change_status_as_consequence(actor, subscription, status, reason, *, right):
    """The system path of a status change: the one another operation makes as its consequence — a sale without
    installation activates (ADD_SUBSCRIPTIONS), a payment reactivates (RECORD_PAYMENT), an installation's
    completion activates and its cancellation terminates (the task's ("can_work" / "can_cancel", "Task")).

    `right` is the right of that operation, a business right (app.security.permissions) or a view permission
    as a (permission, view) pair: the actor must hold it, and the subscription be in its scope; then it is
    `change_status`. The actor is the one of the causing operation (an operator, a collector, a job's actor),
    so the LOG names it. Flushes; raises FieldErrors.
    """
    held = may_access(actor, *right) if isinstance(right, tuple) else may(actor, right)
    if not held:
        raise FieldErrors({"status": [gettext("You do not have the right to change a subscription's status.")]})
    return _change_status(actor, subscription, status, reason)


def _change_status(actor, subscription, status, reason):
    if not in_scope(subscription, actor):
        raise FieldErrors({"status": [gettext("This record belongs to another dealer.")]})
    if status not in TRANSITIONS:
        raise FieldErrors({"status": [gettext("Unknown subscription status.")]})
    if status not in TRANSITIONS[subscription.status]:
        # The same request may be right for another subscription, or was right before this one changed.
        raise StateConflict({"status": [gettext("A subscription cannot go from this status to that one.")]})
    if not (reason or "").strip():
        raise FieldErrors({"status_reason": [gettext("Say why the status changes.")]})
    old_status = subscription.status
    subscription.status = status
    subscription.status_reason = reason.strip()
    if status == ACTIVE and subscription.activation_date is None:
        # Floating months are anchored to this day.
        subscription.activation_date = local_today()
    if status == TERMINATED:
        release(list(subscription.ip_allocations))
        release_prefixes(list(subscription.ipv6_allocations))
    db.session.flush()
    announce_status_change(actor, subscription, old_status)
    return subscription


def may_change_status(actor):
    """Whether the actor changes statuses by hand: the "change status" permission of subscriptions (the card's
    form and the API's status operation alike)."""
    return may_access(actor, "can_status", "Subscription")


def change_status_by_hand(actor, subscription, status, reason):
    """An operator's status change, from the card or the API: `change_status`, which checks the "change status"
    permission itself. (An installation's completion, a sale without installation and a reactivating payment go
    through `change_status_as_consequence` under their own rights; the billing cycle's suspensions are
    set-based and announced with `announce_status_change`.)"""
    return change_status(actor, subscription, status, reason)


def announce_status_change(actor, subscription, old_status):
    """Sends subscription_status_changed for a status already changed and written (change_status, or a
    set-based change such as the billing cycle's suspensions)."""
    send(subscription_status_changed, actor, subscription=subscription, old_status=old_status,
         new_status=subscription.status, reason=subscription.status_reason)



def give_service_prefixes(actor, service, **_details):
    """service_ipv6_changed's receiver: a service's subscriptions sold before its IPv6 changed (given, its
    delegated prefix's size, taken away) get their prefixes now, in the edit's transaction — all of them or,
    when a pool has too few free, none and the edit is refused (the message under the field). The pools are
    locked as at a sale (app.networks.ipv6.give_service_prefixes), so no prefix is given twice, and a sale of the
    service committing meanwhile is either seen here or reads the new sizes (it waits on the service's row).
    Subscriptions online get them at their next login. Returns what the operator is told."""
    holders = select(Subscription.id).where(Subscription.service_id == service.id,
                                            Subscription.status != TERMINATED)
    try:
        given, gave_back = give_prefixes(service, holders)
    except NoFreePrefix as refusal:
        field = "ipv6_delegated_length" if service.ipv6_delegated_length else "ipv6"
        raise FieldErrors({field: [str(refusal)]}) from None
    told = []
    if given:
        told.append(ngettext("%(num)d subscription of the service got its IPv6 prefixes; it gets them at its "
                             "next login.",
                             "%(num)d subscriptions of the service got their IPv6 prefixes; they get them at "
                             "their next login.", given))
    if gave_back:
        told.append(ngettext("%(num)d subscription gave back IPv6 prefixes the service no longer gives.",
                             "%(num)d subscriptions gave back IPv6 prefixes the service no longer gives.",
                             gave_back))
    if not given and not gave_back:
        told.append(gettext("No subscription of the service needed new IPv6 prefixes."))
    return " ".join(told)
