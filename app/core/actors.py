"""Who is acting: an operator, or a named part of the system.

Every business operation takes its actor as the first argument. In a panel
or REST API request that is the logged-in operator (`current_operator()`:
FAB puts it in g.user for both). A job runs as the operator who started it,
or as a system actor such as the billing cycle or a payment collector; while
it runs, `acting_as` makes it the actor the LOG attributes changes to.

A system actor holds exactly the rights its work needs and no dealer scope
unless it is given one; it never logs in.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from flask import g, has_request_context, request

from app.core.formatting import office_language

_job_actor: ContextVar = ContextVar("job_actor", default=None)


@dataclass(frozen=True)
class SystemActor:
    """A part of the system acting on its own: "billing cycle № 12", "RADIUS server", "Колектор ePay"."""

    name: str
    rights: frozenset = field(default_factory=frozenset)
    dealer_id: int = None
    # The payment collector a collector actor stands for (its payments name it).
    collector_id: int = None
    # The one client a subscriber on the portal acts for: operations that act for a client (a payment request
    # to ePay.bg) allow it that client only.
    client_id: int = None
    # View permissions ("can_add", "SubscriptionFreeze") the operations it calls ask with may_access: a
    # subscriber on the portal books a freeze through the office's own operation, which asks that one.
    permissions: frozenset = field(default_factory=frozenset)

    id = None
    is_active = True
    is_authenticated = False

    def __str__(self):
        return self.name


def named_actor(label, name, *, rights=(), permissions=(), dealer_id=None, collector_id=None, client_id=None):
    """The system actor of work that arrives from outside the panel, named as the LOG shows it.

    For a payment collector (app.collectors.services.collector_actor: "Колектор ePay"), and the same way for
    a subscriber acting from the portal ("Абонат <number>") or an import no operator runs (a scheduled one:
    "Импорт <file>"; an operator's import acts as that operator). `label` is a
    lazy_gettext pattern with %(name)s (_l("Collector %(name)s")), filled in the office's language whoever's
    request it is, since the LOG keeps it as written; `rights` are exactly the business rights
    (app.security.permissions) the work needs, `permissions` the view permissions ((permission, view) pairs)
    its operations ask with may_access; `dealer_id` limits it to one dealer's records, `client_id` to one client's.

    Pass it first to every operation (each checks its rights and scope, for this actor as for an operator),
    and run the work inside `acting_as(actor)`: the LOG rows of what it writes, Continuum's and the set-based
    ones of app.audit.bulk, then name it (user empty, username the name), as they name the billing cycle.

        actor = named_actor(_l("Collector %(name)s"), collector.name, rights={RECORD_PAYMENT})
        with acting_as(actor):
            record_payment(actor, client, amount=...)
            db.session.flush()  # the LOG rows are written at the flush: inside the block
    """
    with office_language():
        text = str(label) % {"name": name}
    return SystemActor(text[:256], rights=frozenset(rights), dealer_id=dealer_id, collector_id=collector_id,
                       permissions=frozenset(permissions), client_id=client_id)


def current_actor():
    """The operator or system actor of this unit of work, or None.

    A job's actor first (a job run in-process inside a request acts as the
    job's actor), then the request's operator.
    """
    actor = _job_actor.get()
    if actor is not None:
        return actor
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user
    return None


def current_operator():
    """The operator of this request (panel session or JWT) or job; None for a system actor."""
    actor = current_actor()
    return None if isinstance(actor, SystemActor) else actor


def current_actor_id():
    """Id of the operator the current change is made by, or None (system actors have none)."""
    actor = current_actor()
    return getattr(actor, "id", None)


def current_remote_addr():
    """Client address of the current request (after ProxyFix), or None."""
    if has_request_context():
        return request.remote_addr
    return None


@contextmanager
def acting_as(actor):
    """Make `actor` (an operator or a SystemActor) the actor of work done outside a request."""
    token = _job_actor.set(actor)
    try:
        yield actor
    finally:
        _job_actor.reset(token)


def operator_of(actor):
    """The operator behind an actor, for "created by" columns; None for a system actor."""
    return None if isinstance(actor, SystemActor) else actor


def system_actor_name():
    """The name of the system actor of this unit of work ("billing cycle № 12"), or None for an operator."""
    actor = current_actor()
    return str(actor)[:256] if isinstance(actor, SystemActor) else None
