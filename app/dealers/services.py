"""Business rules for dealers."""
from flask_babel import lazy_gettext as _l

VAT_NUMBER_REQUIRED = _l("A VAT number is required when the dealer is VAT-registered.")


def dealer_errors(dealer):
    """Rules that span fields, as {field: message}; empty when the dealer is valid."""
    errors = {}
    if dealer.vat_registered and not dealer.vat_number:
        errors["vat_number"] = [str(VAT_NUMBER_REQUIRED)]
    return errors
