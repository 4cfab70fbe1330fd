from flask import flash
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.catalog.api import SERVICE_OPERATIONS, ServiceApi
from app.catalog.models import Service, ServiceGroup, ServiceParameter
from app.catalog.services import PARAMETER_MAKES, parameter_errors, service_errors
from app.core.formatting import format_yes_no
from app.core.money import CURRENCY_CHOICES, check_amount, format_money
from app.core.validators import FieldCheck
from app.core.views import BillingInterface, BillingModelView

GROUP_LABELS = {"name": _l("Name"), "description": _l("Description")}
PARAMETER_LABELS = {"service": _l("Service"), "name": _l("Parameter"), "value": _l("Value"),
                    "nas_makes": _l("NAS makes")}
LABELS = {
    "name": _l("Name"),
    "group": _l("Group"),
    "group_id": _l("Group"),
    "description": _l("Description"),
    "installation_fee": _l("Installation fee (VAT included)"),
    "monthly_fee": _l("Monthly fee (VAT included)"),
    "currency": _l("Currency"),
    "extra_traffic_fee": _l("Extra traffic fee per GB (VAT included)"),
    "included_traffic_gb": _l("Included traffic, GB"),
    "month_type": _l("Month type"),
    "warning_days": _l("Payment warning, days"),
    "tolerance_days": _l("Tolerance, days"),
    "max_freeze_days": _l("Freeze, days a year"),
    "ip_count": _l("IP addresses included"),
    "username_type": _l("Username"),
    "download_kbps": _l("Download, kbit/s"),
    "upload_kbps": _l("Upload, kbit/s"),
    "simultaneous_use": _l("Sessions at once (RADIUS)"),
    "ipv6": _l("IPv6 (a /64 on the link)"),
    "ipv6_delegated_length": _l("Delegated IPv6 prefix"),
    "technology": _l("Required technology"),
    "technology_id": _l("Required technology"),
    "sellable": _l("Sellable"),
    "needs_installation": _l("Needs installation"),
    "parameters": _l("Extra parameters"),
    "monthly_price": _l("Monthly fee (VAT included)"),
    "installation_price": _l("Installation fee (VAT included)"),
}
MONTH_TYPES = [("fixed", _l("Fixed (calendar months)")), ("floating", _l("Floating (from the activation day)"))]
USERNAME_TYPES = [("none", _l("None")), ("radius", "RADIUS"), ("email", _l("E-mail")), ("ftp", "FTP")]
DELEGATED_LENGTHS = [("", _l("None")), ("56", "/56"), ("60", "/60")]


def _delegated_length(value):
    return int(value) if value not in (None, "", "None") else None


def _choice_label(choices):
    labels = dict(choices)
    return lambda value: labels.get(value, value)


def _money_field(label):
    return StringField(label, validators=[FieldCheck(check_amount)], default="0", widget=BS3TextFieldWidget(),
                       description=_l("As the client pays it: with VAT (20 %) where the seller is VAT-registered "
                                      "(the invoice shows the tax base and the VAT)."))


class ServiceGroupView(BillingModelView):
    datamodel = BillingInterface(ServiceGroup)
    route_base = "/service-groups"
    class_permission_name = "ServiceGroup"
    list_title = _l("Service groups")
    list_note = _l(
        "Groups the services are sorted into (internet, television…). A "
        "group is added with the + button above the list.")
    show_title = _l("Service group")
    add_title = _l("Add service group")
    edit_title = _l("Edit service group")
    label_columns = GROUP_LABELS
    list_columns = search_columns = ["name", "description"]
    add_columns = edit_columns = show_columns = ["name", "description"]


class MakesField(SelectMultipleField):
    """The NAS makes of a parameter: stored as "mikrotik,cisco", chosen as a list (none: all that know it)."""

    def process_data(self, value):
        super().process_data(ServiceParameter.split_makes(value) if isinstance(value, str) else value)

    def pre_validate(self, form):
        if self.data is None:
            self.data = []
        super().pre_validate(form)


class ServiceParameterView(BillingModelView):
    datamodel = BillingInterface(ServiceParameter)
    route_base = "/service-parameters"
    class_permission_name = "ServiceParameter"
    list_title = _l("Extra parameters")
    show_title = _l("Extra parameter")
    add_title = _l("Add extra parameter")
    edit_title = _l("Edit extra parameter")
    label_columns = PARAMETER_LABELS
    list_columns = ["service", "name", "value", "nas_makes"]
    search_columns = ["service", "name", "value"]
    add_columns = edit_columns = show_columns = ["service", "name", "value", "nas_makes"]
    description_columns = {
        "name": _l("Of a RADIUS service: an attribute of the RADIUS dictionary sent with every login, e.g. "
                   "Session-Timeout or Mikrotik-Address-List (the speed is the service's own fields)."),
        "nas_makes": _l("The NAS makes it is sent to. None chosen: every make that knows the attribute (a "
                        "vendor's own attribute only to that vendor's NAS)."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "nas_makes": MakesField(PARAMETER_LABELS["nas_makes"], choices=PARAMETER_MAKES),
    }
    formatters_columns = {
        "nas_makes": lambda value: ", ".join(str(dict(PARAMETER_MAKES).get(make, make))
                                             for make in ServiceParameter.split_makes(value)),
    }
    record_errors = staticmethod(parameter_errors)


class ServiceView(BillingModelView):
    datamodel = BillingInterface(Service)
    route_base = "/services"
    class_permission_name = "Service"
    list_title = _l("Services")
    list_note = _l(
        "The services the company sells, with their prices. A "
        "service is added with the + button above the list.")
    show_title = _l("Service")
    add_title = _l("Add service")
    edit_title = _l("Edit service")
    label_columns = LABELS
    related_views = [ServiceParameterView]
    list_columns = ["name", "group", "monthly_price", "installation_price", "month_type", "ip_count", "sellable"]
    search_columns = ["name", "group", "currency", "month_type", "username_type", "technology", "sellable"]
    order_columns = ["name", "monthly_fee"]
    base_order = ("name", "asc")
    fields = [
        "name", "group", "description", "installation_fee", "monthly_fee", "currency", "extra_traffic_fee",
        "included_traffic_gb", "month_type", "warning_days", "tolerance_days", "max_freeze_days", "ip_count",
        "username_type", "download_kbps", "upload_kbps", "simultaneous_use", "ipv6", "ipv6_delegated_length",
        "technology", "sellable", "needs_installation",
    ]
    add_columns = edit_columns = fields
    show_fieldsets = [
        (_l("Service"), {"fields": ["name", "group", "description", "sellable", "needs_installation",
                                     "technology"]}),
        (_l("Prices"), {"fields": ["installation_fee", "monthly_fee", "currency", "extra_traffic_fee",
                                   "included_traffic_gb"]}),
        (_l("Billing rules"), {"fields": ["month_type", "warning_days", "tolerance_days", "max_freeze_days"]}),
        (_l("Technical parameters"), {"fields": ["ip_count", "username_type", "download_kbps", "upload_kbps",
                                                 "simultaneous_use", "ipv6", "ipv6_delegated_length",
                                                 "parameters"]}),
    ]
    add_form_extra_fields = edit_form_extra_fields = {
        "installation_fee": _money_field(LABELS["installation_fee"]),
        "monthly_fee": _money_field(LABELS["monthly_fee"]),
        "extra_traffic_fee": _money_field(LABELS["extra_traffic_fee"]),
        "currency": SelectField(LABELS["currency"], choices=CURRENCY_CHOICES, default="EUR"),
        "month_type": SelectField(LABELS["month_type"], choices=MONTH_TYPES, default="fixed"),
        "username_type": SelectField(LABELS["username_type"], choices=USERNAME_TYPES, default="none"),
        "sellable": BooleanField(LABELS["sellable"], default=True),
        "ipv6": BooleanField(LABELS["ipv6"], default=False),
        "ipv6_delegated_length": SelectField(LABELS["ipv6_delegated_length"], choices=DELEGATED_LENGTHS, default="",
                                             coerce=_delegated_length, validate_choice=False),
        "needs_installation": BooleanField(LABELS["needs_installation"], default=False),
        # Left empty: the service cannot be frozen.
        "max_freeze_days": IntegerField(LABELS["max_freeze_days"], default=0, validators=[Optional()],
                                        filters=[lambda value: 0 if value is None else value]),
        # Left empty: one session (0 is any number).
        "simultaneous_use": IntegerField(LABELS["simultaneous_use"], default=1, validators=[Optional()],
                                         filters=[lambda value: 1 if value is None else value]),
    }
    record_errors = staticmethod(service_errors)
    operations = SERVICE_OPERATIONS

    def update_record(self, actor, item, values, notices=None):
        """update_service, and what it tells the operator (the subscriptions that got IPv6 prefixes) shown."""
        notices = [] if notices is None else notices
        record = super().update_record(actor, item, values, notices=notices)
        for notice in notices:
            flash(notice, "info")
        return record
    formatters_columns = {
        "month_type": _choice_label(MONTH_TYPES),
        "username_type": _choice_label(USERNAME_TYPES),
        "sellable": format_yes_no,
        "needs_installation": format_yes_no,
        "ipv6": format_yes_no,
        "ipv6_delegated_length": lambda length: f"/{length}" if length else "—",
        "monthly_fee": format_money,
        "installation_fee": format_money,
        "extra_traffic_fee": format_money,
        "parameters": lambda parameters: ", ".join(str(p) for p in parameters),
    }
    description_columns = {
        "included_traffic_gb": _l("Empty: unlimited."),
        "needs_installation": _l("A sale opens an installation task; the subscription is activated when it is done."),
        "tolerance_days": _l("Days after the paid period ends before the service is suspended."),
        "max_freeze_days": _l("How many days a year a subscriber may freeze the service (vacation); 0: never."),
        "extra_traffic_fee": _l("Charged per GB over the included traffic at the end of the period."),
        "simultaneous_use": _l("How many RADIUS sessions a subscription may have open at once (1: one device); "
                               "0: any number. A subscription may set its own."),
        "ipv6": _l("Each subscription gets a /64 from an IPv6 pool of the link (Framed-IPv6-Prefix)."),
        "ipv6_delegated_length": _l("A prefix for the subscriber's router (DHCPv6-PD, Delegated-IPv6-Prefix) from "
                                    "a delegated IPv6 pool; needs IPv6."),
    }


def register(appbuilder):
    register_entity(ServiceGroup, _l("Service group"), GROUP_LABELS)
    register_entity(Service, _l("Service"), LABELS,
                    value_labels={"month_type": MONTH_TYPES, "username_type": USERNAME_TYPES})
    register_entity(ServiceParameter, _l("Extra parameter"), PARAMETER_LABELS)
    appbuilder.add_view(ServiceView, "Services", label=_l("Services"), icon="fa-cubes",
                        **in_menu("Catalog"))
    appbuilder.add_view(ServiceGroupView, "Service groups", label=_l("Service groups"), icon="fa-folder",
                        **in_menu("Catalog"))
    appbuilder.add_view_no_menu(ServiceParameterView)
    appbuilder.add_api(ServiceApi)
