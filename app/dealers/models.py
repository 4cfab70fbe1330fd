from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlalchemy.orm import validates

from app.core.validators import check_bic, check_eik, check_iban, check_vat_number


class Dealer(Model):
    """A reseller; its company data is the seller on its clients' documents."""

    __tablename__ = "dealer"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False, unique=True)
    address = Column(String(300))
    phone = Column(String(50))
    fax = Column(String(50))
    email = Column(String(150))
    comment = Column(Text)
    company_name = Column(String(200))
    eik = Column(String(13), index=True)
    tax_number = Column(String(20))
    mol = Column(String(150))
    company_address = Column(String(300))
    vat_registered = Column(Boolean, nullable=False, default=False)
    vat_number = Column(String(15))
    bank_name = Column(String(150))
    bic = Column(String(11))
    iban = Column(String(34))

    # A value set directly (services, seed, API) is checked and normalised
    # here too, so no path can store a malformed identifier.
    @validates("eik")
    def _normalise_eik(self, key, value):
        return check_eik(value) if value else None

    @validates("vat_number")
    def _normalise_vat_number(self, key, value):
        return check_vat_number(value) if value else None

    @validates("iban")
    def _normalise_iban(self, key, value):
        return check_iban(value) if value else None

    @validates("bic")
    def _normalise_bic(self, key, value):
        return check_bic(value) if value else None

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.id == dealer_id

    def __str__(self):
        return self.name or ""
