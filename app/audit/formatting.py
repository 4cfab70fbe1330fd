"""How the LOG names record types, fields and operations to a person.

Each module registers its versioned models with their labels, so the LOG
reads "Дилър · ЕИК/Булстат: 121… → 131…" rather than class and column names.
"""
import re

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

_entities = {}

OPERATION_LABELS = {
    "insert": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "login": _l("Login"),
    "login_failed": _l("Failed login"),
    "logout": _l("Logout"),
    "refused": _l("Access refused"),
    "job": _l("Background job"),
    "override": _l("Rule overridden"),
    "personal_data": _l("Personal data viewed"),
    "collector": _l("Payment collector call"),
}


_personal_fields = {}
_value_labels = {}


def register_entity(model_class, label, field_labels, personal_fields=None, value_labels=None):
    """Declare how the LOG names a model and its fields.

    `personal_fields` maps a field to its masking function: the LOG shows
    it in full only to operators with the right to see personal data.
    `value_labels` maps a field holding a code to {code: label}, so the LOG
    reads "Активна", not "active".
    """
    _entities[model_class.__name__] = (label, field_labels)
    _personal_fields[model_class.__name__] = personal_fields or {}
    _value_labels[model_class.__name__] = {field: dict(labels) for field, labels in (value_labels or {}).items()}


def entity_label(entity_type):
    if entity_type in _entities:
        return _entities[entity_type][0]
    return entity_type or ""


def field_label(entity_type, field):
    labels = _entities.get(entity_type, (None, {}))[1]
    return labels.get(field, field)


def entity_choices():
    """(class name, label) pairs of every registered record type."""
    return [(name, label) for name, (label, _fields) in sorted(_entities.items())]


MAX_SHOWN_VALUE = 120
_ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d:\d\d(\.\d+)?)?")


def _value(value):
    if value is None or value == "":
        return "∅"
    if isinstance(value, str) and _ISO_MOMENT.fullmatch(value):
        from datetime import datetime

        from app.core.formatting import format_date, format_datetime

        moment = datetime.fromisoformat(value)
        return format_date(moment.date()) if len(value) == 10 else format_datetime(moment)
    if value is True:
        return str(_l("Yes"))
    if value is False:
        return str(_l("No"))
    text = str(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"


def format_changes(entry):
    """The changed fields of a LOG entry as an HTML list "field: old → new"."""
    if not entry.changes:
        return Markup(escape(entry.note or ""))
    items = []
    maskers = _personal_fields.get(entry.entity_type, {})
    if maskers:
        from app.security import permissions
        from app.security.rights import has_right

        if has_right(permissions.SEE_PERSONAL_DATA):
            maskers = {}
    codes = _value_labels.get(entry.entity_type, {})
    for field, (old, new) in entry.changes.items():
        if field in maskers:
            old, new = (maskers[field](value) if value else value for value in (old, new))
        if field in codes:
            old, new = (codes[field].get(value, value) for value in (old, new))
        label = field_label(entry.entity_type, field)
        if entry.operation == "insert":
            line = Markup("<b>{}</b>: {}").format(label, _value(new))
        elif entry.operation == "delete":
            line = Markup("<b>{}</b>: {}").format(label, _value(old))
        else:
            line = Markup("<b>{}</b>: {} → {}").format(label, _value(old), _value(new))
        items.append(Markup("<li>{}</li>").format(line))
    return Markup("<ul>{}</ul>").format(Markup("").join(items))


def format_operation(operation):
    return OPERATION_LABELS.get(operation, operation)


def init_app(app):
    app.add_template_filter(lambda entry: format_operation(entry.operation), "log_operation")
    app.add_template_filter(format_changes, "log_changes")
