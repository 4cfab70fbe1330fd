"""The form of head office's company (/head-office/)."""
from types import SimpleNamespace

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.core.validators import FieldCheck, check_bic, check_eik, check_iban, check_vat_number
from app.dealers.services import head_office_errors


def _text(label, *validators, required=False, max_length=200, description=None):
    checks = [DataRequired()] if required else [Optional()]
    return StringField(label, validators=checks + [Length(max=max_length), *validators],
                       widget=BS3TextFieldWidget(), description=description)


class HeadOfficeForm(FlaskForm):
    company_name = _text(_l("Company"), required=True)
    eik = _text(_l("EIK/BULSTAT"), FieldCheck(check_eik), required=True, max_length=13,
                description=_l("9 digits for a company, 13 for a branch."))
    vat_registered = BooleanField(_l("VAT-registered"), default=False)
    vat_number = _text(_l("VAT number"), FieldCheck(check_vat_number), max_length=15,
                       description=_l("BG followed by the EIK, e.g. BG175074752."))
    mol = _text(_l("Accountable person (MOL)"), max_length=150)
    company_address = _text(_l("Company address"), required=True, max_length=300)
    city = _text(_l("Place of issue"), max_length=100, description=_l("The town printed on invoices."))
    phone = _text(_l("Phone"), max_length=50)
    email = _text(_l("E-mail"), max_length=150)
    bank_name = _text(_l("Bank"), max_length=150)
    bic = _text(_l("Bank code (BIC)"), FieldCheck(check_bic), max_length=11)
    iban = _text(_l("Account (IBAN)"), FieldCheck(check_iban), max_length=34)

    def validate(self, extra_validators=None):
        """The fields' checks, then the rule across them (an empty field skips its own validators)."""
        valid = super().validate(extra_validators)
        for field, messages in head_office_errors(SimpleNamespace(**self.data)).items():
            getattr(self, field).errors = list(getattr(self, field).errors) + messages
            valid = False
        return valid
