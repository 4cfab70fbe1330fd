"""Who is acting and from which address, for the change log.

A web or REST API request acts as the logged-in operator (FAB puts it in
g.user for both). Background jobs have no request: they run inside
`acting_as(operator_id)` so their changes are attributed explicitly.
"""
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_request_context, request

_job_actor: ContextVar = ContextVar("job_actor", default=None)


def current_actor_id():
    """Id of the operator the current change is made by, or None."""
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user.id
        return None
    return _job_actor.get()


def current_remote_addr():
    """Client address of the current request (after ProxyFix), or None."""
    if has_request_context():
        return request.remote_addr
    return None


@contextmanager
def acting_as(operator_id):
    """Attribute changes made outside a request to the given operator."""
    token = _job_actor.set(operator_id)
    try:
        yield
    finally:
        _job_actor.reset(token)
