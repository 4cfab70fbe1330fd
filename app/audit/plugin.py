"""Continuum plugin that writes a LogEntry beside every version object."""
import datetime
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy_continuum.operation import Operation
from sqlalchemy_continuum.plugins.base import Plugin
from sqlalchemy_continuum.utils import is_modified, is_versioned, versioned_column_properties

from app.core.actors import system_actor_name

_OPERATIONS = {
    Operation.INSERT: "insert",
    Operation.UPDATE: "update",
    Operation.DELETE: "delete",
}
MASK = "***"
# The LOG's model, app.audit.models.LogEntry. This plugin exists before any model class may be defined
# (make_versioned(), app.audit.versioning), so the model hands itself over once defined: log_entries_are.
_entry_model = None


def log_entries_are(model):
    """The model the plugin writes its LOG rows as (app.audit.models calls it right after defining LogEntry)."""
    global _entry_model
    _entry_model = model


def loggable(value):
    """A JSON-safe rendering of a column value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def _previous_value(uow, parent_obj, version_obj, key):
    """Value of `key` in the previous version, for attributes changed unloaded."""
    version_cls = type(version_obj)
    mapper = sa.inspect(parent_obj).mapper
    query = uow.version_session.query(getattr(version_cls, key))
    for column in mapper.primary_key:
        query = query.filter(getattr(version_cls, column.key) == getattr(parent_obj, column.key))
    previous = (
        query.filter(version_cls.transaction_id < version_obj.transaction_id)
        .order_by(version_cls.transaction_id.desc())
        .limit(1)
        .scalar()
    )
    return previous


def changed_fields(uow, parent_obj, version_obj, operation):
    """{field: [old, new]} for the columns this operation changed."""
    masked = set(getattr(parent_obj, "__log_masked__", ()))
    state = sa.inspect(parent_obj)
    # The primary key is the entry's record id already.
    primary_keys = {column.key for column in state.mapper.primary_key}
    changes = {}
    for prop in versioned_column_properties(parent_obj):
        key = prop.key
        if key in primary_keys:
            continue
        if operation == Operation.INSERT:
            old, new = None, getattr(parent_obj, key)
            if new is None:
                continue
        elif operation == Operation.DELETE:
            old, new = getattr(parent_obj, key), None
            if old is None:
                continue
        else:
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            new = history.added[0] if history.added else None
            if history.deleted:
                old = history.deleted[0]
            else:
                old = _previous_value(uow, parent_obj, version_obj, key)
            if old == new:
                continue
        if key in masked:
            old = MASK if old is not None else None
            new = MASK if new is not None else None
        changes[key] = [loggable(old), loggable(new)]
    return changes


def collection_changes(obj):
    """{relationship: [old, new]} for changed many-to-many collections (e.g. roles).

    Continuum versions association rows but makes no version of the parent
    when only a collection changed; the LOG still has to say who changed it.
    """
    state = sa.inspect(obj)
    changes = {}
    for relationship in state.mapper.relationships:
        if relationship.secondary is None:
            continue
        history = state.attrs[relationship.key].history
        if not history.added and not history.deleted:
            continue
        unchanged = list(history.unchanged or ())
        old = sorted(str(item) for item in unchanged + list(history.deleted or ()))
        new = sorted(str(item) for item in unchanged + list(history.added or ()))
        if old != new:
            changes[relationship.key] = [", ".join(old), ", ".join(new)]
    return changes


def _continuum_will_version(obj):
    """Mirrors Continuum's own test (manager.track_updates, Operations.add_update):
    a version is made only when something besides collections is in the
    committed state."""
    state = sa.inspect(obj)
    collections = {
        key for key, rel in state.mapper.relationships.items() if rel.direction.name in ("ONETOMANY", "MANYTOMANY")
    }
    return is_modified(obj) and any(key not in collections for key in state.committed_state)


def _only_collections_changed(session):
    for obj in session.dirty:
        if is_versioned(obj) and not _continuum_will_version(obj) and collection_changes(obj):
            yield obj


def record_key(parent_obj):
    """The primary key of a record as the LOG shows it."""
    identity = sa.inspect(parent_obj).identity
    if identity is None:
        mapper = sa.inspect(parent_obj).mapper
        identity = tuple(getattr(parent_obj, c.key) for c in mapper.primary_key)
    return ",".join(str(part) for part in identity)


def _log_entry(transaction, obj, operation, changes):
    return _entry_model(
        transaction_id=transaction.id,
        issued_at=transaction.issued_at,
        user_id=transaction.user_id,
        remote_addr=transaction.remote_addr,
        # A system actor has no operator row: the LOG names it ("billing cycle № 12", "collector epay").
        username=system_actor_name(),
        entity_type=type(obj).__name__,
        entity_id=record_key(obj),
        entity_label=str(obj)[:500],
        operation=operation,
        changes=changes,
    )


class LogEntryPlugin(Plugin):
    def after_build_tx_class(self, manager):
        # Reports of a past day find the last transaction before a moment by its time
        # (app.reports.services: the services as of a day); migration 0023 made the index.
        table = manager.transaction_cls.__table__
        if "ix_transaction_issued_at" not in {index.name for index in table.indexes}:
            sa.Index("ix_transaction_issued_at", table.c.issued_at)

    def is_session_modified(self, session):
        # Makes Continuum open a transaction (who, when, IP) for a flush that
        # changes only collections.
        return any(True for _ in _only_collections_changed(session))

    def before_flush(self, uow, session):
        for obj in list(_only_collections_changed(session)):
            session.add(_log_entry(uow.current_transaction, obj, "update", collection_changes(obj)))

    def after_create_version_object(self, uow, parent_obj, version_obj):
        operation = version_obj.operation_type
        changes = changed_fields(uow, parent_obj, version_obj, operation)
        if operation == Operation.UPDATE:
            changes.update(collection_changes(parent_obj))
            if not changes:
                return
        uow.version_session.add(
            _log_entry(uow.current_transaction, parent_obj, _OPERATIONS[operation], changes)
        )
