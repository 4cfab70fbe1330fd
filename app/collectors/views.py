"""Panel views of the collectors module, and the collectors' public protocol routes."""
from flask import Blueprint, Response, current_app, request
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from flask_appbuilder.fieldwidgets import Select2Widget
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Optional

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.collectors.epay_billing import answer_pay_confirm, answer_pay_init
from app.collectors.models import EPAY_BILLING, OWN_PROTOCOL, PaymentCollector
from app.collectors.services import (
    answer_confirm,
    answer_init,
    check_code,
    check_merchant_id,
    check_secret,
    create_collector,
    normalise_addresses,
    update_collector,
)
from app.core.formatting import format_yes_no
from app.core.validators import FieldCheck
from app.core.views import BillingInterface, BillingModelView, RecordOperations
from app.extensions import csrf
from app.protection.guard import public_route

LABELS = {
    "name": _l("Name"),
    "code": _l("Code"),
    "secret": _l("Secret key"),
    "allowed_addresses": _l("Allowed addresses"),
    "method": _l("Payment method"),
    "active": _l("Active"),
    "protocol": _l("Protocol"),
    "merchant_id": _l("MERCHANTID at ePay.bg"),
}
PROTOCOL_CHOICES = [(OWN_PROTOCOL, _l("own protocol")), (EPAY_BILLING, _l("ePay.bg billing"))]


def _protocol_label(value):
    return str(dict(PROTOCOL_CHOICES).get(value, value))

ACTIVE_METHODS = [["active", FilterEqual, True]]


class PaymentCollectorView(BillingModelView):
    datamodel = BillingInterface(PaymentCollector)
    route_base = "/collectors"
    class_permission_name = "PaymentCollector"
    list_title = _l("Payment collectors")
    list_note = _l(
        "The payment collectors (ePay, EasyPay…) clients pay through with their client number. A collector "
        "is added with the + button above the list, with its secret and addresses.")
    show_title = _l("Payment collector")
    add_title = _l("Add payment collector")
    edit_title = _l("Edit payment collector")
    label_columns = LABELS
    list_columns = ["name", "code", "protocol", "method", "allowed_addresses", "active"]
    search_columns = ["name", "code", "active"]
    order_columns = ["name", "code"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "code", "protocol", "merchant_id", "method", "allowed_addresses", "secret",
                                  "active"]
    show_columns = ["name", "code", "protocol", "merchant_id", "method", "allowed_addresses", "active", "secret"]
    formatters_columns = {"active": format_yes_no, "protocol": _protocol_label}
    validators_columns = {
        "code": [FieldCheck(check_code)],
        "allowed_addresses": [FieldCheck(normalise_addresses)],
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = {"method": ACTIVE_METHODS}
    # The secret may be left empty (a random one is made); FAB would require
    # it, and a NOT NULL boolean, because their columns are NOT NULL.
    add_form_extra_fields = edit_form_extra_fields = {
        "secret": StringField(LABELS["secret"], validators=[Optional(), FieldCheck(check_secret)],
                              description=_l("The key both sides sign requests with. Leave empty to "
                                             "generate a random one.")),
        "active": BooleanField(LABELS["active"], default=True),
        "protocol": SelectField(LABELS["protocol"], choices=PROTOCOL_CHOICES, default=OWN_PROTOCOL,
                                widget=Select2Widget()),
        "merchant_id": StringField(LABELS["merchant_id"], validators=[Optional(), FieldCheck(check_merchant_id)],
                                   description=_l("For the ePay.bg billing protocol: the MERCHANTID ePay.bg gave "
                                                  "you; its requests must name it.")),
    }
    description_columns = {
        "code": _l("Part of the collector's addresses: /collect/<code>/init and /collect/<code>/confirm (own "
                   "protocol), or /collect/<code>/pay/init and /collect/<code>/pay/confirm (ePay.bg billing)."),
        "allowed_addresses": _l("The addresses or networks the collector calls from, comma separated, "
                                "e.g. 203.0.113.10, 198.51.100.0/24. Calls from anywhere else are refused."),
        "method": _l("The payment method the collector's payments are recorded with."),
    }

    operations = RecordOperations(create=create_collector, update=update_collector)


# The collectors' callbacks: authenticated by their signature and address,
# not by an operator's login, the protection list or a CSRF token.
public = Blueprint("collect", __name__, url_prefix="/collect")


def _json(text):
    return Response(text, mimetype="application/json")


@public.route("/<code>/init", methods=["GET", "POST"])
@public_route
def init(code):
    return _json(answer_init(code, request.values, request.remote_addr))


@public.route("/<code>/confirm", methods=["POST"])
@public_route
def confirm(code):
    return _json(answer_confirm(code, request.values, request.remote_addr))


# ePay.bg's billing protocol: GET only, as published.
@public.route("/<code>/pay/init", methods=["GET"])
@public_route
def pay_init(code):
    return _json(answer_pay_init(code, request.args, request.remote_addr))


@public.route("/<code>/pay/confirm", methods=["GET"])
@public_route
def pay_confirm(code):
    return _json(answer_pay_confirm(code, request.args, request.remote_addr))


def register(appbuilder):
    register_entity(PaymentCollector, _l("Payment collector"), LABELS)
    appbuilder.add_view(PaymentCollectorView, "Payment collectors", label=_l("Payment collectors"), icon="fa-plug",
                        **in_menu("Payments"))
    csrf.exempt(public)
    current_app.register_blueprint(public)
