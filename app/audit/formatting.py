"""How the LOG names record types, fields and operations to a person.

Each module registers its versioned models with their labels, so the LOG
reads "Дилър · ЕИК/Булстат: 121… → 131…" rather than class and column names.
"""
import re
from datetime import datetime

from flask import current_app, g, url_for
from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup, escape
from sqlalchemy import Numeric, inspect

from app.core.formatting import format_date, format_datetime
from app.extensions import db

_entities = {}
_models = {}  # class name → model class, to name the records a change points to

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
    "secret_viewed": _l("Password viewed"),
    "collector": _l("Payment collector call"),
    "radius_dropped": _l("RADIUS packets dropped"),
    "export": _l("Export"),
    "second_factor": _l("Two-factor login"),
    "import": _l("Import from a file"),
    "portal_link": _l("Portal access link"),
}


_personal_fields = {}
_value_labels = {}
_hidden_fields = {}
SUMMARY_LINES = 6  # a creation in the list: this many fields, the rest on the entry's page


def _personal_data_visible():
    return False


def show_personal_data_when(check):
    """Who sees personal fields unmasked in the LOG: `check()` for the current viewer.

    The security module sets it (the right to see personal data); until
    then the LOG masks them for everyone.
    """
    global _personal_data_visible
    _personal_data_visible = check


def register_entity(model_class, label, field_labels, personal_fields=None, value_labels=None, hidden=()):
    """Declare how the LOG names a model and its fields.

    `personal_fields` maps a field to its masking function: the LOG shows
    it in full only to operators with the right to see personal data.
    `value_labels` maps a field holding a code to {code: label}, so the LOG
    reads "Активна", not "active". `hidden` fields are internal keys the
    LOG leaves out.
    """
    # A copy: FAB fills a view's label_columns (often this same dict) with English names of its own.
    _entities[model_class.__name__] = (label, dict(field_labels))
    _hidden_fields[model_class.__name__] = frozenset(hidden)
    _models[model_class.__name__] = model_class
    _personal_fields[model_class.__name__] = personal_fields or {}
    _value_labels[model_class.__name__] = {field: dict(labels) for field, labels in (value_labels or {}).items()}


def hidden_fields(entity_type):
    """The internal keys the LOG leaves out of a record type's changes."""
    return _hidden_fields.get(entity_type, frozenset())


def entity_label(entity_type):
    if entity_type in _entities:
        return _entities[entity_type][0]
    return entity_type or ""


def _prettified(field):
    """FAB's English label of a column it was given none for ("client_id" → "Client Id")."""
    return field.replace("_", " ").title()


def field_label(entity_type, field):
    """The field's Bulgarian label; a reference ("client_id") is named as its relation ("client") is."""
    labels = _entities.get(entity_type, (None, {}))[1]
    label = labels.get(field)
    if (label is None or str(label) == _prettified(field)) and field.endswith("_id"):
        label = labels.get(field[:-3], label)
    return field if label is None else label


def entity_choices():
    """(class name, label) pairs of every registered record type."""
    return [(name, label) for name, (label, _fields) in sorted(_entities.items())]


MAX_SHOWN_VALUE = 120
_ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d:\d\d(\.\d+)?)?")
_ISO_TIME = re.compile(r"\d{2}:\d{2}:00")


EMPTY = "—"


def _value(value):
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str) and _ISO_MOMENT.fullmatch(value):
        moment = datetime.fromisoformat(value)
        return format_date(moment.date()) if len(value) == 10 else format_datetime(moment)
    if isinstance(value, str) and _ISO_TIME.fullmatch(value):
        return value[:5]  # a time of day as the office writes it: 09:00, not 09:00:00
    if value is True:
        return str(_l("Yes"))
    if value is False:
        return str(_l("No"))
    text = str(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"


def _mapped_class(table):
    """The model class of a table (for ab_user the project's Operator, the most derived one)."""
    classes = [mapper.class_ for mapper in Model.registry.mappers if mapper.local_table is table]
    return max(classes, key=lambda cls: len(cls.__mro__)) if classes else None


def _is_numeric(entity_type, field):
    model = _models.get(entity_type)
    column = inspect(model).columns.get(field) if model is not None else None
    return column is not None and isinstance(column.type, Numeric)


def _reference_target(entity_type, field):
    """The model class a field of a registered model points to, or None."""
    model = _models.get(entity_type)
    if model is None:
        return None
    column = inspect(model).columns.get(field)
    if column is None or not column.foreign_keys:
        return None
    return _mapped_class(next(iter(column.foreign_keys)).column.table)


def prefetch_references(entries):
    """Loads every record a page of LOG entries points to, one query per record type.

    referenced_label then finds them in the session's identity map.
    """
    wanted = {}
    for entry in entries:
        for field, values in (entry.changes or {}).items():
            target = _reference_target(entry.entity_type, field)
            if target is not None:
                wanted.setdefault(target, set()).update(
                    value for value in values if isinstance(value, int) and not isinstance(value, bool))
    # The session's identity map holds records weakly: keep them for the request.
    kept = g.setdefault("log_references", [])
    for target, ids in wanted.items():
        if ids:
            kept.extend(db.session.scalars(db.select(target).where(target.id.in_(ids))).all())


def referenced_label(entity_type, field, value):
    """What a foreign-key value points to, as the record's name ("Иван Петров (100001)"), or None.

    Read through the session's identity map, so a page naming the same
    record many times asks the database once.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    target = _reference_target(entity_type, field)
    if target is None:
        return None
    record = db.session.get(target, value)
    # A record deleted since keeps its number in the LOG.
    return str(record) if record is not None else f"№ {value}"


def format_changes(entry, limit=None):
    """The changed fields of a LOG entry as an HTML list "field: old → new"; with `limit`, at most that many
    lines and a line saying how many more the entry's page shows."""
    if not entry.changes:
        return Markup(escape(entry.note or ""))
    items = []
    hidden = hidden_fields(entry.entity_type)
    maskers = _personal_fields.get(entry.entity_type, {})
    if maskers and _personal_data_visible():
        maskers = {}
    codes = _value_labels.get(entry.entity_type, {})
    shown = [(field, values) for field, values in entry.changes.items() if field not in hidden]
    more = 0
    if limit is not None and len(shown) > limit + 1:
        shown, more = shown[:limit], len(shown) - limit
    for field, (old, new) in shown:
        if field in maskers:
            old, new = (maskers[field](value) if value else value for value in (old, new))
        if field in codes:
            old, new = (codes[field].get(value, value) for value in (old, new))
        elif _is_numeric(entry.entity_type, field):
            # Amounts and rates the Bulgarian way: "12,90".
            old, new = (value.replace(".", ",") if isinstance(value, str) else value for value in (old, new))
        else:
            old, new = (referenced_label(entry.entity_type, field, value) or value for value in (old, new))
        label = field_label(entry.entity_type, field)
        if entry.operation == "insert":
            line = Markup("<b>{}</b>: {}").format(label, _value(new))
        elif entry.operation == "delete":
            line = Markup("<b>{}</b>: {}").format(label, _value(old))
        else:
            line = Markup("<b>{}</b>: {} → {}").format(label, _value(old), _value(new))
        items.append(Markup("<li>{}</li>").format(line))
    if more:
        items.append(Markup('<li class="text-muted">{}</li>').format(
            ngettext("… and %(num)d more field on the entry's page", "… and %(num)d more fields on the entry's page",
                     more)))
    return Markup("<ul>{}</ul>").format(Markup("").join(items))


def format_operation(operation):
    return OPERATION_LABELS.get(operation, operation)


def init_app(app):
    app.add_template_filter(lambda entry: format_operation(entry.operation), "log_operation")
    app.add_template_filter(format_changes, "log_changes")
    app.add_template_filter(entity_label, "log_entity")


def _show_endpoints():
    """{model class name: (the show page's endpoint, its permission name)} of the panel's record views: the
    view named after the model first (ClientView for Client), else the first that shows it."""
    found = {}
    for view in current_app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        endpoint = f"{type(view).__name__}.show"
        if model is None or endpoint not in current_app.view_functions:
            continue
        preferred = type(view).__name__ == f"{model.__name__}View"
        if model.__name__ not in found or preferred:
            found[model.__name__] = (endpoint, view.class_permission_name)
    return found


def record_links(entries, may_show=None):
    """{entry id: the address of its record's page} for the entries whose record still exists as far as the LOG
    knows (not deleted) and whose page the operator may open: `may_show(view permission name)`, by default the
    panel's own check for the request's operator. The page itself keeps the dealer scope (another dealer's
    record answers 404)."""
    if may_show is None:
        def may_show(view_name):
            return current_app.appbuilder.sm.has_access("can_show", view_name)
    endpoints, links, allowed = _show_endpoints(), {}, {}
    for entry in entries:
        target = endpoints.get(entry.entity_type or "")
        if target is None or not str(entry.entity_id or "").isdigit() or entry.operation == "delete":
            continue
        if target[1] not in allowed:
            allowed[target[1]] = bool(may_show(target[1]))
        if allowed[target[1]]:
            links[entry.id] = url_for(target[0], pk=int(entry.entity_id))
    return links


def registered_models():
    """The model classes the LOG names (register_entity), by class name."""
    return dict(_models)
