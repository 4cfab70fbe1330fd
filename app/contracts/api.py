"""REST API: /api/v1/contracts/, with the panel's rights, rules and dealer scoping."""
from app.core.views import BillingInterface

from app.contracts.models import Contract
from app.contracts.services import contract_errors, prepare_new_contract
from app.core.views import BillingModelApi
from app.core.scoping import DealerScopedApi

FIELDS = ["client", "contract_type", "subscriptions", "signed_on", "term_months", "status"]


class ContractApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Contract)
    resource_name = "contracts"
    class_permission_name = "Contract"
    allow_browser_login = True
    list_columns = show_columns = ["id", "number", "client.id", "client.name", "contract_type.id",
                                   "contract_type.name", "subscriptions.id", "signed_on", "term_months", "status",
                                   "created_at"]
    add_columns = FIELDS
    # A contract stays with its client.
    edit_columns = [field for field in FIELDS if field != "client"]
    search_columns = ["number", "client", "contract_type", "status", "signed_on"]
    order_columns = ["number", "signed_on"]
    record_errors = staticmethod(contract_errors)

    def pre_add(self, item):
        super().pre_add(item)
        prepare_new_contract(item)
