"""Selling a service to a client and changing its status — only through here."""
import secrets

from flask_babel import gettext

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.catalog.services import may_sell
from app.clients.models import ACTIVE, PENDING, SUSPENDED, TERMINATED, Subscription
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.extensions import db
from app.networks.services import allocate, release
from app.security import permissions
from app.security.rights import has_right

# status → statuses it may change to
TRANSITIONS = {
    PENDING: {ACTIVE, TERMINATED},
    ACTIVE: {SUSPENDED, TERMINATED},
    SUSPENDED: {ACTIVE, TERMINATED},
    TERMINATED: set(),
}


def subscription_errors(operator, subscription, override_technology=False):
    """Why this operator may not sell this service to this client, as {field: [message]}."""
    # The subscription is not in the session yet: no autoflush while asking.
    with db.session.no_autoflush:
        return _subscription_errors(operator, subscription, override_technology)


def _subscription_errors(operator, subscription, override_technology):
    errors = {}
    service, client = subscription.service, subscription.client
    if service is None or client is None:
        return errors
    if not has_right(permissions.ADD_SUBSCRIPTIONS, operator):
        errors["service"] = [gettext("You do not have the right to add services to clients.")]
    elif not may_sell(operator, service):
        errors["service"] = [gettext("You may not sell the service %(service)s.", service=service.name)]
    if service.technology_id and client.block is not None and not client.block.has_technology(service.technology_id):
        if not override_technology:
            errors["service"] = errors.get("service", []) + [
                gettext(
                    "Block %(block)s has no %(technology)s, which %(service)s needs.",
                    block=str(client.block), technology=service.technology.name, service=service.name,
                )
            ]
        elif not has_right(permissions.OVERRIDE_TECHNOLOGY, operator):
            errors["technology_override"] = [gettext("You do not have the right to override the technology check.")]
    if subscription.username and db.session.query(Subscription.id).filter(
        Subscription.username == subscription.username, Subscription.id != (subscription.id or 0)
    ).first():
        errors["username"] = [gettext("The username %(username)s is taken.", username=subscription.username)]
    return errors


def require_technical_right(operator):
    """Usernames, passwords and delivery addresses change only with that right."""
    if not has_right(permissions.CHANGE_TECHNICAL, operator):
        raise FieldErrors({"username": [gettext("You do not have the right to change technical parameters.")]})


def open_subscription(operator, subscription, override_technology=False):
    """Checks and completes a new subscription: username, password, IP addresses.

    Flushes (the addresses need the subscription's id); the caller commits.
    Raises FieldErrors when it may not be sold, and nothing is kept.
    """
    from app.networks.services import NoFreeAddress

    errors = subscription_errors(operator, subscription, override_technology)
    if errors:
        raise FieldErrors(errors)
    service, client = subscription.service, subscription.client
    subscription.status = PENDING
    subscription.technology_override = bool(override_technology and service.technology_id)
    if service.username_type != "none":
        subscription.password = subscription.password or secrets.token_urlsafe(9)
    db.session.add(subscription)
    db.session.flush()
    if service.username_type != "none" and not subscription.username:
        subscription.username = f"{client.client_number}-{subscription.id}"
    try:
        allocate(service.ip_count, service=service, dealer_id=client.dealer_id, holder=client.name,
                 subscription_id=subscription.id)
    except NoFreeAddress as refusal:
        raise FieldErrors({"service": [str(refusal)]}) from None
    from app.billing.charges import add_installation_charge

    add_installation_charge(subscription, operator)
    if subscription.technology_override:
        record_event(
            LogEntry.OVERRIDE, user=operator, entity=subscription,
            note=gettext("Sold without the block's technology: %(service)s", service=service.name),
            commit=False,
        )


def change_status(subscription, status, reason):
    """Move a subscription to another status, saying why (the LOG keeps both).

    Termination gives its IP addresses back. Flushes; the caller commits.
    """
    if status not in TRANSITIONS[subscription.status]:
        raise FieldErrors({"status": [gettext("A subscription cannot go from this status to that one.")]})
    if not (reason or "").strip():
        raise FieldErrors({"status_reason": [gettext("Say why the status changes.")]})
    subscription.status = status
    subscription.status_reason = reason.strip()
    if status == ACTIVE and subscription.activation_date is None:
        # Floating months are anchored to this day.
        subscription.activation_date = local_today()
    if status == TERMINATED:
        release(list(subscription.ip_allocations))
    db.session.flush()
