"""The one set-based write path for versioned rows: the UPDATEs, and the LOG a flush would have written.

A job that changes thousands of records of one kind (the billing cycle
suspending a fifth of the subscriptions on the first of a month) writes
them with a few UPDATE statements instead of flushing one object after
another: through the ORM, every object costs a version object, a validity
UPDATE, a LogEntry and the unit of work's bookkeeping, and the cycle would
take ten times longer. The LOG must not tell the difference, so for the
rows such a job changes, `update_rows` (changes known at once) or
`PendingUpdates` (changes decided one by one, the loaded objects showing
each at once: the billing cycle's chunk) writes the grouped UPDATEs, and
then `log_updates` writes:

- one Continuum transaction (who, when; a system actor has no operator);
- each row's new version: a copy of the row as it now is, operation
  "update", in the model's <table>_version table;
- the end of each previous version's validity (the "validity" strategy
  that Continuum is configured with);
- a LogEntry per row with the fields changed, old → new, masked where the
  model masks them, as app.audit.plugin writes them.

The loaded objects then show the new values as their database state (not
changed for the ORM, so no flush writes them again): a module never sets
ORM state by hand. tests/audit/test_bulk.py checks that the rows written
here are the rows a flush of the same change writes, and that no module
outside core and audit calls set_committed_value.
"""
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy_continuum import version_class, versioning_manager
from sqlalchemy_continuum.operation import Operation
from sqlalchemy_continuum.utils import versioned_column_properties

from app.audit.models import LogEntry
from app.audit.plugin import MASK, loggable, record_key
from app.core.actors import current_actor_id, current_remote_addr, system_actor_name
from app.core.formatting import utcnow
from app.extensions import db


def update_rows(changes):
    """Writes `changes` ({obj: {field: new value}}, loaded objects of one versioned model) set-based, with
    their versions and LOG entries; the objects then hold the new values. Returns the Continuum transaction id,
    or None when no value changed."""
    return _write([(obj, {field: (getattr(obj, field), new) for field, new in fields.items()})
                   for obj, fields in changes.items()])


class PendingUpdates:
    """Changes to loaded objects of one versioned model, decided one after another and written at once.

    `set` shows the new value on the object at once (the next rule reads
    it), without the ORM seeing a change to flush; the value before the
    first `set` is kept for the LOG. `write` stores them all (update_rows).
    """

    def __init__(self):
        self.changes = {}  # obj -> {field: [old, new]}

    def set(self, obj, field, value):
        self.changes.setdefault(obj, {}).setdefault(field, [getattr(obj, field), value])[1] = value
        set_committed_value(obj, field, value)

    def write(self):
        """Stores the changes; returns the Continuum transaction id, or None when no value changed."""
        changes, self.changes = self.changes, {}
        return _write([(obj, {field: (old, new) for field, (old, new) in fields.items()})
                       for obj, fields in changes.items()])


def _write(changed):
    """UPDATEs for [(obj, {field: (old, new)})] (rows getting the same values share one), their LOG, and the
    objects showing the new values."""
    changed = [(obj, {field: (old, new) for field, (old, new) in fields.items() if old != new})
               for obj, fields in changed]
    changed = [(obj, fields) for obj, fields in changed if fields]
    if not changed:
        return None
    table = type(changed[0][0]).__table__
    groups = {}
    for obj, fields in changed:
        groups.setdefault(tuple(sorted((field, new) for field, (_old, new) in fields.items())), []).append(obj.id)
    # The day's suspensions are a handful of statements.
    for values, ids in groups.items():
        for part in _parts(ids):
            db.session.execute(sa.update(table).where(table.c.id.in_(part)).values(dict(values)))
    for obj, fields in changed:
        for field, (_old, new) in fields.items():
            set_committed_value(obj, field, new)
    return log_updates(changed)


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
