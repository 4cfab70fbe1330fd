"""Continuum plugin that writes a LogEntry beside every version object."""
import datetime
import decimal
import enum

import sqlalchemy as sa
from sqlalchemy_continuum.operation import Operation
from sqlalchemy_continuum.plugins.base import Plugin
from sqlalchemy_continuum.utils import versioned_column_properties

_OPERATIONS = {
    Operation.INSERT: "insert",
    Operation.UPDATE: "update",
    Operation.DELETE: "delete",
}
MASK = "***"


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


def record_key(parent_obj):
    """The primary key of a record as the LOG shows it."""
    identity = sa.inspect(parent_obj).identity
    if identity is None:
        mapper = sa.inspect(parent_obj).mapper
        identity = tuple(getattr(parent_obj, c.key) for c in mapper.primary_key)
    return ",".join(str(part) for part in identity)


class LogEntryPlugin(Plugin):
    def after_create_version_object(self, uow, parent_obj, version_obj):
        from app.audit.models import LogEntry

        operation = version_obj.operation_type
        changes = changed_fields(uow, parent_obj, version_obj, operation)
        if operation == Operation.UPDATE and not changes:
            return
        transaction = uow.current_transaction
        uow.version_session.add(
            LogEntry(
                transaction_id=transaction.id,
                issued_at=transaction.issued_at,
                user_id=transaction.user_id,
                remote_addr=transaction.remote_addr,
                entity_type=type(parent_obj).__name__,
                entity_id=record_key(parent_obj),
                entity_label=str(parent_obj)[:500],
                operation=_OPERATIONS[operation],
                changes=changes,
            )
        )
