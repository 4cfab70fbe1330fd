from flask_babel import lazy_gettext as _l
from wtforms import BooleanField

from app.core.menu import in_menu
from app.core.formatting import format_yes_no
from app.core.validators import FieldCheck, ModelRules
from app.audit.formatting import register_entity
from app.core.views import BillingInterface, BillingModelView, SettingsView
from app.dealers.api import BANK_COLUMNS, CHECKS, COMPANY_COLUMNS, CONTACT_COLUMNS, DealerApi
from app.dealers.forms import HeadOfficeForm
from app.dealers.models import Dealer, HeadOffice
from app.dealers.services import dealer_errors, head_office, save_head_office
from app.core.scoping import DealerScopedView

LABELS = {
    "name": _l("Name"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "fax": _l("Fax"),
    "email": _l("E-mail"),
    "comment": _l("Comment"),
    "company_name": _l("Company"),
    "eik": _l("EIK/BULSTAT"),
    "tax_number": _l("Tax number"),
    "mol": _l("Accountable person (MOL)"),
    "company_address": _l("Company address"),
    "vat_registered": _l("VAT-registered"),
    "vat_number": _l("VAT number"),
    "bank_name": _l("Bank"),
    "bic": _l("Bank code (BIC)"),
    "iban": _l("Account (IBAN)"),
}

FIELDSETS = [
    (_l("Contact"), {"fields": CONTACT_COLUMNS}),
    (_l("Company"), {"fields": COMPANY_COLUMNS}),
    (_l("Bank account for client payments"), {"fields": BANK_COLUMNS}),
]

FIELD_CHECKS = {name: [FieldCheck(check)] for name, check in CHECKS.items()}
FIELD_CHECKS["vat_number"].append(ModelRules(dealer_errors))


class DealerView(DealerScopedView, BillingModelView):
    datamodel = BillingInterface(Dealer)
    route_base = "/dealers"
    class_permission_name = "Dealer"
    list_title = _l("Dealers")
    list_note = _l(
        "The dealers who sell the services under their own company. "
        "A dealer is added with the + button above the list.")
    show_title = _l("Dealer")
    add_title = _l("Add dealer")
    edit_title = _l("Edit dealer")
    label_columns = LABELS
    list_columns = ["name", "company_name", "eik", "phone", "email", "vat_registered"]
    search_columns = ["name", "company_name", "eik", "phone", "email", "vat_registered"]
    order_columns = ["name", "company_name", "eik"]
    base_order = ("name", "asc")
    add_fieldsets = edit_fieldsets = show_fieldsets = FIELDSETS
    validators_columns = FIELD_CHECKS
    record_errors = staticmethod(dealer_errors)
    formatters_columns = {"vat_registered": format_yes_no}
    # FAB makes a NOT NULL boolean "required", which refuses an unticked box.
    add_form_extra_fields = edit_form_extra_fields = {
        "vat_registered": BooleanField(LABELS["vat_registered"], default=False)
    }
    description_columns = {
        "eik": _l("9 digits for a company, 13 for a branch."),
        "vat_number": _l("BG followed by the EIK, e.g. BG175074752."),
        "iban": _l("The account that receives the dealer's clients' payments."),
    }


def register(appbuilder):
    register_entity(Dealer, _l("Dealer"), LABELS)
    appbuilder.add_view(DealerView, "Dealers", label=_l("Dealers"), icon="fa-handshake-o",
                        **in_menu("Company"))
    appbuilder.add_api(DealerApi)
    register_entity(HeadOffice, _l("Head office"), {**LABELS, "city": _l("Place of issue")})
    appbuilder.add_view(HeadOfficeView, "Head office", label=_l("Head office"), icon="fa-building-o",
                        **in_menu("Company"))


class HeadOfficeView(SettingsView):
    """Head office's own company data: the seller on its clients' documents."""

    route_base = "/head-office"
    class_permission_name = "HeadOffice"
    form_class = HeadOfficeForm
    model = HeadOffice
    template = "dealers/head_office.html"
    title = _l("Head office")
    saved_message = _l("Saved. New contracts, receipts and invoices use these details.")

    def current(self):
        return head_office()

    def save(self, actor, values):
        save_head_office(actor, values)
