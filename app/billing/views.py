"""Payments (/payments/), charges (/charges/), methods, types and currency rates."""
import uuid

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import false
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField, StringField

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.billing import usable
from app.billing.api import PaymentApi
from app.billing.cycle_views import BillingRunView
from app.billing.freeze_views import FREEZE_LABELS, FreezeView
from app.billing.forms import payment_form_context, read_payment_form
from app.billing.models import (
    Charge,
    CurrencyRate,
    Payment,
    PaymentMethod,
    PaymentType,
    SubscriptionFreeze,
    check_rate,
)
from app.billing.charges import add_manual_charge, cancel_charge, due_today
from app.billing.currency import rate_errors
from app.billing.services import (
    find_by_request_key,
    may_reverse,
    payment_totals,
    record_payment,
    reversal_of,
    reverse_payment,
)
from app.clients.models import Client
from app.clients.views import CLIENT_CARD, BackToTheCard, ClientChoiceFilter, SubscriptionOfClientFilter
from app.core.actors import current_operator
from app.core.formatting import format_date, format_datetime, format_yes_no, local_today, utc_bounds
from app.core.money import CURRENCY_CHOICES, check_amount, format_money
from app.core.sections import PageSections
from app.core.transaction import discard
from app.core.validators import FieldCheck, ModelRules
from app.core.views import (
    AddedOnly,
    BillingInterface,
    BillingModelView,
    CappedCountInterface,
    CappedCountListWidget,
    ReadOnlyModelView,
    RecordOperations,
    requested_day,
    shown_refusals,
)
from app.security import permissions
from app.extensions import db
from app.security.rights import may, may_access, require_right
from app.core.scoping import DealerScopedView, get_in_scope

PAYMENT_LABELS = {
    "id": _l("Number"),
    "paid_at": _l("Paid at"),
    "paid_on": _l("Day of payment"),
    "client": _l("Client"),
    "dealer": _l("Dealer"),
    "operator": _l("Operator"),
    "collector": _l("Payment collector"),
    "method": _l("Payment method"),
    "payment_type": _l("Payment type"),
    "amount": _l("Amount"),
    "amount_display": _l("Amount"),
    "currency": _l("Currency"),
    "amount_eur": _l("Amount in EUR"),
    "note": _l("Note"),
    "reversal_of": _l("Reversal of"),
    "received_by": _l("Received by"),
    "imported_from": _l("Moved in from"),
}
# The LOG names a payment's stored columns.
PAYMENT_LOG_LABELS = {
    **PAYMENT_LABELS, "client_id": _l("Client"), "dealer_id": _l("Dealer"), "operator_id": _l("Operator"),
    "collector_id": _l("Payment collector"), "method_id": _l("Payment method"), "type_id": _l("Payment type"),
    "reversal_of_id": _l("Reversal of"), "request_key": _l("Form token"),
}
CHARGE_LABELS = {
    "client": _l("Client"),
    "subscription": _l("Subscription"),
    "payment_type": _l("Payment type"),
    "description": _l("Description"),
    "amount": _l("Amount"),
    "amount_display": _l("Amount"),
    "currency": _l("Currency"),
    "created_at": _l("Created on"),
    "created_by": _l("Operator"),
    "paid_by": _l("Paid by payment"),
    "is_open": _l("Open"),
    "cancelled_at": _l("Cancelled on"),
    "cancelled_by": _l("Cancelled by"),
    "cancel_reason": _l("Reason for cancelling"),
}
CHARGE_LOG_LABELS = {
    **CHARGE_LABELS, "client_id": _l("Client"), "subscription_id": _l("Subscription"),
    "payment_type_id": _l("Payment type"), "created_by_id": _l("Operator"), "paid_by_id": _l("Paid by payment"),
    "billing_key": _l("Billing key"), "cancelled_by_id": _l("Cancelled by"),
}
# The payment's page; the invoices module adds its documents (receipt, invoice).
PAYMENT_PAGE = PageSections()
LIST_LABELS = {"code": _l("Code"), "name": _l("Name"), "active": _l("Active")}
RATE_LABELS = {"currency": _l("Currency"), "valid_from": _l("Valid from"), "rate": _l("Units for 1 EUR")}


class ClientParameterFilter(BaseFilter):
    """?client=<id>: one client's rows (the card's payment history and charges)."""

    name = "client from the address"
    arg_name = "client_param"

    def apply(self, query, value):
        client_id = request.args.get("client", type=int) if request else None
        return query if client_id is None else query.filter(self.model.client_id == client_id)


class PaidBetweenFilter(BaseFilter):
    """?from=…&to=… (dd.mm.yyyy, the office's days): payments of those days, local time, both days included."""

    name = "paid between the days from the address"
    arg_name = "paid_between"

    def apply(self, query, value):
        if refused_days():
            return query.filter(false())  # a day that is not one lists nothing, and says why (requested_day)
        first, last = requested_days()
        if first is not None:
            query = query.filter(self.model.paid_at >= utc_bounds(first)[0])
        if last is not None:
            query = query.filter(self.model.paid_at < utc_bounds(last)[1])
        return query


def requested_days():
    """(from, to) of the address, each a date or None when absent; a value that is not a day is refused
    with its message (app.core.views.requested_day) and reads None."""
    if not request:
        return None, None
    return requested_day("from"), requested_day("to")


def refused_days():
    """Whether ?from= or ?to= holds something that is not a day (31.11.2026)."""
    return any(request.args.get(name, "").strip() and requested_day(name) is None for name in ("from", "to"))


class PaymentView(DealerScopedView, ReadOnlyModelView):
    datamodel = CappedCountInterface(Payment)
    list_widget = CappedCountListWidget
    route_base = "/payments"
    class_permission_name = "Payment"
    # Recording, reversing and documents are pages of a payment; what may be
    # done there is decided by the business rights (record, reverse payment).
    method_permission_name = {"list": "list", "show": "show", "record": "show", "reverse": "show"}
    list_title = _l("Payments")
    list_note = _l(
        "Payments from clients: taken at the desk from the "
        "client's card (\"Pay\") or received through the payment collectors.")
    show_title = _l("Payment")
    show_template = "billing/payment.html"
    label_columns = PAYMENT_LABELS
    base_filters = [["id", ClientParameterFilter, None], ["paid_at", PaidBetweenFilter, None]]
    list_template = "billing/payments.html"
    # amount_display: a column formatter sees only the value, not its currency.
    list_columns = ["id", "paid_at", "client", "amount_display", "method", "payment_type", "received_by", "note"]
    # An export has the amount as a number beside its currency (app.reports.exports).
    export_columns = ["id", "paid_at", "client", "amount", "currency", "amount_eur", "method", "payment_type",
                      "received_by", "note"]
    show_columns = ["id", "paid_at", "client", "dealer", "amount_display", "amount_eur", "method", "payment_type",
                    "received_by", "note", "reversal_of"]
    search_columns = ["paid_at", "method", "payment_type", "currency", "note"]
    order_columns = ["id", "paid_at"]
    base_order = ("paid_at", "desc")
    formatters_columns = {
        "paid_at": format_datetime,
        "amount_eur": lambda value: format_money(value, "EUR"),
        # The payment page says head office and "not a reversal" in words, not with empty rows.
        "dealer": lambda dealer: str(dealer) if dealer is not None else gettext("Central office"),
        "reversal_of": lambda original: str(original) if original is not None else "—",
    }
    # No actions: the scoping mixin's action routes are not registered either.
    action = ReadOnlyModelView.action
    action_post = ReadOnlyModelView.action_post

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs.update(self._payment_page(kwargs["pk"]))
        if template == self.list_template:
            first, last = requested_days()
            kwargs.update(days=(first, last), format_money=format_money,
                          totals=payment_totals(self._filters.get_joined_filters(self._base_filters)))
        return super().render_template(template, **kwargs)

    def _payment_page(self, pk):
        payment = self.record_or_404(pk)
        actor = current_operator()
        reversal = reversal_of(payment)
        return {
            "payment": payment,
            "reversal": reversal,
            "can_reverse": may_reverse(actor, payment),
            "format_money": format_money,
            **PAYMENT_PAGE.context(payment, actor, reversal=reversal),
        }

    @expose("/record/<int:client_id>", methods=["GET", "POST"])
    @has_access
    def record(self, client_id):
        """The cashier's form: which months and charges, currency, method — then the receipt."""
        actor = current_operator()
        require_right(permissions.RECORD_PAYMENT, actor)
        client = get_in_scope(Client, client_id, actor)
        if client is None:
            abort(404)
        form_values = {}
        if request.method == "POST":
            form_values = read_payment_form(request.form)
            with shown_refusals():
                try:
                    result = record_payment(actor, client, **form_values)
                except IntegrityError:
                    # The same form sent twice at once: the other request recorded it.
                    discard()
                    repeated = find_by_request_key(form_values.get("request_key"))
                    if repeated is None:
                        raise
                    return redirect(url_for("PaymentView.show", pk=repeated.id))
                if result.repeated:
                    flash(gettext("This payment was already recorded."), "info")
                else:
                    flash(gettext("Payment recorded: %(amount)s.", amount=result.payment.amount_display()), "info")
                for warning in result.warnings:
                    flash(warning, "warning")
                return redirect(url_for("PaymentView.show", pk=result.payment.id))
        context = payment_form_context(client, request.args, form_values)
        return self.render_template("billing/record.html", client=client, request_key=uuid.uuid4().hex,
                                    format_money=format_money, format_date=format_date,
                                    title=gettext("Record a payment"), **context)

    @expose("/reverse/<int:pk>", methods=["POST"])
    @has_access
    def reverse(self, pk):
        payment = self.record_or_404(pk)
        with shown_refusals(conflict=gettext("This payment is already reversed.")):
            reverse_payment(current_operator(), payment, request.form.get("reason"))
            flash(gettext("The payment is reversed."), "info")
        return redirect(url_for("PaymentView.show", pk=pk))


def create_manual_charge(actor, client=None, **values):
    return add_manual_charge(actor, client, **values)


def card_money(client, actor, subscriptions=None, **_known):
    """The client card's money, the strip under its header: what is due today and next, the advance, the last
    payment. Shown with the card's first view: the client's charges and advance, and its last payment."""
    can_see_payments = may_access(actor, "can_list", "Payment")
    last_payment = None
    if can_see_payments:
        # The latest payment that is not a reversal (its method joined).
        last_payment = db.session.scalars(
            db.select(Payment).where(Payment.client_id == client.id, Payment.reversal_of_id.is_(None))
            .order_by(Payment.paid_at.desc(), Payment.id.desc()).limit(1)
        ).first()
    return {
        "money": due_today(client, subscriptions=subscriptions),
        "last_payment": last_payment,
        "can_see_payments": can_see_payments,
        "can_record_payment": may(actor, permissions.RECORD_PAYMENT),
        "format_money": format_money,
    }


def card_payments(client, actor, subscriptions=None, **_known):
    """The client card's payments tab (loaded when opened): what is owed, the latest payments, freezes."""
    can_see_payments = may_access(actor, "can_list", "Payment")
    payments = []
    if can_see_payments:
        payments = db.session.scalars(
            db.select(Payment).where(Payment.client_id == client.id).order_by(Payment.paid_at.desc()).limit(10)
        ).all()
    freezes = db.session.scalars(
        db.select(SubscriptionFreeze).where(SubscriptionFreeze.client_id == client.id,
                                            usable.not_over(local_today()))
        .order_by(SubscriptionFreeze.starts_on)
    ).all()
    return {
        "money": due_today(client, subscriptions=subscriptions),
        "payments": payments,
        "freezes": freezes,
        "can_freeze": may_access(actor, "can_add", "SubscriptionFreeze"),
        "can_see_payments": can_see_payments,
        "can_record_payment": may(actor, permissions.RECORD_PAYMENT),
        "can_add_charge": may(actor, permissions.ADD_CHARGES) and may_access(actor, "can_add", "Charge"),
        "format_money": format_money,
    }


def card_payment_count(client, actor, **_known):
    """The payments tab's counter: the client's payments (reversals too, as the tab lists them), for whoever
    may list payments."""
    if not may_access(actor, "can_list", "Payment"):
        return None
    return db.select(db.func.count(Payment.id)).where(Payment.client_id == client.id)


class ChargeView(AddedOnly, DealerScopedView, BackToTheCard, BillingModelView):
    datamodel = BillingInterface(Charge)
    route_base = "/charges"
    class_permission_name = "Charge"
    # Charges are corrected by payments and reversals, never edited away.
    base_permissions = ["can_list", "can_show", "can_add"]
    list_title = _l("Charges")
    list_note = _l(
        "What clients owe besides their monthly fees: installation at a sale, extra traffic "
        "from the billing cycle, and charges added from the client's card (\"Add a charge\").")
    show_title = _l("Charge")
    add_title = _l("Add a charge")
    label_columns = CHARGE_LABELS
    base_filters = [["id", ClientParameterFilter, None]]
    list_columns = ["created_at", "client", "description", "amount_display", "payment_type", "is_open"]
    show_template = "billing/charge.html"
    # Cancelling is a page of the charge; the "add manual charges" right decides.
    method_permission_name = {"list": "list", "show": "show", "add": "add", "cancel": "show"}
    show_columns = ["client", "subscription", "payment_type", "description", "amount_display", "created_at",
                    "created_by", "paid_by", "cancelled_at", "cancelled_by", "cancel_reason"]
    add_columns = ["client", "subscription", "payment_type", "description", "amount", "currency"]
    search_columns = ["description", "payment_type", "created_at"]
    order_columns = ["created_at"]
    base_order = ("created_at", "desc")
    add_form_query_rel_fields = {
        "client": [["id", ClientChoiceFilter, None]],
        "subscription": [["id", SubscriptionOfClientFilter, None]],
    }
    add_form_extra_fields = {
        "currency": SelectField(_l("Currency"), choices=CURRENCY_CHOICES, default="EUR"),
        # Text, so that the decimal comma is accepted ("12,50").
        "amount": StringField(_l("Amount"), validators=[FieldCheck(check_amount)]),
    }
    formatters_columns = {
        "created_at": format_date,
        "cancelled_at": format_datetime,
        "is_open": format_yes_no,
    }
    operations = RecordOperations(create=create_manual_charge)

    def record_page(self, charge):
        return {"can_cancel": charge.is_open and may(current_operator(), permissions.ADD_CHARGES)}

    @expose("/cancel/<int:pk>", methods=["POST"])
    @has_access
    def cancel(self, pk):
        """Cancel a charge made by mistake, with a reason."""
        charge = self.record_or_404(pk)
        with shown_refusals():
            cancel_charge(current_operator(), charge, request.form.get("reason"))
            flash(gettext("The charge is cancelled."), "info")
        return redirect(url_for("ChargeView.show", pk=pk))


class PaymentMethodView(BillingModelView):
    datamodel = BillingInterface(PaymentMethod)
    route_base = "/payment-methods"
    class_permission_name = "PaymentMethod"
    # Payments refer to them: retired with "active", never deleted.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    list_title = _l("Payment methods")
    list_note = _l(
        "The ways clients pay (cash, bank transfer, a payment collector…). "
        "A method is added with the + button above the list.")
    show_title = _l("Payment method")
    add_title = _l("Add payment method")
    edit_title = _l("Edit payment method")
    label_columns = LIST_LABELS
    list_columns = ["name", "code", "active"]
    add_columns = edit_columns = ["name", "active"]
    show_columns = ["name", "code", "active"]
    search_columns = ["name", "active"]
    formatters_columns = {"active": format_yes_no}
    delete = ReadOnlyModelView.delete


class PaymentTypeView(PaymentMethodView):
    datamodel = BillingInterface(PaymentType)
    route_base = "/payment-types"
    class_permission_name = "PaymentType"
    list_title = _l("Payment types")
    list_note = _l(
        "What a payment or a charge is for (monthly fee, installation, extra "
        "traffic…). A type is added with the + button above the list.")
    show_title = _l("Payment type")
    add_title = _l("Add payment type")
    edit_title = _l("Edit payment type")


def format_rate(rate):
    """"1,0850": the decimal comma, at least four decimals."""
    if rate is None:
        return ""
    text = f"{rate.normalize():f}"
    whole, _, decimals = text.partition(".")
    return f"{whole},{decimals.ljust(4, '0')}"


class CurrencyRateView(BillingModelView):
    datamodel = BillingInterface(CurrencyRate)
    route_base = "/currencies"
    class_permission_name = "CurrencyRate"
    list_title = _l("Currency rates")
    list_note = _l(
        "Rates to the euro for payments in other currencies (the lev's is fixed "
        "by law). A rate is added with the + button above the list.")
    show_title = _l("Currency rate")
    add_title = _l("Add currency rate")
    edit_title = _l("Edit currency rate")
    label_columns = RATE_LABELS
    list_columns = add_columns = edit_columns = show_columns = ["currency", "valid_from", "rate"]
    search_columns = ["currency", "valid_from"]
    order_columns = ["valid_from"]
    base_order = ("valid_from", "desc")
    add_form_extra_fields = edit_form_extra_fields = {
        "currency": SelectField(_l("Currency"), choices=[("USD", "USD (щатски долар)")], default="USD"),
        "rate": StringField(_l("Units for 1 EUR"), validators=[FieldCheck(check_rate)]),
    }
    description_columns = {"rate": _l("How many units of the currency one euro buys on that day, e.g. 1,0850.")}
    validators_columns = {"valid_from": [ModelRules(rate_errors)]}
    formatters_columns = {"valid_from": format_date, "rate": format_rate}
    record_errors = staticmethod(rate_errors)


def register(appbuilder):
    # A form's one-time key and a charge's billing key keep a repeat from counting twice: no change to anyone.
    register_entity(Payment, _l("Payment"), PAYMENT_LOG_LABELS, hidden=("request_key",))
    register_entity(Charge, _l("Charge"), CHARGE_LOG_LABELS, hidden=("billing_key",))
    register_entity(PaymentMethod, _l("Payment method"), LIST_LABELS)
    register_entity(PaymentType, _l("Payment type"), LIST_LABELS)
    register_entity(CurrencyRate, _l("Currency rate"), RATE_LABELS)
    appbuilder.add_view(PaymentView, "Payments", label=_l("Payments"), icon="fa-money",
                        **in_menu("Payments"))
    appbuilder.add_view(ChargeView, "Charges", label=_l("Charges"), icon="fa-file-text-o", **in_menu("Payments"))
    appbuilder.add_view(PaymentMethodView, "Payment methods", label=_l("Payment methods"), icon="fa-credit-card",
                        **in_menu("Payments"))
    appbuilder.add_view(PaymentTypeView, "Payment types", label=_l("Payment types"), icon="fa-tags",
                        **in_menu("Payments"))
    appbuilder.add_view(CurrencyRateView, "Currencies", label=_l("Currency rates"), icon="fa-usd",
                        **in_menu("Payments"))
    register_entity(SubscriptionFreeze, _l("Freeze"), FREEZE_LABELS)
    appbuilder.add_view(BillingRunView, "Billing cycle", label=_l("Billing cycle"), icon="fa-refresh",
                        **in_menu("Payments"))
    appbuilder.add_view(FreezeView, "Freezes", label=_l("Freezes"), icon="fa-snowflake-o", **in_menu("Clients"))
    appbuilder.add_api(PaymentApi)
    CLIENT_CARD.add("billing/_card_money.html", card_money, order=10, place="summary")
    CLIENT_CARD.add("billing/_card_payments.html", card_payments, order=10, place="payments",
                    count=card_payment_count)
