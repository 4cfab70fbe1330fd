"""FAB's generated forms in the office's words: dates typed dd.mm.yyyy, and a named empty choice.

Date and time fields.

FAB builds a form's date fields as WTForms DateFields in yyyy-mm-dd and its
moments (DateTimeFields) in yyyy-mm-dd hh:mm:ss UTC; a browser's own time
input shows "03:30 PM" where its locale is English. Here every day, time and
moment is a text box read by the one parser (app.core.validators:
parse_day, parse_time, parse_moment): dd.mm.yyyy, 24-hour hh:mm, moments
on the office's clock (Europe/Sofia) and stored UTC; the day picker
(app/static/billing/dates.js, on FAB's own bootstrap-datepicker) is
Bulgarian with weeks from Monday whatever the browser's language.
`init_app` puts the fields into FAB's model-to-form conversion, so every
generated form gets them; the lists' date filters are
app.core.views.DAY_FILTERS.

The empty choice of a relation's drop-down. FAB labels it with its
internal value, "__None"; here it reads "Централен офис" for a dealer
(a record of no dealer is head office's) and "— няма —" elsewhere.
"""

from flask_appbuilder.fieldwidgets import DatePickerWidget
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.forms import FieldConverter
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, Field, PasswordField
from wtforms.validators import Length
from wtforms.widgets import html_params

from app.core.formatting import local_time
from app.core.validators import InvalidValue, parse_day, parse_moment, parse_time


class BulgarianDatePicker(DatePickerWidget):
    """FAB's picker markup, with the placeholder the office reads."""

    kind = "appbuilder_date"

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("name", field.name)
        kwargs.setdefault("placeholder", str(_l("dd.mm.yyyy")))
        kwargs.setdefault("autocomplete", "off")
        value = field._value()
        return Markup(
            f'<div class="input-group date {self.kind}">'
            '<span class="input-group-addon"><i class="fa fa-calendar cursor-hand"></i></span>'
            f'<input class="form-control" {html_params(type="text", value=value, **kwargs)} /></div>')


class BulgarianDateField(DateField):
    """A day typed dd.mm.yyyy (also d.m.yyyy, or yyyy-mm-dd), shown dd.mm.yyyy; read by parse_day."""

    def __init__(self, label=None, validators=None, format=None, **kwargs):
        kwargs.setdefault("widget", BulgarianDatePicker())
        super().__init__(label, validators, format="%d.%m.%Y", **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_day(" ".join(valuelist), None)
        except InvalidValue as error:
            self.data = None
            raise ValueError(str(error.message)) from None


class BulgarianTimePicker:
    """A time of day as a text box (hh:mm, 24 hours): the browser's <input type=time> follows its own locale."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("name", field.name)
        kwargs.setdefault("placeholder", str(_l("hh:mm")))
        kwargs.setdefault("autocomplete", "off")
        kwargs.setdefault("inputmode", "numeric")
        kwargs.setdefault("class", "form-control billing-time")
        return Markup(f'<input {html_params(type="text", value=field._value(), **kwargs)} />')


class BulgarianTimeField(Field):
    """A time of day typed 24-hour (15:30, 9:05), shown hh:mm; read by parse_time."""

    widget = BulgarianTimePicker()

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.strftime("%H:%M") if self.data else ""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_time(" ".join(valuelist), None)
        except InvalidValue as error:
            self.data = None
            raise ValueError(str(error.message)) from None


class BulgarianDateTimePicker(BulgarianDatePicker):
    """A moment: the day picker, with "dd.mm.yyyy hh:mm" as its hint (dates.js keeps the time when a day is
    picked)."""

    kind = "appbuilder_datetime"

    def __call__(self, field, **kwargs):
        kwargs.setdefault("placeholder", str(_l("dd.mm.yyyy hh:mm")))
        return super().__call__(field, **kwargs)


class BulgarianDateTimeField(Field):
    """A moment typed "dd.mm.yyyy hh:mm" on the office's clock, stored as naive UTC; read by parse_moment."""

    widget = BulgarianDateTimePicker()

    def __init__(self, label=None, validators=None, format=None, **kwargs):
        super().__init__(label, validators, **kwargs)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return local_time(self.data).strftime("%d.%m.%Y %H:%M") if self.data else ""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_moment(" ".join(valuelist), None)
        except InvalidValue as error:
            self.data = None
            raise ValueError(str(error.message)) from None


def _named_blank_choice(iter_choices):
    def iter_named_choices(field):
        for choice in iter_choices(field):
            if choice[0] == "__None" and not choice[1]:
                # Head office apart from any dealer whose name says "Централен офис …".
                label = str(_l("— Central office (no dealer) —")) if field.name == "dealer" else str(_l("— none —"))
                choice = (choice[0], label) + tuple(choice[2:])
            yield choice

    return iter_named_choices


def init_app(app):
    """Before the views are registered (FAB builds their forms then)."""
    if not getattr(QuerySelectField.iter_choices, "named_blank", False):
        QuerySelectField.iter_choices = _named_blank_choice(QuerySelectField.iter_choices)
        QuerySelectField.iter_choices.named_blank = True
    ours = {"is_date": (BulgarianDateField, BulgarianDatePicker),
            "is_datetime": (BulgarianDateTimeField, BulgarianDateTimePicker)}
    FieldConverter.conversion_table = tuple(
        (marker, *ours.get(marker, (field, widget))) for marker, field, widget in FieldConverter.conversion_table)


class NewPasswordForm(FlaskForm):
    """A new password typed twice, on the public pages that set one (FREEFTP's, the subscribers' portal's); the
    operation that stores it checks the two agree and the password's length."""
    password = PasswordField(_l("New password"), validators=[Length(max=200)])
    repeated = PasswordField(_l("New password again"), validators=[Length(max=200)])
