from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlalchemy.orm import validates

from app.core.validators import normalise_identifier


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

    @validates("eik", "vat_number", "iban", "bic")
    def _normalise_identifiers(self, key, value):
        return normalise_identifier(key, value)

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.id == dealer_id

    def __str__(self):
        return self.name or ""
