"""REST API /api/v1/payments/: read, record and reverse payments; no update, no delete."""
from flask_appbuilder.api import expose, permission_name, protect, safe
from flask_babel import gettext, lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from app.billing.models import Payment, PaymentMethod, PaymentType
from app.billing.periods import MAX_PERIODS
from app.billing.services import (
    MAX_NOTE,
    MAX_REQUEST_KEY,
    find_by_request_key,
    payment_references,
    record_payment,
    reverse_payment,
)
from app.core.actors import current_operator
from app.core.api import (RECORD_ID, RECORD_SCHEMA, api_operation, body_text, documented, json_answer, json_request,
                          reason_request, record_answer)
from app.core.errors import FieldErrors
from app.core.money import CURRENCY_CHOICES
from app.core.openapi import AmountValue, IdOrCode, JsonInteger
from app.core.transaction import discard
from app.core.validators import MAX_ID
from app.core.views import BillingInterface, BillingModelApi
from app.extensions import db
from app.security import permissions
from app.security.rights import may
from app.core.scoping import DealerScopedApi, get_in_scope

PAYMENT_FIELDS = ["id", "paid_at", "client.id", "client.client_number", "client.name", "dealer.id", "amount",
                  "currency", "amount_eur", "method.name", "payment_type.name", "operator.username", "collector.name",
                  "note", "reversal_of.id"]
CODE_LENGTH = 20  # PaymentMethod.code, PaymentType.code
LISTS = {"method": PaymentMethod, "payment_type": PaymentType}
MAX_REASON = 500  # a reversal's reason, as the spec publishes it


def _recorded_answer(description):
    """The spec's answer with a recorded payment (PaymentApi._recorded)."""
    return json_answer(description, {"id": {"type": "integer"}, "result": RECORD_SCHEMA,
                                     "warnings": {"type": "array", "items": {"type": "string"}}},
                       required=["id", "result", "warnings"])


class PaymentRecord(Schema):
    """The body of POST /api/v1/payments/: published in the spec as PaymentApi.post and read with it, so the two
    cannot disagree. The cash desk's payment form, field for field (app.billing.forms.read_payment_form)."""

    client = JsonInteger(required=True, validate=validate.Range(min=1, max=MAX_ID),
                         metadata={"description": "The client's id"})
    periods = fields.Dict(keys=fields.String(), values=JsonInteger(validate=validate.Range(min=0, max=MAX_PERIODS)),
                          metadata={"description": "What it pays: months per subscription, {\"<subscription id>\": "
                                                   "months}; the client's advance pays its part first"})
    charge_ids = fields.List(JsonInteger(validate=validate.Range(min=1, max=MAX_ID)),
                             metadata={"description": "What it pays: the ids of the client's open charges"})
    amount = AmountValue(metadata={"description": "Without periods and charges: the money brought, spent on open "
                                                  "charges oldest first, then whole months, the rest kept as an "
                                                  "advance; with them, it must be their price"})
    currency = fields.String(load_default="EUR", validate=validate.OneOf([code for code, _label in CURRENCY_CHOICES]))
    method = IdOrCode(CODE_LENGTH, metadata={"description": "The payment method by its id or its code (cash when "
                                                            "left out)"})
    payment_type = IdOrCode(CODE_LENGTH, metadata={"description": "The payment type by its id or its code (when "
                                                                  "left out, from what the payment pays)"})
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_NOTE))
    request_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=MAX_REQUEST_KEY),
                               metadata={"description": "The same request id sent again records nothing new and "
                                                        "answers the payment recorded the first time"})


class PaymentApi(DealerScopedApi, BillingModelApi):
    """Payments as the cash desk records them (app.billing.services.record_payment), either what it pays or an
    amount alone; see PaymentRecord for the body."""

    datamodel = BillingInterface(Payment)
    resource_name = "payments"
    class_permission_name = "Payment"
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "info", "reverse"}
    # Recording and reversing are governed by the "record payment" and
    # "reverse payment" rights (checked in the services); reading by the
    # Payment view's permissions, as in the panel.
    method_permission_name = {**BillingModelApi.method_permission_name, "post": "show", "reverse": "show"}
    list_columns = show_columns = PAYMENT_FIELDS
    add_model_schema = PaymentRecord()
    add_columns = list(PaymentRecord().fields)
    # No PUT: what _info describes for a change is the payment's own columns.
    edit_columns = ["client", "method", "payment_type", "currency", "amount", "note"]
    label_columns = {"client": _l("Client"), "periods": _l("Months"), "charge_ids": _l("Charges"),
                     "amount": _l("Amount"), "currency": _l("Currency"), "method": _l("Payment method"),
                     "payment_type": _l("Payment type"), "note": _l("Note"), "request_id": _l("Request id")}
    description_columns = {
        "client": _l("The client's id."),
        "periods": _l("Months per subscription: {\"<subscription id>\": months}."),
        "charge_ids": _l("The ids of the client's open charges to pay."),
        "amount": _l("Without months and charges: the money brought (open charges first, then whole months, the "
                     "rest an advance)."),
        "method": _l("The payment method by its id or its code; cash when left out."),
        "payment_type": _l("The payment type by its id or its code; by default from what the payment pays."),
        "request_id": _l("Sent again, the same request id records nothing new."),
    }
    search_columns = ["paid_at", "currency", "method", "payment_type"]
    order_columns = ["id", "paid_at"]
    base_order = ("paid_at", "desc")

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented(
        requestBody=json_request({"$ref": "#/components/schemas/{{self.__class__.__name__}}.post"}),
        responses={200: _recorded_answer("The request id was recorded before; the payment it recorded, nothing new"),
                   201: _recorded_answer("The payment recorded, and messages about what followed it (an invoice "
                                         "not issued)")})
    def post(self):
        """Record a payment of a client, as the cash desk does: the same "record payment" right, only for a client
        within the operator's reach, the same refusals (nothing is recorded then)."""
        return self.post_headless()

    @api_operation
    def post_headless(self):
        actor = current_operator()
        if not may(actor, permissions.RECORD_PAYMENT):
            return self.response_403()
        values = self.loaded(self.add_model_schema, self.json_body())
        try:
            client, method, payment_type = payment_references(actor, values["client"], values.get("method"),
                                                              values.get("payment_type"))
            result = record_payment(
                actor, client, periods=values.get("periods") or {}, charge_ids=values.get("charge_ids") or [],
                amount=values.get("amount"), currency=values["currency"], method=method, chosen_type=payment_type,
                note=values.get("note"), request_key=values.get("request_id"),
            )
        except IntegrityError:
            # The same request sent twice at once: the other one recorded it.
            discard()
            repeated = find_by_request_key(values.get("request_id"))
            if repeated is None:
                raise
            return self._recorded(200, repeated)
        return self._recorded(200 if result.repeated else 201, result.payment, result.warnings)

    def _recorded(self, status, payment, warnings=()):
        return self.response(status, id=payment.id, result=self._show(payment),
                             warnings=[str(warning) for warning in warnings])

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        if field.name in LISTS:
            # What a method or type may be named by: the active entries, by id or code.
            model = LISTS[field.name]
            entries = db.session.scalars(db.select(model).where(model.active).order_by(model.id)).all()
            info["count"] = len(entries)
            info["values"] = [{"id": entry.id, "code": entry.code, "value": entry.name} for entry in entries]
        return info

    @expose("/<int:pk>/reverse", methods=["POST"])
    @protect()
    @safe
    @permission_name("reverse")
    @documented(path=[RECORD_ID], requestBody=reason_request(MAX_REASON),
                responses={201: record_answer("The reversal, a payment of its own with the negative amount")})
    @api_operation
    def reverse(self, pk):
        """Reverse a payment, saying why: the same right and rules as the panel."""
        actor = current_operator()
        if not may(actor, permissions.REVERSE_PAYMENT):
            return self.response_403()
        body = self.json_body()
        payment = self.found(get_in_scope(Payment, pk, actor))
        try:
            reversal = reverse_payment(actor, payment, body_text(body, "reason"))
        except IntegrityError:
            return self._refused(FieldErrors({"reason": [gettext("This payment is already reversed.")]}))
        return self.response(201, id=reversal.id, result=self._show(reversal))

    def _show(self, payment):
        return self.show_model_schema.dump(payment)
