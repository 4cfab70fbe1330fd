"""REST API: /api/v1/clients/ and /api/v1/subscriptions/, over the same operations as the panel."""
from flask_appbuilder.api import expose, permission_name, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from sqlalchemy import false

from app.clients.models import ACTIVE, SUSPENDED, TERMINATED, Client, Subscription
from app.clients.services import create_client, phone_condition, update_client
from app.clients.subscriptions import change_status_by_hand, change_technical_parameters, sell_subscription
from app.core.actors import current_operator
from app.core.api import RECORD_ID, api_operation, documented, json_request, record_answer
from app.core.errors import StateConflict
from app.core.openapi import NotBlank, TypedDaysConverter
from app.core.transaction import discard
from app.core.validators import as_id, check_egn, check_eik, check_vat_number
from app.core.views import BillingInterface, BillingModelApi, FilterConverter, RecordOperations
from app.core.scoping import DealerScopedApi

CLIENT_FIELDS = ["kind", "name", "dealer", "phone", "fax", "email", "comment", "egn", "id_card", "company_name",
                 "eik", "tax_number", "mol", "company_address", "vat_registered", "vat_number", "block", "entrance",
                 "floor", "apartment", "address_text"]


# Help texts of the client's fields, in the panel's forms and the API's _info alike.
CLIENT_DESCRIPTIONS = {
    "phone": _l("Several numbers separated by commas."),
    "address_text": _l("When the address is not in the directory, or to add to it."),
    "dealer": _l("Empty for head office."),
}


class PhoneContains(BaseFilter):
    """The phone column's one filter (panel and API): the number typed, in any of its forms, as the search box
    reads it. An operator name of its own: FAB's REST API looks operators up by name in one table shared by
    every column ("ct" there is FAB's text "contains")."""

    name = _l("Contains")
    arg_name = "ct_number"

    def apply(self, query, value):
        condition = phone_condition(str(value or ""))
        return query.filter(false() if condition is None else condition)


class ClientFilterConverter(FilterConverter):
    conversion_table = (("is_client_phone", [PhoneContains]),) + FilterConverter.conversion_table


class ClientInterface(BillingInterface):
    """Clients' data access: the phone is filtered by its key, not as text."""

    filter_converter_class = ClientFilterConverter

    def is_client_phone(self, col_name):
        # FAB builds the interfaces of related models (the dealer filter) from this class too.
        return self.obj is Client and col_name == "phone"


def _sell(actor, client=None, service=None, **values):
    return sell_subscription(actor, client, service, **values)


CLIENT_OPERATIONS = RecordOperations(create=create_client, update=update_client)
SUBSCRIPTION_OPERATIONS = RecordOperations(create=_sell, update=change_technical_parameters)


class ClientApi(DealerScopedApi, BillingModelApi):
    datamodel = ClientInterface(Client)
    resource_name = "clients"
    class_permission_name = "Client"
    allow_browser_login = True
    list_columns = ["id", "client_number", "kind", "name", "phone", "email", "dealer.id", "dealer.name"]
    show_columns = ["id", "client_number", "dealer.id", "block.id"] + [
        f for f in CLIENT_FIELDS if f not in ("dealer", "block", "egn")
    ]
    add_columns = edit_columns = CLIENT_FIELDS
    search_columns = ["client_number", "name", "phone", "email", "dealer"]
    order_columns = ["client_number", "name"]
    raw_checks = {"egn": check_egn, "eik": check_eik, "vat_number": check_vat_number}
    description_columns = CLIENT_DESCRIPTIONS
    operations = CLIENT_OPERATIONS


class SubscriptionStatusChange(Schema):
    """The body of POST /api/v1/subscriptions/<id>/status: published in the spec and read with it."""

    status = fields.String(required=True, validate=validate.OneOf([ACTIVE, SUSPENDED, TERMINATED]),
                           metadata={"description": "The new status: active, suspended or terminated"})
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=300), NotBlank()],
                           metadata={"description": "Why the status changes; the card and the LOG show it"})


class SubscriptionApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Subscription)
    resource_name = "subscriptions"
    class_permission_name = "Subscription"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_status"]
    allow_browser_login = True
    list_columns = show_columns = ["id", "client.id", "service.id", "service.name", "status", "status_reason",
                                   "activation_date", "activates_on", "paid_until", "username", "delivery_address",
                                   "mac_address", "simultaneous_use"]
    add_columns = ["client", "service", "username", "password", "delivery_address", "technology_override",
                   "activates_on"]
    # The activation day is read by the panel's parser of days (yyyy-mm-dd as the spec says, or dd.mm.yyyy).
    model2schemaconverter = TypedDaysConverter
    description_columns = {"activates_on": _l("A service without installation: the day it starts (today or later). "
                                              "Empty: at once. Until then it awaits; that day's billing run "
                                              "activates it.")}
    edit_columns = ["username", "password", "delivery_address", "mac_address", "simultaneous_use"]
    search_columns = ["client", "service", "status", "username"]
    operations = SUBSCRIPTION_OPERATIONS
    # A status changes only through its own operation, with a reason (not through PUT, which has no "status").
    method_permission_name = {**BillingModelApi.method_permission_name, "status": "status"}
    openapi_spec_component_schemas = (SubscriptionStatusChange,)
    status_change_schema = SubscriptionStatusChange()

    @expose("/<int:pk>/status", methods=["POST"])
    @protect()
    @safe
    @permission_name("status")
    @documented(path=[RECORD_ID], requestBody=json_request({"$ref": "#/components/schemas/SubscriptionStatusChange"}),
                responses={200: record_answer("The subscription with its new status"),
                           409: {"$ref": "#/components/responses/409"}})
    @api_operation
    def status(self, pk):
        """Change the subscription's status, saying why: the card's status change, under the same "change
        status" permission, scope and rules; the card and the LOG show the reason."""
        body = self.json_body()
        subscription = self.found(self.datamodel.get(as_id(pk), self._base_filters))
        values = self.loaded(self.status_change_schema, body)
        try:
            change_status_by_hand(current_operator(), subscription, values["status"], values["reason"])
        except StateConflict as conflict:
            discard()
            return self.response(409, message=conflict.errors)
        return self.response(200, id=subscription.id, result=self.show_model_schema.dump(subscription))
