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

COLUMNS = [
    "name",
    "address",
    "phone",
    "fax",
    "email",
    "comment",
    "company_name",
    "eik",
    "tax_number",
    "mol",
    "company_address",
    "vat_registered",
    "vat_number",
    "bank_name",
    "bic",
    "iban",
]


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
    raw_checks = {
        "eik": check_eik,
        "vat_number": check_vat_number,
        "iban": check_iban,
        "bic": check_bic,
    }
    record_errors = staticmethod(dealer_errors)
