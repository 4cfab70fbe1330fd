"""The portal's forms (each carries its CSRF token, as every form of the application)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.core.forms import NewPasswordForm


class LoginForm(FlaskForm):
    login = StringField(_l("Client number or username"), validators=[Length(max=100)])
    password = PasswordField(_l("Password"), validators=[Length(max=200)])


class LinkForm(FlaskForm):
    login = StringField(_l("Client number or username"), validators=[Length(max=100)])


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[Length(max=200)])


class ContactsForm(FlaskForm):
    phone = StringField(_l("Phone"), validators=[Length(max=100)])
    email = StringField(_l("E-mail"), validators=[Length(max=150)])


class FreezeForm(FlaskForm):
    starts_on = StringField(_l("First day"), validators=[Length(max=20)])
    ends_on = StringField(_l("Last day"), validators=[Length(max=20)])
    reason = StringField(_l("Reason"), validators=[Length(max=250)])


class FaultForm(FlaskForm):
    subscription = SelectField(_l("Service"), validate_choice=False)
    note = TextAreaField(_l("What is wrong"), validators=[Length(max=1000)])


PAY_PAGES = [("credit_paydirect", _l("by bank card")), ("paylogin", _l("from my ePay.bg account"))]


class PayForm(FlaskForm):
    """What to pay online: what is due today or the next payment (the amounts the page shows), and how."""
    what = SelectField(_l("What to pay"), validate_choice=False)
    page = SelectField(_l("How"), choices=PAY_PAGES, validate_choice=False)


class GardenPayForm(FlaskForm):
    """The walled garden's button: only how to pay; what is paid is what the address's subscriber owes today."""
    page = SelectField(_l("How"), choices=PAY_PAGES, validate_choice=False)


class EmptyForm(FlaskForm):
    """A button that changes something (logout): its CSRF token only."""
