"""FAB's generated forms in the office's words: dates typed dd.mm.yyyy, and a named empty choice.

Date fields.

FAB builds a form's date fields as WTForms DateFields in yyyy-mm-dd. Here
they read 01.12.2026 and 1.12.2026, still take the ISO form a script may
send, and show dd.mm.yyyy; the picker (app/static/billing/dates.js) is
Bulgarian with weeks from Monday. `init_app` puts the field into FAB's
model-to-form conversion, so every generated form gets it, and makes the
lists' date filters read a typed day the same way (FAB's own reading,
dateutil's, takes 01.12.2026 for the 12th of January).

The empty choice of a relation's drop-down. FAB labels it with its
internal value, "__None"; here it reads "Централен офис" for a dealer
(a record of no dealer is head office's) and "— няма —" elsewhere.
"""
import datetime

from dateutil import parser as dateutil_parser
from flask_appbuilder.fieldwidgets import DatePickerWidget
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.forms import FieldConverter
from flask_appbuilder.models.sqla import filters as sqla_filters
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import DateField
from wtforms.widgets import html_params

FORMATS = ("%d.%m.%Y", "%Y-%m-%d")


class BulgarianDatePicker(DatePickerWidget):
    """FAB's picker markup, with the placeholder the office reads."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("name", field.name)
        kwargs.setdefault("placeholder", str(_l("dd.mm.yyyy")))
        kwargs.setdefault("autocomplete", "off")
        value = field._value()
        return Markup(
            '<div class="input-group date appbuilder_date">'
            '<span class="input-group-addon"><i class="fa fa-calendar cursor-hand"></i></span>'
            f'<input class="form-control" {html_params(type="text", value=value, **kwargs)} /></div>')


class BulgarianDateField(DateField):
    """A day typed dd.mm.yyyy (also d.m.yyyy, or yyyy-mm-dd), shown dd.mm.yyyy."""

    def __init__(self, label=None, validators=None, format=FORMATS, **kwargs):
        kwargs.setdefault("widget", BulgarianDatePicker())
        super().__init__(label, validators, format=list(format), **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = " ".join(valuelist).strip()
        if not text:
            self.data = None
            return
        for pattern in self.format:
            try:
                self.data = datetime.datetime.strptime(text, pattern).date()
                return
            except ValueError:
                continue
        self.data = None
        raise ValueError(str(_l("Enter the day as dd.mm.yyyy, e.g. 01.12.2026.")))


def parse_day(text):
    """A typed day: dd.mm.yyyy, d.m.yyyy or yyyy-mm-dd; anything else as dateutil reads it."""
    text = str(text).strip()
    for pattern in FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern)
        except ValueError:
            continue
    return dateutil_parser.parse(text, dayfirst=True)


class _DayFirstParser:
    """What FAB's filters call `parser`: its one method, reading the office's days first."""

    parse = staticmethod(parse_day)


def _named_blank_choice(iter_choices):
    def iter_named_choices(field):
        for choice in iter_choices(field):
            if choice[0] == "__None" and not choice[1]:
                label = str(_l("Central office")) if field.name == "dealer" else str(_l("— none —"))
                choice = (choice[0], label) + tuple(choice[2:])
            yield choice

    return iter_named_choices


def init_app(app):
    """Before the views are registered (FAB builds their forms then)."""
    if not getattr(QuerySelectField.iter_choices, "named_blank", False):
        QuerySelectField.iter_choices = _named_blank_choice(QuerySelectField.iter_choices)
        QuerySelectField.iter_choices.named_blank = True
    sqla_filters.parser = _DayFirstParser
    FieldConverter.conversion_table = tuple(
        ("is_date", BulgarianDateField, BulgarianDatePicker) if marker == "is_date" else (marker, field, widget)
        for marker, field, widget in FieldConverter.conversion_table)
