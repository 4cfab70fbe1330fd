"""Reading and writing the LOG."""
from dataclasses import dataclass

from sqlalchemy import String, and_, cast, func, insert, or_, select

from app.core.actors import current_remote_addr
from app.audit.formatting import prefetch_references, registered_models
from app.audit.models import LogEntry
from app.extensions import db


def record_event(operation, user=None, username=None, note=None, entity=None):
    """Record an event that is not a change of a record's fields, in the current unit of work.

    It is kept when the unit commits and gone when it rolls back, like the
    change it belongs to. Security events that must outlive a failed
    request go through record_security_event instead.
    """
    entry = LogEntry(**_event_values(operation, user, username, note))
    if entity is not None:
        entry.entity_type = type(entity).__name__
        entry.entity_id = str(entity.id) if entity.id is not None else None
        entry.entity_label = str(entity)[:500]
    db.session.add(entry)
    return entry


def record_security_event(operation, user=None, username=None, note=None, remote_addr=None):
    """Record a security event (a refused login, a refusal by protection) that outlives the request.

    The request that causes it fails, and its unit of work rolls back; this
    entry is written at once in a transaction of its own on a separate
    connection, the one documented path besides the unit of work's commit
    (docs/architecture.md). `remote_addr`: where it came from when that is
    not the current request (a RADIUS packet's source).
    """
    values = _event_values(operation, user, username, note)
    if remote_addr is not None:
        values["remote_addr"] = remote_addr[:50]
    with db.engine.begin() as connection:
        connection.execute(insert(LogEntry).values(changes={}, **values))


def _event_values(operation, user, username, note):
    return {
        "operation": operation,
        "user_id": getattr(user, "id", None),
        # A system actor (a collector, the billing cycle) has a name, not an account.
        "username": (username or getattr(user, "username", None) or (str(user) if user is not None else ""))[:256]
        or None,
        "remote_addr": current_remote_addr(),
        "note": (note or "")[:500] or None,
    }


def record_history(model_class, pk, limit=200):
    """The LOG entries of one record, newest first (with the records they point to loaded)."""
    entries = (
        db.session.execute(
            select(LogEntry)
            .where(LogEntry.entity_type == model_class.__name__, LogEntry.entity_id == str(pk))
            .order_by(LogEntry.issued_at.desc(), LogEntry.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    prefetch_references(entries)
    return entries


@dataclass
class OwnedHistory:
    """A record's business in the LOG (its own changes and those of what it owns), and the views of its
    personal data apart."""

    entries: list
    personal_views: list
    personal_view_count: int


def owned_entries(owner_model, pks, owner_column="client_id"):
    """SQL condition: the LOG entry is of one of these records (`pks`, ids or a SELECT of ids) or of a record
    they own (every model the LOG names with `owner_column` pointing at them)."""
    own_ids = select(cast(owner_model.id, String)).where(owner_model.id.in_(pks))
    conditions = [and_(LogEntry.entity_type == owner_model.__name__, LogEntry.entity_id.in_(own_ids))]
    for name, model in sorted(registered_models().items()):
        column = getattr(model, owner_column, None)
        if model is owner_model or column is None or not hasattr(model, "id"):
            continue
        conditions.append(and_(LogEntry.entity_type == name,
                               LogEntry.entity_id.in_(select(cast(model.id, String)).where(column.in_(pks)))))
    return or_(*conditions)


def owned_history(owner_model, pk, owner_column="client_id", limit=200, views_limit=50):
    """The LOG entries of a record and of the records it owns — every model the LOG names with
    `owner_column` pointing at it: a client's subscriptions (sales, status changes), payments, charges, tasks,
    invoices, contracts —, newest first. The views of personal data (one per card opened) are not business:
    they come apart, the latest `views_limit` and how many there are."""
    mine = owned_entries(owner_model, [pk], owner_column)
    newest = (LogEntry.issued_at.desc(), LogEntry.id.desc())
    entries = db.session.scalars(select(LogEntry).where(mine, LogEntry.operation != LogEntry.PERSONAL_DATA)
                                 .order_by(*newest).limit(limit)).all()
    viewed = and_(mine, LogEntry.operation == LogEntry.PERSONAL_DATA)
    views = db.session.scalars(select(LogEntry).where(viewed).order_by(*newest).limit(views_limit)).all()
    count = db.session.scalar(select(func.count(LogEntry.id)).where(viewed)) if len(views) == views_limit \
        else len(views)
    prefetch_references(entries)
    return OwnedHistory(entries, views, count)


HOME_ENTRIES = 8


def home_latest_entries(actor):
    """The home page's LOG part: the operator's own latest entries (what they did today and before)."""
    if actor is None or getattr(actor, "id", None) is None:
        return {}
    entries = db.session.scalars(
        select(LogEntry).where(LogEntry.user_id == actor.id)
        .order_by(LogEntry.issued_at.desc(), LogEntry.id.desc()).limit(HOME_ENTRIES)).all()
    return {"home_entries": entries}
