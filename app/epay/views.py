"""ePay.bg in the panel (the merchant's settings, the online payments) and ePay.bg's notification route."""
from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import inspect
from wtforms import IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.audit.formatting import register_entity
from app.audit.services import record_history
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.formatting import format_datetime
from app.core.links import public_base, public_url
from app.core.money import format_money
from app.core.scoping import DealerScopedView
from app.core.transaction import discard
from app.core.views import BillingInterface, ReadOnlyModelView, show_refusal_on_form
from app.epay.models import DEMO, DENIED, EXPIRED, PAID, PENDING, PRODUCTION, EpayRequest, EpaySettings
from app.epay.services import answer_notification, current_settings, save_settings
from app.extensions import csrf
from app.protection.guard import public_route

SETTINGS_LABELS = {
    "kin": _l("KIN (merchant number)"),
    "secret": _l("Secret word"),
    "environment": _l("ePay.bg system"),
    "valid_hours": _l("Payment request valid for (hours)"),
}
ENVIRONMENT_CHOICES = [(DEMO, _l("demo (demo.epay.bg)")), (PRODUCTION, _l("production (www.epay.bg)"))]
STATUS_LABELS = {PENDING: _l("awaiting payment"), PAID: _l("payment made"), DENIED: _l("payment denied"),
                 EXPIRED: _l("request expired")}
REQUEST_LABELS = {
    "invoice": _l("ePay.bg invoice no."),
    "client": _l("Client"),
    "amount": _l("Amount"),
    "status": _l("Status"),
    "created_at": _l("Started"),
    "expires_at": _l("Valid until"),
    "started_by": _l("Started by"),
    "description": _l("Description"),
    "pay_time": _l("Paid at (ePay.bg)"),
    "stan": _l("STAN"),
    "bcode": _l("Authorisation code (BCODE)"),
    "notified_at": _l("Notification received"),
    "payment": _l("Payment"),
}


class SettingsForm(FlaskForm):
    kin = StringField(SETTINGS_LABELS["kin"], validators=[Optional(), Length(max=20)], widget=BS3TextFieldWidget(),
                      description=_l("The merchant's KIN (CIN) from the ePay.bg merchant profile."))
    secret = PasswordField(SETTINGS_LABELS["secret"], validators=[Optional(), Length(max=128)],
                           widget=BS3PasswordFieldWidget(),
                           description=_l("The 64-character secret word from the ePay.bg merchant profile. It is "
                                          "never shown again; leave empty to keep the current one."))
    environment = SelectField(SETTINGS_LABELS["environment"], choices=ENVIRONMENT_CHOICES, default=DEMO,
                              widget=Select2Widget())
    valid_hours = IntegerField(SETTINGS_LABELS["valid_hours"], default=72, validators=[Optional()],
                               widget=BS3TextFieldWidget())


class EpaySettingsView(BaseView):
    """The one row of the merchant's settings, and the addresses to register with ePay.bg."""

    route_base = "/epay/settings"
    class_permission_name = "EpaySettings"
    default_view = "edit"
    method_permission_name = {"edit": "edit"}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def edit(self):
        settings = current_settings()
        form = SettingsForm(obj=settings)
        if form.validate_on_submit():
            try:
                save_settings(current_operator(), form.data)
            except FieldErrors as refusal:
                discard()
                show_refusal_on_form(form, refusal)
            else:
                flash(gettext("Saved."), "info")
                return redirect(url_for("EpaySettingsView.edit"))
        return self.render_template("epay/settings.html", form=form, history=record_history(EpaySettings, 1),
                                    saved=inspect(settings).persistent, secret_set=bool(settings.secret),
                                    title=_l("ePay.bg settings"), notify_url=public_url("epay_notify.notify"),
                                    billing_url=f"{public_base()}/collect/<code>/pay/init")


class EpayRequestView(DealerScopedView, ReadOnlyModelView):
    datamodel = BillingInterface(EpayRequest)
    route_base = "/epay/payments"
    class_permission_name = "EpayRequest"
    list_title = _l("Online payments (ePay.bg)")
    list_note = _l("Every payment a subscriber was sent to ePay.bg with, and what ePay.bg's notification said "
                   "of it. A paid one links to the payment it recorded.")
    show_title = _l("Online payment (ePay.bg)")
    label_columns = REQUEST_LABELS
    list_columns = ["created_at", "invoice", "client", "amount", "status", "description", "payment"]
    show_columns = ["invoice", "client", "amount", "status", "description", "created_at", "expires_at",
                    "started_by", "notified_at", "pay_time", "stan", "bcode", "payment"]
    search_columns = ["invoice", "status", "created_at"]
    order_columns = ["created_at", "invoice"]
    base_order = ("created_at", "desc")
    formatters_columns = {
        "status": lambda value: str(STATUS_LABELS.get(value, value)),
        "created_at": format_datetime, "expires_at": format_datetime, "notified_at": format_datetime,
        "amount": lambda value: format_money(value, "EUR"),
        "payment": lambda payment: f"№ {payment.id}" if payment is not None else "—",
    }


# ePay.bg's notifications: authenticated by their CHECKSUM, not by a login, the protection list or CSRF.
public = Blueprint("epay_notify", __name__, url_prefix="/epay")


@public.route("/notify", methods=["POST"])
@public_route
def notify():
    text = answer_notification(request.form.get("ENCODED"), request.form.get("CHECKSUM"))
    return Response(text, mimetype="text/plain")


def register(appbuilder):
    register_entity(EpaySettings, _l("ePay.bg settings"), SETTINGS_LABELS)
    appbuilder.add_view(EpayRequestView, "Online payments (ePay.bg)", label=_l("Online payments (ePay.bg)"),
                        icon="fa-credit-card", category="Payments", category_label=_l("Payments"),
                        category_icon="fa-money")
    appbuilder.add_view(EpaySettingsView, "ePay.bg settings", label=_l("ePay.bg settings"), icon="fa-cog",
                        category="Payments")
    csrf.exempt(public)
    current_app.register_blueprint(public)
