"""REST API /api/v1/payments/: read and record payments; no update, no delete."""
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from app.billing.models import Payment, PaymentMethod
from app.billing.services import find_by_request_key, record_payment
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
    include_route_methods = {"get", "get_list", "post", "info"}
    # Recording is governed by the "record payment" right (checked in the
    # service); reading by the Payment view's permissions, as in the panel.
    method_permission_name = {**BillingModelApi.method_permission_name, "post": "show"}
    list_columns = show_columns = PAYMENT_FIELDS
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
