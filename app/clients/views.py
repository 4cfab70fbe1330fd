"""Clients at /clients/ (the client card) and subscriptions at /subscriptions/."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, SelectField

from app.audit.formatting import register_entity
from app.audit.models import LogEntry
from app.audit.services import record_event
from app.clients.api import ClientApi, SubscriptionApi
from app.clients.models import Client, Subscription
from app.clients.services import (
    clear_other_type_fields,
    client_errors,
    format_address,
    mask_egn,
    prepare_new_client,
    search_condition,
)
from app.clients.subscriptions import (
    change_status,
    open_subscription,
    require_technical_right,
    subscription_errors,
)
from app.core.errors import FieldErrors
from app.core.formatting import format_date, format_yes_no
from app.core.validators import FieldCheck, ModelRules, check_egn, check_eik, check_vat_number
from app.core.views import BillingModelView
from app.extensions import db
from app.security import permissions
from app.security.rights import current_operator, has_right
from app.security.scoping import DealerScopedView

LABELS = {
    "client_number": _l("Client number"),
    "kind": _l("Type"),
    "name": _l("Name"),
    "dealer": _l("Dealer"),
    "phone": _l("Phone"),
    "fax": _l("Fax"),
    "email": _l("E-mail"),
    "comment": _l("Comment"),
    "egn": _l("EGN"),
    "id_card": _l("ID card number"),
    "company_name": _l("Company name"),
    "eik": _l("EIK/BULSTAT"),
    "tax_number": _l("Tax number"),
    "mol": _l("Accountable person (MOL)"),
    "company_address": _l("Company address"),
    "vat_registered": _l("VAT-registered"),
    "vat_number": _l("VAT number"),
    "block": _l("Block"),
    "entrance": _l("Entrance"),
    "floor": _l("Floor"),
    "apartment": _l("Apartment"),
    "address_text": _l("Address (free text)"),
    "address": _l("Address"),
    "created_at": _l("Created on"),
}
KINDS = [("individual", _l("Individual")), ("company", _l("Company (legal entity)"))]
STATUS_LABELS = {
    "pending": _l("Awaiting installation"),
    "active": _l("Active (service)"),
    "suspended": _l("Suspended"),
    "terminated": _l("Terminated"),
}
SUBSCRIPTION_LABELS = {
    "client": _l("Client"),
    "service": _l("Service"),
    "status": _l("Status"),
    "status_reason": _l("Reason for the status"),
    "activation_date": _l("Activated on"),
    "paid_until": _l("Paid until"),
    "username": _l("Username"),
    "password": _l("Password"),
    "delivery_address": _l("Delivery address"),
    "technology_override": _l("Technology check overridden"),
    "ip_addresses": _l("IP addresses"),
    "created_at": _l("Created on"),
}


class ClientSearchFilter(BaseFilter):
    """The list's one search box (?q=): name, phone, number, ЕГН/ЕИК, IP, username, block."""

    name = "search"
    arg_name = "client_search"

    def apply(self, query, value):
        condition = search_condition(request.args.get("q")) if request else None
        return query if condition is None else query.filter(condition)


def egn_as_allowed(egn):
    """The ЕГН in full only for operators with the right to see personal data."""
    return egn if has_right(permissions.SEE_PERSONAL_DATA) else mask_egn(egn)


def status_label(status):
    return STATUS_LABELS.get(status, status)


class ClientView(DealerScopedView, BillingModelView):
    datamodel = SQLAInterface(Client)
    route_base = "/clients"
    class_permission_name = "Client"
    list_title = _l("Clients")
    show_title = _l("Client card")
    add_title = _l("Add client")
    edit_title = _l("Edit client")
    list_template = "clients/list.html"
    show_template = "clients/card.html"
    add_template = "clients/add.html"
    edit_template = "clients/edit.html"
    label_columns = LABELS
    base_filters = [["id", ClientSearchFilter, None]]
    list_columns = ["client_number", "name", "phone", "address", "dealer"]
    search_columns = ["client_number", "name", "phone", "email", "dealer", "kind"]
    order_columns = ["client_number", "name"]
    base_order = ("name", "asc")
    page_size = 25
    form_fields = ["kind", "name", "dealer", "phone", "fax", "email", "comment", "egn", "id_card", "company_name",
                   "eik", "tax_number", "mol", "company_address", "vat_registered", "vat_number", "block", "entrance",
                   "floor", "apartment", "address_text"]
    add_columns = edit_columns = form_fields
    add_fieldsets = edit_fieldsets = [
        (_l("Client"), {"fields": ["kind", "name", "dealer", "phone", "fax", "email", "comment"]}),
        (_l("Individual"), {"fields": ["egn", "id_card"]}),
        (_l("Company (legal entity)"), {"fields": ["company_name", "eik", "tax_number", "mol", "company_address",
                                    "vat_registered", "vat_number"]}),
        (_l("Address"), {"fields": ["block", "entrance", "floor", "apartment", "address_text"]}),
    ]
    profile_fields = ["client_number", "kind", "name", "dealer", "phone", "fax", "email", "address", "comment"]
    individual_show_fieldsets = [
        (_l("Client"), {"fields": profile_fields}),
        (_l("Identity"), {"fields": ["egn", "id_card"]}),
    ]
    company_show_fieldsets = [
        (_l("Client"), {"fields": profile_fields}),
        (_l("Identity"), {"fields": ["company_name", "eik", "tax_number", "mol", "company_address",
                                     "vat_registered", "vat_number"]}),
    ]
    show_fieldsets = individual_show_fieldsets
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(LABELS["kind"], choices=KINDS, default="individual"),
        "vat_registered": BooleanField(LABELS["vat_registered"], default=False),
    }
    validators_columns = {
        "egn": [FieldCheck(check_egn)],
        "eik": [FieldCheck(check_eik), ModelRules(client_errors)],
        "vat_number": [FieldCheck(check_vat_number), ModelRules(client_errors)],
        "company_name": [ModelRules(client_errors)],
    }
    formatters_columns = {
        "kind": dict(KINDS).get,
        "egn": egn_as_allowed,
        "vat_registered": format_yes_no,
        "created_at": format_date,
    }
    description_columns = {
        "phone": _l("Several numbers separated by commas."),
        "address_text": _l("When the address is not in the directory, or to add to it."),
        "dealer": _l("Empty for head office."),
    }

    record_errors = staticmethod(client_errors)

    def pre_add(self, item):
        super().pre_add(item)
        prepare_new_client(item)

    def pre_update(self, item):
        super().pre_update(item)
        clear_other_type_fields(item)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # FAB derives show_columns from the class's fieldsets; the card needs
        # the fields of both types (see _get_show_widget).
        self.show_columns = [
            field for _title, fieldset in self.individual_show_fieldsets + self.company_show_fieldsets[1:]
            for field in fieldset["fields"]
        ]

    def _get_show_widget(self, pk, item, **kwargs):
        # The card shows the identity fields of the client's own type only.
        kwargs.setdefault(
            "show_fieldsets", self.company_show_fieldsets if item.is_company else self.individual_show_fieldsets
        )
        return super()._get_show_widget(pk, item, **kwargs)

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs.update(self._card(kwargs["pk"]))
        return super().render_template(template, **kwargs)

    def _card(self, pk):
        """What the client card shows besides the profile."""
        client = self.datamodel.get(pk, self._base_filters)
        if client is None:
            abort(404)
        if client.egn and has_right(permissions.SEE_PERSONAL_DATA):
            # Personal data seen unmasked: the LOG says who looked, and when.
            record_event(LogEntry.PERSONAL_DATA, user=current_operator(), entity=client, note="ЕГН")
        subscriptions = (
            db.session.query(Subscription)
            .filter(Subscription.client_id == client.id)
            .options(selectinload(Subscription.service), selectinload(Subscription.ip_allocations))
            .order_by(Subscription.id)
            .all()
        )
        from app.contracts.models import Contract
        from app.contracts.views import STATUSES as CONTRACT_STATUSES

        contracts = (
            db.session.query(Contract)
            .filter(Contract.client_id == client.id)
            .options(selectinload(Contract.contract_type))
            .order_by(Contract.number)
            .all()
        )
        security = self.appbuilder.sm
        return {
            **self._money(client),
            "client": client,
            "address": format_address(client),
            "subscriptions": subscriptions,
            "contracts": contracts,
            "can_add_contract": security.has_access("can_add", "Contract"),
            "can_print_contract": has_right(permissions.PRINT_CONTRACTS),
            "contract_status": dict(CONTRACT_STATUSES).get,
            "status_label": status_label,
            "can_add_subscription": has_right(permissions.ADD_SUBSCRIPTIONS),
        }


    def _money(self, client):
        """The card's payments section: what is due, and the latest payments."""
        from app.billing.models import Payment
        from app.billing.charges import client_due
        from app.core.money import format_money

        security = self.appbuilder.sm
        can_see_payments = security.has_access("can_list", "Payment")
        payments = []
        if can_see_payments:
            payments = (
                db.session.query(Payment).filter(Payment.client_id == client.id)
                .order_by(Payment.paid_at.desc()).limit(10).all()
            )
        return {
            "due": client_due(client),
            "payments": payments,
            "can_see_payments": can_see_payments,
            "can_record_payment": has_right(permissions.RECORD_PAYMENT),
            "can_add_charge": has_right(permissions.ADD_CHARGES) and security.has_access("can_add", "Charge"),
            "format_money": format_money,
        }


class ClientChoiceFilter(BaseFilter):
    """A subscription is added from a client card: the client comes from ?client=."""

    name = "client from the card"
    arg_name = "client_choice"

    def apply(self, query, value):
        client_id = request.args.get("client", type=int) if request else None
        return query.filter(self.model.id == (client_id or -1))


def sale_errors(record):
    """The sale rules for the add form (shown under the fields); the same rules run
    again in open_subscription for every other way in."""
    return subscription_errors(current_operator(), record, bool(getattr(record, "technology_override", False)))


class SubscriptionView(DealerScopedView, BillingModelView):
    datamodel = SQLAInterface(Subscription)
    route_base = "/subscriptions"
    class_permission_name = "Subscription"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_status"]
    list_title = _l("Subscriptions")
    show_title = _l("Subscription")
    add_title = _l("Add a service to the client")
    edit_title = _l("Technical parameters")
    label_columns = SUBSCRIPTION_LABELS
    list_columns = ["client", "service", "status", "paid_until", "username"]
    search_columns = ["service", "status", "username", "paid_until"]
    order_columns = ["paid_until", "username"]
    add_columns = ["client", "service", "username", "password", "delivery_address", "technology_override"]
    edit_columns = ["username", "password", "delivery_address"]
    show_columns = ["client", "service", "status", "status_reason", "activation_date", "paid_until", "username",
                    "delivery_address", "technology_override", "ip_addresses", "created_at"]
    add_form_query_rel_fields = {"client": [["id", ClientChoiceFilter, None]]}
    add_form_extra_fields = {
        "technology_override": BooleanField(
            SUBSCRIPTION_LABELS["technology_override"],
            # An extra field gets no validators_columns: the rule goes here.
            validators=[ModelRules(sale_errors)],
            description=_l("Sell even though the client's block lacks the service's technology (needs the right; "
                           "logged)."),
        )
    }
    formatters_columns = {
        "status": status_label,
        "paid_until": format_date,
        "activation_date": format_date,
        "technology_override": format_yes_no,
    }
    description_columns = {"username": _l("Empty: made from the client number.")}
    validators_columns = {
        "service": [ModelRules(sale_errors)],
        "username": [ModelRules(sale_errors)],
    }

    def pre_add(self, item):
        super().pre_add(item)
        open_subscription(current_operator(), item, override_technology=bool(item.technology_override))

    def pre_update(self, item):
        super().pre_update(item)
        require_technical_right(current_operator())

    @expose("/status/<int:pk>", methods=["POST"])
    @has_access
    def status(self, pk):
        """Change the status from the card: suspend, activate, terminate — with a reason."""
        subscription = self.datamodel.get(pk, self._base_filters)
        if subscription is None:
            abort(404)
        try:
            change_status(subscription, request.form.get("status"), request.form.get("reason"))
            db.session.commit()
            flash(gettext("Status changed."), "info")
        except FieldErrors as refusal:
            db.session.rollback()
            flash(str(refusal), "danger")
        return redirect(url_for("ClientView.show", pk=subscription.client_id))


def register(appbuilder):
    register_entity(Client, _l("Client"), LABELS, personal_fields={"egn": mask_egn}, value_labels={"kind": KINDS})
    register_entity(Subscription, _l("Subscription"), SUBSCRIPTION_LABELS, value_labels={"status": STATUS_LABELS})
    appbuilder.add_view(ClientView, "Clients", label=_l("Clients"), icon="fa-address-book",
                        category="Clients", category_label=_l("Clients"), category_icon="fa-users")
    appbuilder.add_view(SubscriptionView, "Subscriptions", label=_l("Subscriptions"), icon="fa-plug",
                        category="Clients")
    appbuilder.add_api(ClientApi)
    appbuilder.add_api(SubscriptionApi)


