from app.core.scoping import DealerScopedApi
from app.core.validators import (
    check_bic,
    check_eik,
    check_iban,
    check_vat_number,
)
from app.core.views import BillingInterface, BillingModelApi
from app.dealers.models import Dealer
from app.dealers.services import dealer_errors

# A dealer's fields in the groups the panel's form shows them in (app.dealers.views.FIELDSETS).
CONTACT_COLUMNS = ["name", "address", "phone", "fax", "email", "comment"]
COMPANY_COLUMNS = ["company_name", "eik", "tax_number", "mol", "company_address", "vat_registered", "vat_number"]
BANK_COLUMNS = ["bank_name", "bic", "iban"]
COLUMNS = CONTACT_COLUMNS + COMPANY_COLUMNS + BANK_COLUMNS
# The checks of a dealer's typed values, for the API's body as sent and the panel's form fields alike.
CHECKS = {"eik": check_eik, "vat_number": check_vat_number, "iban": check_iban, "bic": check_bic}


class DealerApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Dealer)
    resource_name = "dealers"
    class_permission_name = "Dealer"
    allow_browser_login = True
    list_columns = ["id"] + COLUMNS
    show_columns = ["id"] + COLUMNS
    add_columns = edit_columns = COLUMNS
    search_columns = ["name", "company_name", "eik", "email", "phone"]
    order_columns = ["name", "eik"]
    raw_checks = CHECKS
    record_errors = staticmethod(dealer_errors)
