"""The one set-based write path for versioned rows: the UPDATEs and INSERTs, and the LOG a flush would have written.

New records (an import's chunk of clients) go the same way: `PendingInserts` (or
`insert_rows`) writes transient objects with one INSERT per table, copies
them into their version tables (operation "insert", or "update" when the
same unit of work changed them after the insert, as Continuum records it)
under one transaction row, and writes their LOG entries: the insert with
every column set, the later change old → new, and the events queued.

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
from sqlalchemy_continuum.utils import is_versioned, versioned_column_properties

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
    transaction_id, issued_at = _new_transaction()
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


class PendingInserts:
    """New records of versioned models, checked one by one and written at once: the INSERT path.

    `add(obj)` queues a transient object (built by the same code that checks
    it, never added to the session); `changed(obj, {field: (old, new)})`
    says that after its insert the same unit of work changed it (a sale
    activated at once): the object holds the new values, the LOG has the
    insert with the old ones, then the update; `event(operation, obj, …)`
    queues an event entry (app.audit.services.record_event's row) about it.
    `write()` stores them with one INSERT … RETURNING per model (in the order
    the models were first queued: parents before children), their versions
    and LOG entries, in one Continuum transaction — the rows a flush of each
    object would have written (tests/audit/test_bulk.py, tests/imports). The
    objects then hold their ids; they stay out of the session.
    """

    def __init__(self):
        self.objects = {}  # model -> [obj], in order
        self.after = {}  # id(obj) -> {field: (old, new)}
        self.labels = {}  # id(obj) -> the LOG's label
        self.log = []  # ("changes", obj) or ("event", obj, values), in order

    def __len__(self):
        return sum(len(objects) for objects in self.objects.values())

    def add(self, obj, label=None):
        self.objects.setdefault(type(obj), []).append(obj)
        if label is not None:
            self.labels[id(obj)] = label
        self.log.append(("changes", obj))
        return obj

    def changed(self, obj, changes):
        self.after.setdefault(id(obj), {}).update(changes)

    def event(self, operation, obj, user=None, note=None):
        from app.audit.services import _event_values

        self.log.append(("event", obj, _event_values(operation, user, None, note)))

    def write(self):
        """Writes what was queued; returns the Continuum transaction id (None when nothing was queued)."""
        if not self.objects:
            return None
        transaction_id, issued_at = _new_transaction()
        for model, objects in self.objects.items():
            _insert(model, objects, transaction_id, self.after)
        entries = []
        for item in self.log:
            obj = item[1]
            label = self.labels.get(id(obj)) or str(obj)
            if item[0] == "event":
                entries.append({"transaction_id": None, "issued_at": utcnow(), "entity_type": type(obj).__name__,
                                "entity_id": str(obj.id), "entity_label": label[:500], "changes": {}, **item[2]})
                continue
            if not is_versioned(type(obj)):
                continue
            base = {"transaction_id": transaction_id, "issued_at": issued_at, "user_id": current_actor_id(),
                    "remote_addr": current_remote_addr(), "username": system_actor_name(),
                    "entity_type": type(obj).__name__, "entity_id": record_key(obj), "entity_label": label[:500],
                    "note": None}
            after = self.after.get(id(obj), {})
            entries.append({**base, "operation": LogEntry.INSERT, "changes": _inserted(obj, after)})
            masked = set(getattr(type(obj), "__log_masked__", ()))
            changes = {key: _shown(key, old, new, masked) for key, (old, new) in after.items() if old != new}
            if changes:
                entries.append({**base, "operation": LogEntry.UPDATE, "changes": changes})
        if entries:
            db.session.execute(sa.insert(LogEntry.__table__), entries)
        self.objects, self.after, self.labels, self.log = {}, {}, {}, []
        return transaction_id


def insert_rows(objects, label=None):
    """Writes `objects` (transient objects of versioned models, parents first) set-based, with their versions
    and LOG entries, as PendingInserts does; returns the Continuum transaction id."""
    pending = PendingInserts()
    for obj in objects:
        pending.add(obj, label(obj) if label else None)
    return pending.write()


def _new_transaction():
    transaction_table = versioning_manager.transaction_cls.__table__
    issued_at = utcnow()
    transaction_id = db.session.execute(
        sa.insert(transaction_table).values(issued_at=issued_at, user_id=current_actor_id(),
                                            remote_addr=current_remote_addr())
        .returning(transaction_table.c.id)
    ).scalar_one()
    return transaction_id, issued_at


def _row(obj):
    """The object's column values as a flush would insert them: its many-to-one relations' keys, and the
    columns' Python defaults for what was never set (kept on the object, so the LOG shows them)."""
    mapper = sa.inspect(type(obj))
    state = obj.__dict__
    for relationship in mapper.relationships:
        if relationship.direction.name != "MANYTOONE":
            continue
        related = state.get(relationship.key)
        if related is None:
            continue
        for local, remote in relationship.local_remote_pairs:
            setattr(obj, mapper.get_property_by_column(local).key, getattr(related, remote.key))
    row = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if not isinstance(column, sa.Column) or column.table is not mapper.local_table or column.primary_key:
            continue  # a computed column_property (a subquery), or the key the INSERT returns
        if prop.key not in state and column.default is not None:
            default = column.default
            value = default.arg(None) if default.is_callable else default.arg
            setattr(obj, prop.key, value)
        if prop.key in state:
            row[column.name] = state[prop.key]
    return row


def _insert(model, objects, transaction_id, after):
    table = model.__table__
    rows = [_row(obj) for obj in objects]
    # One statement per set of columns (executemany; RETURNING in the parameters' order).
    groups = {}
    for obj, row in zip(objects, rows):
        groups.setdefault(tuple(sorted(row)), []).append((obj, row))
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    for members in groups.values():
        for start in range(0, len(members), 500):
            part = members[start:start + 500]
            if sqlite:
                # SQLite batches no executemany with RETURNING in order: one multi-row INSERT, whose rows take
                # their ids in the order of its VALUES (one writer; each id the next).
                ids = sorted(db.session.execute(sa.insert(table).values([row for _obj, row in part])
                                                .returning(table.c.id)).scalars().all())
            else:
                ids = db.session.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                         [row for _obj, row in part]).scalars().all()
            for (obj, _row_values), new_id in zip(part, ids):
                obj.id = new_id
    if not is_versioned(model):
        return
    version_table = version_class(model).__table__
    columns = [prop.columns[0].name for prop in versioned_column_properties(model)]
    # Continuum: a record inserted and changed in one transaction has one version, an "update".
    by_operation = {}
    for obj in objects:
        by_operation.setdefault(Operation.UPDATE if after.get(id(obj)) else Operation.INSERT, []).append(obj.id)
    for operation, ids in by_operation.items():
        for part in _parts(ids):
            db.session.execute(sa.insert(version_table).from_select(
                [*columns, "transaction_id", "operation_type"],
                sa.select(*(table.c[name] for name in columns), sa.literal(transaction_id),
                          sa.literal(operation)).where(table.c.id.in_(part)),
            ))


def _inserted(obj, after):
    """The insert's LOG changes: every versioned column set, with its value before the later changes."""
    masked = set(getattr(type(obj), "__log_masked__", ()))
    changes = {}
    for prop in versioned_column_properties(obj):
        if prop.columns[0].primary_key:
            continue
        new = after[prop.key][0] if prop.key in after else getattr(obj, prop.key)
        if new is None:
            continue
        if prop.key in masked:
            changes[prop.key] = [None, MASK]
        else:
            changes[prop.key] = [None, loggable(new)]
    return changes
