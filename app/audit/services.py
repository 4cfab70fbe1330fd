"""Reading and writing the LOG."""
from sqlalchemy import select

from app.audit.actor import current_remote_addr
from app.audit.models import LogEntry
from app.extensions import db


def record_event(operation, user=None, username=None, note=None, entity=None, commit=True):
    """Record an event that is not a change of a record's fields.

    Security events commit at once (commit=True): a refused or failed login
    must be on record even though the request itself fails. Events that
    belong to a change being made (commit=False) go with its transaction.
    """
    entry = LogEntry(
        operation=operation,
        user_id=getattr(user, "id", None),
        username=(username or getattr(user, "username", None) or "")[:256] or None,
        remote_addr=current_remote_addr(),
        note=(note or "")[:500] or None,
        changes={},
    )
    if entity is not None:
        entry.entity_type = type(entity).__name__
        entry.entity_id = str(entity.id) if entity.id is not None else None
        entry.entity_label = str(entity)[:500]
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def record_history(model_class, pk, limit=200):
    """The LOG entries of one record, newest first (with the records they point to loaded)."""
    from app.audit.formatting import prefetch_references

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
