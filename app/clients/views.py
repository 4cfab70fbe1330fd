"""Clients at /clients/ (the client card) and subscriptions at /subscriptions/."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, undefer
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.core.menu import in_menu
from app.audit.formatting import record_links, register_entity
from app.audit.services import owned_history
from app.clients.api import (
    CLIENT_DESCRIPTIONS,
    CLIENT_OPERATIONS,
    SUBSCRIPTION_OPERATIONS,
    ClientApi,
    ClientInterface,
    SubscriptionApi,
)
from app.clients.models import KINDS, Client, Subscription
from app.clients.services import (
    MoreThan,
    among_few,
    capped_count,
    client_card,
    home_figures,
    mask_egn,
    record_personal_data_read,
    search_condition,
)
from app.clients.subscriptions import change_status_by_hand, may_read_password, record_password_read
from app.core.actors import current_operator
from app.core.formatting import format_date, format_datetime, format_yes_no
from app.core.money import format_money
from app.core.sections import PageSections
from app.core.validators import FieldCheck, check_egn, check_eik, check_vat_number
from app.core.views import HOME_PAGE, BillingInterface, BillingModelView, shown_refusals
from app.extensions import db
from app.security import permissions
from app.security.rights import may, may_access
from app.core.scoping import DealerScopedView, get_in_scope

# The client card; billing adds its payments, contracts its contracts, and
# later modules (RADIUS, the organizer) their parts.
CLIENT_CARD = PageSections()

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
    "standing": _l("Services"),
    "nearest_paid_until": _l("Paid until (nearest)"),
}
STATUS_LABELS = {
    "pending": _l("Awaiting installation"),
    "active": _l("Active (service)"),
    "suspended": _l("Suspended"),
    "terminated": _l("Terminated"),
}
# Client.standing: the most urgent status among the client's live services.
STANDING_LABELS = {3: _l("Suspended"), 2: _l("Active (service)"), 1: _l("Awaiting installation"), 0: "—"}
SUBSCRIPTION_LABELS = {
    "client": _l("Client"),
    "service": _l("Service"),
    "status": _l("Status"),
    "status_reason": _l("Reason for the status"),
    "activation_date": _l("Activated on"),
    "activates_on": _l("Activation day"),
    "paid_until": _l("Paid until"),
    "username": _l("Username"),
    "password": _l("Password"),
    "delivery_address": _l("Delivery address"),
    "mac_address": _l("Bound to MAC"),
    "simultaneous_use": _l("Sessions at once (RADIUS)"),
    "technology_override": _l("Technology check overridden"),
    "ip_addresses": _l("IP addresses"),
    "ipv6_prefixes": _l("IPv6 prefixes"),
    "created_at": _l("Created on"),
}


class ClientSearchFilter(BaseFilter):
    """The list's one search box (?q=): name, phone, number, ЕГН/ЕИК, IP, username, block."""

    name = "search"
    arg_name = "client_search"

    def apply(self, query, value):
        if not request:
            return query
        condition = search_condition(request.args.get("q"), by_egn=may_see_personal_data(current_operator()))
        if condition is None:
            return query
        # The list counts first (ClientListInterface.query_count): a page of few matches reads them by id.
        found = g.get("client_search_found")
        if found is not None and not isinstance(found, MoreThan):
            condition = among_few(condition)
        return query.filter(condition)


def searched():
    """The list's search box was filled in."""
    return bool(request and (request.args.get("q") or "").strip())


def may_see_personal_data(actor):
    return may(actor, permissions.SEE_PERSONAL_DATA)


def egn_as_allowed(egn):
    """The ЕГН in full only for operators with the right to see personal data."""
    return egn if may_see_personal_data(current_operator()) else mask_egn(egn)


def password_as_allowed(password):
    """A subscriber's password: in full only for operators who may change technical parameters."""
    if not password:
        return ""
    return password if may_read_password(current_operator()) else "••••••"


def status_label(status):
    return STATUS_LABELS.get(status, status)


def with_company_name(values):
    """The form's one name field is a company's company name too."""
    if values.get("kind") == "company":
        return {**values, "company_name": values.get("name")}
    return values


class ClientListInterface(ClientInterface):
    """The client list loads each row's service standing and nearest "paid until" with the row (two
    correlated subqueries), not with a query per row."""

    def query_count(self, query, filters=None, select_columns=None):
        """A search's count stops past SEARCH_COUNT_CAP (app.clients.services.capped_count); the list's own,
        unsearched, counts every client."""
        if self.obj is not Client or not searched():
            return super().query_count(query, filters, select_columns)
        found = capped_count(self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={}))
        g.client_search_found = found
        return found

    def eager_loads(self, related=()):
        # FAB builds the interfaces of related models (the dealer filter) from this class too.
        if self.obj is not Client:
            return super().eager_loads(related)
        # The dealer and the block (its neighbourhood and city) each row and the card show: joined to the
        # client's own statement (many-to-one, the order and LIMIT stay the client's) instead of one more each;
        # what else a caller reads (an export's columns) as BillingInterface loads it.
        joined = ("dealer", "block")
        return [undefer(Client.standing), undefer(Client.nearest_paid_until),
                *(joinedload(getattr(Client, name)) for name in joined),
                *super().eager_loads([name for name in related if name not in joined])]


class ClientListWidget(ListWidget):
    """FAB's list, with each client's name a link to the card."""

    template = "clients/_list_widget.html"


def single_search_hit(list_widget):
    """The id of the one client a typed search found (the list then opens its card, for who may open it),
    else None."""
    if not (request.args.get("q") or "").strip() or not may_access(current_operator(), "can_show", "Client"):
        return None
    found = list_widget.template_args
    return found["pks"][0] if found.get("count") == 1 and len(found.get("pks") or ()) == 1 else None


class ClientView(DealerScopedView, BillingModelView):
    datamodel = ClientListInterface(Client)
    route_base = "/clients"
    class_permission_name = "Client"
    list_title = _l("Clients")
    list_note = _l(
        "Clients of head office and of the dealers. A new client is entered with "
        "the + button above the list; their services are sold from the client's card.")
    show_title = _l("Client card")
    add_title = _l("Add client")
    edit_title = _l("Edit client")
    list_template = "clients/list.html"
    list_widget = ClientListWidget
    show_template = "clients/card.html"
    add_template = "clients/add.html"
    edit_template = "clients/edit.html"
    label_columns = LABELS
    base_filters = [["id", ClientSearchFilter, None]]
    # Never listed, filtered on or sorted by in the list or its export by who may not read it in full.
    column_visible_when = {"egn": may_see_personal_data}
    list_columns = ["client_number", "name", "phone", "address", "dealer", "standing", "nearest_paid_until"]
    search_columns = ["client_number", "name", "phone", "email", "dealer", "kind"]
    order_columns = ["client_number", "name", "nearest_paid_until"]
    base_order = ("name", "asc")
    page_size = 25
    # One name field: an individual's "Име и фамилия", a company's "Име на фирмата" (its company_name follows).
    form_fields = ["kind", "name", "dealer", "phone", "fax", "email", "comment", "egn", "id_card",
                   "eik", "tax_number", "mol", "company_address", "vat_registered", "vat_number", "block", "entrance",
                   "floor", "apartment", "address_text"]
    add_columns = edit_columns = form_fields
    add_fieldsets = edit_fieldsets = [
        (_l("Client"), {"fields": ["kind", "name", "dealer", "phone", "fax", "email", "comment"]}),
        (_l("Individual"), {"fields": ["egn", "id_card"]}),
        (_l("Company (legal entity)"), {"fields": ["eik", "tax_number", "mol", "company_address",
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
        "eik": [FieldCheck(check_eik)],
        "vat_number": [FieldCheck(check_vat_number)],
    }
    formatters_columns = {
        "kind": dict(KINDS).get,
        # A client of no dealer is head office's own.
        "dealer": lambda dealer: str(dealer) if dealer is not None else gettext("Central office"),
        "standing": lambda rank: str(STANDING_LABELS.get(rank or 0, "")),
        "nearest_paid_until": format_date,
        "egn": egn_as_allowed,
        "vat_registered": format_yes_no,
        "created_at": format_date,
    }
    description_columns = CLIENT_DESCRIPTIONS

    operations = CLIENT_OPERATIONS

    @expose("/list/", methods=["GET", "POST"])
    @has_access
    def list(self):
        """FAB's list; a search that finds one client opens the card instead of a list of one."""
        widgets = self._list()
        client_id = single_search_hit(widgets["list"])
        if client_id is not None:
            return redirect(url_for("ClientView.show", pk=client_id))
        return self.render_template(self.list_template, title=self.list_title, widgets=widgets)

    def create_record(self, actor, values):
        return _warned_without_block(super().create_record(actor, with_company_name(values)))

    def update_record(self, actor, item, values, notices=None):
        return _warned_without_block(super().update_record(actor, item, with_company_name(values), notices=notices))

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
        g.card_client = item  # FAB's show() has found the client in scope: the card does not read it again
        return super()._get_show_widget(pk, item, **kwargs)

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs.update(self._card(kwargs["pk"], shown_tabs(request.args.get("tab"))))
        return super().render_template(template, **kwargs)

    def _card(self, pk, tabs=()):
        """The card: its own view model (app.clients.services.client_card), then the other modules' parts — those
        of the header and of the first tab; of the tabs behind it (LATER_TABS) only `tabs`, the others are loaded
        when opened (card_tab)."""
        client = g.get("card_client") or self.datamodel.get(pk, self._base_filters)
        if client is None:
            abort(404)
        actor = current_operator()
        record_personal_data_read(actor, client)
        card = client_card(client, actor)
        # history: the History tab's when it is shown, None keeps BillingModelView from reading the record's own.
        values = {"card": card, "client": client, "status_label": status_label, "shown_tabs": tabs, "history": None,
                  "later_tabs": LATER_TABS,
                  "tabs_available": ("services", "profile", "history") + tuple(
                      tab for tab in LATER_TABS if CLIENT_CARD.has_place(tab)),
                  **CLIENT_CARD.context(client, actor, places=FIRST_PLACES + tuple(tabs),
                                        subscriptions=card.subscriptions)}
        if "history" in tabs:
            values.update(_card_history(client, actor))
        return values

    @expose("/show/<int:pk>/tab/<string:tab>")
    @has_access
    @permission_name("show")
    def card_tab(self, pk, tab):
        """One tab of the card behind its first (LATER_TABS), as the card loads it when the tab is opened: the
        client found in the operator's scope as the card finds it (else 404), the tab's parts only."""
        if tab not in LATER_TABS:
            abort(404)
        client = self.datamodel.get(pk, self._base_filters)
        if client is None:
            abort(404)
        actor = current_operator()
        values = {"client": client, "key": tab, **CLIENT_CARD.context(client, actor, places=(tab,), counts=False)}
        if tab == "history":
            values.update(_card_history(client, actor))
        return render_template("clients/_card_tab.html", **values)


# The card's tabs after its first (Services; the Profile is the client's own fields, read with it): loaded when
# opened (ClientView.card_tab), or shown at once when the card is asked with ?tab=<name> (a link without
# JavaScript) or ?tab=all (everything, for printing).
LATER_TABS = ("payments", "documents", "tasks", "history")
# The places of the card shown with its first view: the header's strip, the Services tab, the page's end.
FIRST_PLACES = ("summary", "services", None)


def shown_tabs(asked):
    """The later tabs the card shows at once for ?tab=`asked`."""
    if asked == "all":
        return LATER_TABS
    return (asked,) if asked in LATER_TABS else ()


def _card_history(client, actor):
    """The History tab: the client's business (sales, status changes, payments, charges, tasks, documents),
    each row linked to its record; who viewed the personal data folded apart."""
    history = owned_history(Client, client.id)
    return {"history": history.entries,
            "history_links": record_links(history.entries, lambda view: may_access(actor, "can_show", view)),
            "personal_views": history.personal_views,
            "personal_view_count": history.personal_view_count,
            "may_read_log": may_access(actor, "can_list", "LogEntry")}


def _warned_without_block(client):
    """Saved, but with no block: said at once, since the coverage, the technology check of a sale and the
    technicians' round all go by the block."""
    if client is not None and client.block_id is None and client.block is None:
        flash(gettext("The client is saved without a block: the technology check of a sale, the coverage and "
                      "the technicians' round do not find him. Choose his block with Edit."), "warning")
    return client


def _service_label(service, block=None):
    """A service as the sale form offers it: its price a month and its installation, and a block's missing
    technology (offered to who may override the check)."""
    if service.monthly_fee:
        label = gettext("%(service)s — %(monthly)s a month", service=service.name,
                        monthly=format_money(service.monthly_fee, service.currency))
    else:
        label = gettext("%(service)s — no monthly fee", service=service.name)
    if service.installation_fee:
        label += gettext(", installation %(fee)s", fee=format_money(service.installation_fee, service.currency))
    if block is not None and service.technology_id and not block.has_technology(service.technology_id):
        label += " " + gettext("(the block has no %(technology)s)", technology=service.technology.name)
    return label


def _sale_client():
    """The client of a sale opened from the card (?client=), when the operator sees it."""
    client_id = request.args.get("client", type=int) if request else None
    return get_in_scope(Client, client_id, current_operator()) if client_id else None


class ServiceForSaleFilter(BaseFilter):
    """The sale form offers what may be sold to the card's client: the sellable services (of the operator's own
    list, when he has one) that the client's block can get — every technology for who may override the check.
    The sale checks the same on the server (app.clients.subscriptions.sale_errors)."""

    name = "services for sale"
    arg_name = "service_for_sale"

    def apply(self, query, value):
        if not request or request.method != "GET":
            # A sent form is checked by the sale itself, which names why a service may not be sold.
            return query
        actor = current_operator()
        query = query.filter(self.model.sellable.is_(True))
        allowed = getattr(actor, "allowed_services", None) or []
        if allowed:
            query = query.filter(self.model.id.in_([service.id for service in allowed]))
        client = _sale_client()
        if client is not None and client.block is not None and not may(actor, permissions.OVERRIDE_TECHNOLOGY):
            offered = [technology.id for technology in client.block.technologies]
            query = query.filter(or_(self.model.technology_id.is_(None), self.model.technology_id.in_(offered)))
        return query.order_by(self.model.name)


class ClientChoiceFilter(BaseFilter):
    """A subscription is added from a client card: the client comes from ?client=."""

    name = "client from the card"
    arg_name = "client_choice"

    def apply(self, query, value):
        client_id = request.args.get("client", type=int) if request else None
        return query.filter(self.model.id == (client_id or -1))


class SubscriptionOfClientFilter(BaseFilter):
    """A form opened from a client card lists that client's subscriptions (?client=): charges, freezes."""

    name = "subscriptions of the client from the card"
    arg_name = "subscription_of_client"

    def apply(self, query, value):
        client_id = request.args.get("client", type=int) if request else None
        return query.filter(self.model.client_id == (client_id or -1))


def form_client_filters(model, prefix):
    """The filters of a form about one client's record (`model`: a contract, a task), added from the client card:
    (the client it offers: the edited record's, or ?client=; the subscriptions it offers: that client's).
    `prefix` keeps their FAB names apart."""

    def form_client_id():
        pk = (request.view_args or {}).get("pk")
        if pk is not None:
            return db.session.scalar(select(model.client_id).where(model.id == pk))
        return request.args.get("client", type=int)

    class FormClientFilter(BaseFilter):
        """The add form offers only the client whose card it was opened from."""

        name = "client of the form"
        arg_name = f"{prefix}_client"

        def apply(self, query, value):
            return query.filter(self.model.id == (form_client_id() or -1))

    class FormClientSubscriptionsFilter(BaseFilter):
        """The form offers only the subscriptions of the record's client."""

        name = "subscriptions of the form's client"
        arg_name = f"{prefix}_client_subscriptions"

        def apply(self, query, value):
            return query.filter(self.model.client_id == (form_client_id() or -1))

    return FormClientFilter, FormClientSubscriptionsFilter


class BackToTheCard:
    """Mixin for a view whose records are also added from the client card (?client=<id>): the save returns
    to the card, which shows the new record, instead of the record's own page."""

    def post_add_redirect(self):
        client_id = request.args.get("client", type=int)
        if client_id:
            return redirect(url_for("ClientView.show", pk=client_id))
        return super().post_add_redirect()


class SubscriptionView(DealerScopedView, BackToTheCard, BillingModelView):
    datamodel = BillingInterface(Subscription)
    route_base = "/subscriptions"
    class_permission_name = "Subscription"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_status"]
    list_title = _l("Subscriptions")
    list_note = _l("Services sold to clients. A service is sold from the client's card with \"Add a service\".")
    show_title = _l("Subscription")
    add_title = _l("Add a service to the client")
    edit_title = _l("Technical parameters")
    label_columns = SUBSCRIPTION_LABELS
    column_visible_when = {"password": may_read_password}
    list_columns = ["client", "service", "status", "paid_until", "username"]
    search_columns = ["service", "status", "username", "paid_until"]
    order_columns = ["paid_until", "username"]
    add_columns = ["client", "service", "username", "password", "delivery_address", "technology_override",
                   "activates_on"]
    edit_columns = ["username", "password", "delivery_address", "mac_address", "simultaneous_use"]
    show_columns = ["client", "service", "status", "status_reason", "activates_on", "activation_date", "paid_until",
                    "username", "password", "mac_address", "simultaneous_use", "delivery_address", "technology_override",
                    "ip_addresses", "ipv6_prefixes", "created_at"]
    add_form_query_rel_fields = {"client": [["id", ClientChoiceFilter, None]],
                                 "service": [["id", ServiceForSaleFilter, None]]}
    # The username's own field: a taken one is refused by the sale with its
    # name in the message, not by FAB's generic uniqueness check.
    username_field = StringField(SUBSCRIPTION_LABELS["username"], validators=[Optional(), Length(max=100)],
                                 widget=BS3TextFieldWidget(), description=_l("Empty: made from the client number."))
    add_form_extra_fields = {
        "username": username_field,
        "technology_override": BooleanField(
            SUBSCRIPTION_LABELS["technology_override"],
            description=_l("Sell even though the client's block lacks the service's technology (needs the right; "
                           "logged)."),
        ),
    }
    edit_form_extra_fields = {
        "username": username_field,
        # Never filled in: the form is no way to read a password.
        "password": StringField(SUBSCRIPTION_LABELS["password"], validators=[Optional(), Length(max=100)],
                                widget=BS3TextFieldWidget(), description=_l("Empty: the password stays as it is.")),
    }
    formatters_columns = {
        "password": password_as_allowed,
        "status": status_label,
        "paid_until": format_date,
        "activation_date": format_date,
        "activates_on": format_date,
        "technology_override": format_yes_no,
        "created_at": format_datetime,
    }
    description_columns = {
        "username": _l("Empty: made from the client number."),
        "activates_on": _l("A service without installation: the day it starts (today or later). Empty: at once. "
                           "Until then it awaits; that day's billing run activates it."),
        "mac_address": _l("RADIUS lets this username in only from the device with this MAC (Calling-Station-Id). "
                          "Empty: from any device."),
        "simultaneous_use": _l("RADIUS sessions this subscription may have open at once. Empty: as its service "
                               "says; 0: any number."),
    }
    operations = SUBSCRIPTION_OPERATIONS

    def _init_forms(self):
        """The sale names no service until the seller picks one: a preselected first service is sold by
        whoever saves without looking (a blank choice is refused as a required field)."""
        super()._init_forms()
        self.add_form.service.kwargs.update(allow_blank=True, blank_text=_l("— choose a service —"))

    def prefill_form(self, form, pk):
        form.password.data = ""

    def record_page(self, subscription):
        record_password_read(current_operator(), subscription)
        return {}

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        client = _sale_client()
        block = client.block if client is not None else None
        form.service.get_label = lambda service: _service_label(service, block)
        if not may(current_operator(), permissions.OVERRIDE_TECHNOLOGY):
            # A seller who may not override the technology check is not offered the box (it would be refused);
            # what a hand-made request with it was told shows at the top, the box being hidden.
            for message in form.technology_override.errors or ():
                flash(str(message), "danger")
            exclude_cols = [*(exclude_cols or []), "technology_override"]
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def create_record(self, actor, values):
        """The sale; then what to hand to the client: the username and the password the sale made."""
        subscription = super().create_record(actor, values)
        if subscription is not None and subscription.username:
            if values.get("password"):
                # Typed by the seller: he has it; the page does not say it a second time.
                flash(gettext("Hand to the client: username %(username)s and the password you typed.",
                              username=subscription.username), "info")
            elif subscription.password and may_read_password(actor):
                # Made by the sale: said once, here, and the LOG notes who read it (as the service's page does).
                record_password_read(actor, subscription)
                flash(gettext("Hand to the client: username %(username)s, password %(password)s.",
                              username=subscription.username, password=subscription.password), "info")
            else:
                flash(gettext("Hand to the client: username %(username)s; the password is on the service's page "
                              "for technical support.", username=subscription.username), "info")
        return subscription

    @expose("/status/<int:pk>", methods=["POST"])
    @has_access
    def status(self, pk):
        """Change the status from the card: suspend, activate, terminate — with a reason."""
        subscription = self.record_or_404(pk)
        with shown_refusals():
            change_status_by_hand(current_operator(), subscription, request.form.get("status"),
                                  request.form.get("reason"))
            flash(gettext("Status changed."), "info")
        return redirect(url_for("ClientView.show", pk=subscription.client_id))


def home_clients(_record, actor, **_known):
    return home_figures(actor)


def register(appbuilder):
    HOME_PAGE.add("home/_clients.html", home_clients, order=10)
    register_entity(Client, _l("Client"), LABELS, personal_fields={"egn": mask_egn}, value_labels={"kind": KINDS})
    register_entity(Subscription, _l("Subscription"), SUBSCRIPTION_LABELS, value_labels={"status": STATUS_LABELS})
    appbuilder.add_view(ClientView, "Clients", label=_l("Clients"), icon="fa-address-book",
                        **in_menu("Clients"))
    appbuilder.add_view(SubscriptionView, "Subscriptions", label=_l("Subscriptions"), icon="fa-plug",
                        **in_menu("Clients"))
    appbuilder.add_api(ClientApi)
    appbuilder.add_api(SubscriptionApi)


