"""The one transaction boundary of every unit of work.

A unit of work is a panel request, a REST API request, a job (or one chunk
of a long job) or a CLI command. Inside it, services and data access only
flush; the unit commits exactly once, here:

- requests: `init_app` finishes every request after its view has answered:
  commit when it answered below 400 and wrote something, otherwise roll back;
- jobs, job chunks and anything else outside a request: `with unit_of_work():`;
- CLI commands: the `@in_unit_of_work` decorator.

A view that turns a refusal into a message (a form shown again with its
errors, a 422) calls `discard()` first, so nothing half-done is kept.

Effects outside the database (enqueueing a job, sending a message, a RADIUS
disconnect) are registered with `after_commit(...)` and run once the commit
has succeeded; a rolled-back unit drops them unrun.

The one other way to the database is the LOG's security events that must
outlive a failed request (app.audit.services.record_security_event).
"""
from contextlib import contextmanager
from functools import wraps

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

PENDING_EFFECTS = "billing_after_commit"
WROTE = "billing_wrote"
CACHE = "billing_unit_cache"


def after_commit(effect, *args, **kwargs):
    """Run `effect(*args, **kwargs)` after the current unit of work commits; never if it rolls back."""
    db.session.info.setdefault(PENDING_EFFECTS, []).append((effect, args, kwargs))


def unit_cache():
    """A dict that lives as long as the current unit of work (rights read once per unit)."""
    return db.session.info.setdefault(CACHE, {})


def unit_has_written():
    """True when the current unit of work has flushed changes not yet committed."""
    return bool(db.session.info.get(WROTE))


def writes_so_far():
    """How many times the current unit of work has written (flushes, bulk statements): a step compares it
    before and after itself to know whether it wrote (an import's row refused inside a chunk)."""
    return db.session.info.get(WROTE, 0)


def discard():
    """Undo everything the current unit of work has flushed; its after-commit effects are dropped."""
    db.session.rollback()


def finish(keep=True):
    """End the current unit of work: commit what it wrote (when `keep`), else roll back.

    A unit that wrote nothing rolls back its read-only transaction, so a
    plain page view commits nothing; its after-commit effects (a job that a
    read-only unit starts) still run when it is kept.
    """
    session = db.session()
    if keep and (session.new or session.dirty or session.deleted):
        session.flush()
    if not keep:
        session.rollback()
        return
    effects = session.info.pop(PENDING_EFFECTS, [])
    if session.info.get(WROTE):
        session.commit()  # the one commit of the unit
    else:
        session.rollback()
    _run_effects(effects)


@contextmanager
def unit_of_work():
    """A unit of work outside a request (a job, a job chunk, a script): commits once at the end.

    An exception rolls everything back and is raised again.
    """
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    finish()


def in_unit_of_work(command):
    """Decorator for CLI commands and job functions: the whole call is one unit of work."""

    @wraps(command)
    def run(*args, **kwargs):
        with unit_of_work():
            return command(*args, **kwargs)

    return run


def _run_effects(effects):
    for effect, args, kwargs in effects:
        effect(*args, **kwargs)


def _finish_request(response):
    finish(keep=response.status_code < 400)
    return response


def _remember_writes(session, flush_context):
    session.info[WROTE] = session.info.get(WROTE, 0) + 1


def _remember_statement_writes(orm_execute_state):
    # Bulk INSERTs, UPDATEs with RETURNING (counters) and text statements
    # write without a flush.
    if not orm_execute_state.is_select:
        session = orm_execute_state.session
        session.info[WROTE] = session.info.get(WROTE, 0) + 1


def _committed(session):
    # Effects stay pending: a commit inside Flask-AppBuilder's own login
    # code is not the end of the unit; the boundary runs them.
    for key in (WROTE, CACHE):
        session.info.pop(key, None)


def _rolled_back(session, previous_transaction):
    # A savepoint rolled back (a lost race on a counter) leaves the unit going.
    if previous_transaction.parent is None:
        for key in (PENDING_EFFECTS, WROTE, CACHE):
            session.info.pop(key, None)


event.listen(Session, "after_flush", _remember_writes)
event.listen(Session, "do_orm_execute", _remember_statement_writes)
event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_soft_rollback", _rolled_back)


def init_app(app):
    """Every request ends at the boundary. Register before any other after_request hook
    (Flask runs them in reverse order, so this one runs last)."""
    app.after_request(_finish_request)
