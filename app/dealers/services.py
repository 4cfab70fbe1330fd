"""Business rules for dealers and head office's own company data."""
from types import SimpleNamespace

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.errors import FieldErrors
from app.core.settings import settings_row
from app.dealers.models import HeadOffice
from app.extensions import db
from app.security.rights import may_access

VAT_NUMBER_REQUIRED = _l("A VAT number is required when the dealer is VAT-registered.")
HEAD_OFFICE_FIELDS = ("company_name", "eik", "vat_number", "mol", "company_address", "city", "phone", "email",
                      "bank_name", "bic", "iban")


def dealer_errors(dealer):
    """Rules that span fields, as {field: message}; empty when the dealer is valid."""
    errors = {}
    if dealer.vat_registered and not dealer.vat_number:
        errors["vat_number"] = [str(VAT_NUMBER_REQUIRED)]
    return errors


def head_office_errors(record):
    """Head office's cross-field rule, as {field: [message]}."""
    if record.vat_registered and not record.vat_number:
        return {"vat_number": [str(_l("A VAT-registered company needs its VAT number."))]}
    return {}


def company_of(dealer):
    """The company on the documents of a dealer's clients; head office's (COMPANY_* settings) for None.

    One shape for contracts, receipts and invoices: name, eik, vat_registered,
    vat_number (only when registered), mol, address, phone, email,
    bank_name, bic, iban, city (head office's place of issue). Missing values
    are empty strings.
    """
    if dealer is None:
        office = head_office()
        company = {
            "name": office.company_name, "eik": office.eik, "vat_registered": bool(office.vat_registered),
            "vat_number": office.vat_number if office.vat_registered else "", "mol": office.mol,
            "address": office.company_address, "city": office.city, "phone": office.phone, "email": office.email,
            "bank_name": office.bank_name, "bic": office.bic, "iban": office.iban,
        }
    else:
        company = {
            "name": dealer.company_name or dealer.name, "eik": dealer.eik,
            "vat_registered": bool(dealer.vat_registered),
            "vat_number": dealer.vat_number if dealer.vat_registered else "", "mol": dealer.mol,
            "address": dealer.company_address or dealer.address, "city": "", "phone": dealer.phone,
            "email": dealer.email, "bank_name": dealer.bank_name, "bic": dealer.bic, "iban": dealer.iban,
        }
    return {key: value if isinstance(value, bool) else (value or "") for key, value in company.items()}


def head_office():
    """Head office's company as saved at /head-office/, or (not saved yet) from the COMPANY_* settings.

    The second is a HeadOffice not added to the session: reading it stores nothing.
    """
    saved = db.session.get(HeadOffice, 1)
    if saved is not None:
        return saved
    config = current_app.config
    vat_number = config.get("COMPANY_VAT_NUMBER") or None
    return HeadOffice(
        id=1, company_name=config.get("COMPANY_NAME"), eik=config.get("COMPANY_EIK"),
        vat_registered=bool(vat_number), vat_number=vat_number, mol=config.get("COMPANY_MOL"),
        company_address=config.get("COMPANY_ADDRESS"), city=config.get("COMPANY_CITY"),
        bank_name=config.get("COMPANY_BANK"), bic=config.get("COMPANY_BIC"), iban=config.get("COMPANY_IBAN"),
    )


def save_head_office(actor, values):
    """Stores head office's company from the form's checked values. Flushes; raises FieldErrors.

    Only a head-office operator with the right to edit it: a dealer's
    operator never changes the seller on head office's documents.
    """
    if not may_access(actor, "can_edit", "HeadOffice") or getattr(actor, "dealer_id", None) is not None:
        raise FieldErrors({"company_name": [str(_l("You do not have the right to do this."))]})
    errors = head_office_errors(SimpleNamespace(**values))
    if errors:
        raise FieldErrors(errors)
    office = settings_row(HeadOffice)
    for field in HEAD_OFFICE_FIELDS:
        setattr(office, field, values.get(field) if values.get(field) not in ("",) else None)
    office.vat_registered = bool(values.get("vat_registered"))
    db.session.flush()
    return office
