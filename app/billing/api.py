"""REST API /api/v1/payments/: read, record and reverse payments; no update, no delete."""
from flask_appbuilder.api import expose, permission_name, protect, safe
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from app.billing.models import Payment, PaymentMethod
from app.billing.services import find_by_request_key, record_payment, reverse_payment
from app.clients.models import Client
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.transaction import discard
from app.core.views import BillingInterface, BillingModelApi
from app.extensions import db
from app.security import permissions
from app.security.rights import may
from app.core.scoping import DealerScopedApi, get_in_scope

PAYMENT_FIELDS = ["id", "paid_at", "client.id", "client.client_number", "client.name", "dealer.id", "amount",
                  "currency", "amount_eur", "method.name", "payment_type.name", "operator.username", "collector.name",
                  "note", "reversal_of.id"]


class PaymentApi(DealerScopedApi, BillingModelApi):
    """POST body: {"client_id", "periods": {"<subscription id>": months}, "charge_ids": [...],
    "amount", "currency", "method": code, "type": code, "note", "request_id"} — either
    what it pays, or an amount alone; "request_id" makes a retried call record nothing new."""

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
    # What _info describes for a new payment (the POST body itself is read by post_headless):
    # FAB's default, every relation, would list other dealers' allocations and versions.
    add_columns = edit_columns = ["client", "method", "payment_type", "currency", "amount", "note"]
    search_columns = ["paid_at", "currency", "method", "payment_type"]
    order_columns = ["id", "paid_at"]
    base_order = ("paid_at", "desc")

    def post_headless(self):
        actor = current_operator()
        if not may(actor, permissions.RECORD_PAYMENT):
            return self.response_403()
        body = self._body()
        if body is None:
            return self.response_400(message=gettext("A JSON object is expected."))
        try:
            client = get_in_scope(Client, body.get("client_id"), actor)
            if client is None:
                return self.response_422(message={"client_id": [gettext("Unknown client.")]})
            result = record_payment(
                actor, client, periods=body.get("periods") or {}, charge_ids=body.get("charge_ids") or [],
                amount=body.get("amount"), currency=body.get("currency") or "EUR",
                method=self._by_code(PaymentMethod, body.get("method")),
                type_code=body.get("type"), note=body.get("note"), request_key=body.get("request_id"),
            )
        except FieldErrors as refusal:
            return self._refused(refusal)
        except IntegrityError:
            # The same request sent twice at once: the other one recorded it.
            discard()
            repeated = find_by_request_key(body.get("request_id"))
            if repeated is None:
                raise
            return self.response(200, id=repeated.id, result=self._show(repeated))
        return self.response(200 if result.repeated else 201, id=result.payment.id,
                             result=self._show(result.payment), warnings=result.warnings)

    @expose("/<int:pk>/reverse", methods=["POST"])
    @protect()
    @safe
    @permission_name("reverse")
    def reverse(self, pk):
        """Reverse a payment, saying why: the same right and rules as the panel.
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [reason]
                  properties:
                    reason:
                      type: string
                      minLength: 1
                      maxLength: 500
          responses:
            201:
              description: The reversal, a payment of its own with the negative amount
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        $ref: '#/components/schemas/{{self.__class__.__name__}}.get'
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        actor = current_operator()
        if not may(actor, permissions.REVERSE_PAYMENT):
            return self.response_403()
        body = self._body()
        if body is None:
            return self.response_400(message=gettext("A JSON object is expected."))
        payment = get_in_scope(Payment, pk, actor)
        if payment is None:
            return self.response_404()
        reason = body.get("reason")
        try:
            reversal = reverse_payment(actor, payment, reason if isinstance(reason, str) else None)
        except FieldErrors as refusal:
            return self._refused(refusal)
        except IntegrityError:
            return self._refused(FieldErrors({"reason": [gettext("This payment is already reversed.")]}))
        return self.response(201, id=reversal.id, result=self._show(reversal))

    @staticmethod
    def _by_code(model, code):
        if code in (None, ""):
            return None
        found = db.session.scalar(db.select(model).where(model.code == str(code)))
        if found is None:
            raise FieldErrors({"method": [gettext("Unknown payment method %(code)s.", code=code)]})
        return found

    def _show(self, payment):
        return self.show_model_schema.dump(payment)
