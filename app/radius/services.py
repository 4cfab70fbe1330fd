"""The NAS list's rules, and reading a NAS's shared secret (a right of its own, in the LOG)."""
import ipaddress

from flask_babel import gettext
from sqlalchemy import inspect, select

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.extensions import db
from app.radius.models import VENDORS, Nas
from app.security.rights import may_access

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
    with db.session.no_autoflush:
        for field, value, message in (
                ("name", name, gettext("Another NAS has this name.")),
                ("ip_address", nas.ip_address, gettext("Another NAS has this address."))):
            if field in errors or not value:
                continue
            other = db.session.scalar(select(Nas.id).where(getattr(Nas, field) == value, Nas.id != nas.id)
                                      if nas.id else select(Nas.id).where(getattr(Nas, field) == value))
            if other is not None:
                errors[field] = [message]
    nas.name = name
    return errors
