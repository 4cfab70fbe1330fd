"""Business rules for dealers."""
from flask_babel import lazy_gettext as _l

VAT_NUMBER_REQUIRED = _l("A VAT number is required when the dealer is VAT-registered.")


def dealer_errors(dealer):
    """Rules that span fields, as {field: message}; empty when the dealer is valid."""
    errors = {}
    if dealer.vat_registered and not dealer.vat_number:
        errors["vat_number"] = [str(VAT_NUMBER_REQUIRED)]
    return errors


def company_of(dealer):
    """The company on the documents of a dealer's clients; head office's (COMPANY_* settings) for None.

    One shape for contracts, receipts and invoices: name, eik, vat_registered,
    vat_number (only when registered), mol, address, phone, email,
    bank_name, bic, iban. Missing values are empty strings.
    """
    from flask import current_app

    if dealer is None:
        config = current_app.config
        vat_number = config.get("COMPANY_VAT_NUMBER") or ""
        company = {
            "name": config.get("COMPANY_NAME"), "eik": config.get("COMPANY_EIK"), "vat_registered": bool(vat_number),
            "vat_number": vat_number, "mol": config.get("COMPANY_MOL"), "address": config.get("COMPANY_ADDRESS"),
            "phone": "", "email": config.get("MAIL_FROM") if config.get("MAIL_SERVER") else "",
            "bank_name": config.get("COMPANY_BANK"), "bic": config.get("COMPANY_BIC"),
            "iban": config.get("COMPANY_IBAN"),
        }
    else:
        company = {
            "name": dealer.company_name or dealer.name, "eik": dealer.eik,
            "vat_registered": bool(dealer.vat_registered),
            "vat_number": dealer.vat_number if dealer.vat_registered else "", "mol": dealer.mol,
            "address": dealer.company_address or dealer.address, "phone": dealer.phone, "email": dealer.email,
            "bank_name": dealer.bank_name, "bic": dealer.bic, "iban": dealer.iban,
        }
    return {key: value if isinstance(value, bool) else (value or "") for key, value in company.items()}
