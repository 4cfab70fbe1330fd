"""Rules of the service catalog."""
from flask_babel import gettext
from sqlalchemy import inspect

from app.catalog.models import MONTH_FIXED, MONTH_FLOATING, USERNAME_TYPES
from app.core.errors import FieldErrors
from app.core.events import send, service_ipv6_changed, service_parameter_checked, speed_changed
from app.extensions import db
from app.security.rights import may_access


def may_sell(actor, service):
    """May this operator (or system actor) add this service to a client?

    Only sellable services; and when the operator has an allowed-services
    list, only the services on it. Checked on the server by the
    subscriptions module, not only by the form.
    """
    if service is None or not service.sellable:
        return False
    allowed = getattr(actor, "allowed_services", None) or []
    return not allowed or any(item.id == service.id for item in allowed)


def service_errors(service):
    """Rules that span fields, as {field: [message]}."""
    errors = {}
    if service.month_type not in (MONTH_FIXED, MONTH_FLOATING):
        errors["month_type"] = [gettext("Month type must be fixed or floating.")]
    if service.username_type not in USERNAME_TYPES:
        errors["username_type"] = [gettext("Unknown username type.")]
    if service.ip_count and service.ip_count > 16:
        errors["ip_count"] = [gettext("At most 16 IP addresses per subscription.")]
    if service.max_freeze_days is not None and not 0 <= service.max_freeze_days <= 366:
        errors["max_freeze_days"] = [gettext("From 0 to 366 days.")]
    if service.simultaneous_use is not None and not 0 <= service.simultaneous_use <= 1000:
        errors["simultaneous_use"] = [gettext("From 0 (any number) to 1000 sessions.")]
    if service.ipv6_delegated_length is not None and service.ipv6_delegated_length not in (56, 60):
        errors["ipv6_delegated_length"] = [gettext("A delegated IPv6 prefix is a /56 or a /60.")]
    elif service.ipv6_delegated_length and not service.ipv6:
        errors["ipv6_delegated_length"] = [gettext("A prefix is delegated only with IPv6: tick IPv6 too.")]
    for field in ("download_kbps", "upload_kbps", "included_traffic_gb"):
        value = getattr(service, field)
        if value is not None and value < 0:
            errors[field] = [gettext("Cannot be negative.")]
    return errors


# The NAS makes a service's extra parameter may name, [(value, label)]: RADIUS's, filled when it registers.
PARAMETER_MAKES = []


def parameter_errors(parameter):
    """{field: [message]} of a service's extra parameter that may not be stored as it is: what the modules that
    read parameters refuse (RADIUS: app.radius.attributes.parameter_errors)."""
    errors = {}
    for refused in send(service_parameter_checked, None, parameter=parameter):
        for field, messages in refused.items():
            errors.setdefault(field, []).extend(messages)
    return errors


def update_service(actor, service, notices=None, **fields):
    """Change a service of the catalog; a new download or upload speed sends speed_changed, a change of its IPv6
    (given or not, the delegated prefix's size) service_ipv6_changed: its subscriptions get their prefixes in
    the same transaction (app.clients.subscriptions.give_service_prefixes). Flushes.

    The old values are the stored ones, whatever the adapter did first: the
    REST API loads the body into the record before it calls this, the panel
    does not (`stored_speed`). Raises FieldErrors and keeps nothing when a
    rule refuses. `notices`, a list, receives what the operator is to be told (how many subscriptions got
    prefixes).
    """
    old_speed = stored_speed(service)  # before anything here may flush the record
    old_ipv6 = _ipv6_in_effect(*stored_values(service, "ipv6", "ipv6_delegated_length"))
    if not may_access(actor, "can_edit", "Service"):
        raise FieldErrors({"name": [gettext("You do not have the right to change services.")]})
    with db.session.no_autoflush:
        for name, value in fields.items():
            setattr(service, name, value)
        errors = service_errors(service)
    if errors:
        raise FieldErrors(errors)
    db.session.flush()
    new_speed = (service.download_kbps, service.upload_kbps)
    if new_speed != old_speed:
        # Subscribers online keep their old speed until RADIUS tells their NAS (CoA).
        send(speed_changed, actor, service=service, old=old_speed, new=new_speed)
    if _ipv6_in_effect(service.ipv6, service.ipv6_delegated_length) != old_ipv6:
        told = send(service_ipv6_changed, actor, service=service)
        if notices is not None:
            notices.extend(told)
    return service


def _ipv6_in_effect(ipv6, delegated_length):
    """A service's IPv6 as it takes effect: (given, the delegated prefix's size or None). A size kept while IPv6
    is off delegates nothing, so it is no change."""
    return (bool(ipv6), delegated_length if ipv6 else None)


def stored_speed(service):
    """(download, upload) of the service as stored, not as changed in this unit of work and not flushed yet."""
    return stored_values(service, "download_kbps", "upload_kbps")


def stored_values(service, *names):
    """The values of these fields of the service as stored, not as changed in this unit of work and not flushed
    yet."""
    state = inspect(service)
    with db.session.no_autoflush:
        def stored(name):
            history = state.attrs[name].history
            return history.deleted[0] if history.deleted else getattr(service, name)

        return tuple(stored(name) for name in names)
