"""How the LOG names record types, fields and operations to a person.

Each module registers its versioned models with their labels, so the LOG
reads "Дилър · ЕИК/Булстат: 121… → 131…" rather than class and column names.
"""
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
}


def register_entity(model_class, label, field_labels):
    """Declare how the LOG names a model and its fields."""
    _entities[model_class.__name__] = (label, field_labels)


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


def _value(value):
    if value is None or value == "":
        return "∅"
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
    for field, (old, new) in entry.changes.items():
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
