"""REST API: /api/v1/contracts/, over the same operations as the panel."""
from app.contracts.models import Contract
from app.contracts.services import create_contract, update_contract
from app.core.scoping import DealerScopedApi
from app.core.views import BillingInterface, BillingModelApi, RecordOperations

CONTRACT_OPERATIONS = RecordOperations(create=create_contract, update=update_contract)
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
    operations = CONTRACT_OPERATIONS
