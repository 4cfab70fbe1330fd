"""The LOG of a set-based change: what Continuum and LogEntryPlugin write on a flush, for many rows at once.

A job that changes thousands of records of one kind (the billing cycle
suspending a fifth of the subscriptions on the first of a month) writes
them with a few UPDATE statements instead of flushing one object after
another: through the ORM, every object costs a version object, a validity
UPDATE, a LogEntry and the unit of work's bookkeeping, and the cycle would
take ten times longer. The LOG must not tell the difference, so for the
rows such a job has just updated `log_updates` writes:

- one Continuum transaction (who, when; a system actor has no operator);
- each row's new version: a copy of the row as it now is, operation
  "update", in the model's <table>_version table;
- the end of each previous version's validity (the "validity" strategy
  that Continuum is configured with);
- a LogEntry per row with the fields changed, old → new, masked where the
  model masks them, as app.audit.plugin writes them.

tests/audit/test_bulk.py checks that the rows written here are the rows a
flush of the same change writes.
"""
import sqlalchemy as sa
from sqlalchemy_continuum import version_class, versioning_manager
from sqlalchemy_continuum.operation import Operation
from sqlalchemy_continuum.utils import versioned_column_properties

from app.audit.models import LogEntry
from app.audit.plugin import MASK, loggable, record_key
from app.core.actors import current_actor_id, current_remote_addr, system_actor_name
from app.core.formatting import utcnow
from app.extensions import db


def log_updates(changed):
    """Writes the versions and LOG entries of rows just updated in the database, not through the ORM.

    `changed`: [(obj, {field: (old, new)})], objects of one versioned model
    whose rows already hold the new values (the object may still hold the
    old ones). Rows without a change are left out. Returns the Continuum
    transaction id, or None when nothing changed.
    """
    changed = [(obj, fields) for obj, fields in changed if fields]
    if not changed:
        return None
    model = type(changed[0][0])
    version_table = version_class(model).__table__
    parent_table = model.__table__
    transaction_table = versioning_manager.transaction_cls.__table__
    issued_at = utcnow()
    transaction_id = db.session.execute(
        sa.insert(transaction_table).values(issued_at=issued_at, user_id=current_actor_id(),
                                            remote_addr=current_remote_addr())
        .returning(transaction_table.c.id)
    ).scalar_one()
    ids = [obj.id for obj, _fields in changed]
    columns = [prop.columns[0].name for prop in versioned_column_properties(model)]
    for part in _parts(ids):
        # The previous versions end where the new ones begin.
        db.session.execute(
            sa.update(version_table)
            .where(version_table.c.id.in_(part), version_table.c.end_transaction_id.is_(None))
            .values(end_transaction_id=transaction_id)
        )
        db.session.execute(sa.insert(version_table).from_select(
            [*columns, "transaction_id", "operation_type"],
            sa.select(*(parent_table.c[name] for name in columns), sa.literal(transaction_id),
                      sa.literal(Operation.UPDATE)).where(parent_table.c.id.in_(part)),
        ))
    masked = set(getattr(model, "__log_masked__", ()))
    username = system_actor_name()
    db.session.execute(sa.insert(LogEntry.__table__), [
        {"transaction_id": transaction_id, "issued_at": issued_at, "user_id": current_actor_id(),
         "remote_addr": current_remote_addr(), "username": username, "entity_type": model.__name__,
         "entity_id": record_key(obj), "entity_label": str(obj)[:500], "operation": LogEntry.UPDATE,
         "changes": {key: _shown(key, old, new, masked) for key, (old, new) in fields.items()}}
        for obj, fields in changed
    ])
    return transaction_id


def _shown(key, old, new, masked):
    if key in masked:
        return [MASK if old is not None else None, MASK if new is not None else None]
    return [loggable(old), loggable(new)]


def _parts(ids, size=500):
    # IN lists of a bounded length: SQLite limits the number of parameters of one statement.
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
