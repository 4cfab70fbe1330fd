from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Column, Integer, String, Text
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


class HeadOffice(Model):
    """Head office's own company: the seller on its clients' contracts, receipts and invoices.

    One row (id 1), saved from /head-office/; until then the COMPANY_*
    settings stand in for it.
    """

    __tablename__ = "head_office"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    company_name = Column(String(200), nullable=False)
    eik = Column(String(13), nullable=False)
    vat_registered = Column(Boolean, nullable=False, default=False)
    vat_number = Column(String(15))
    mol = Column(String(150))
    company_address = Column(String(300), nullable=False)
    city = Column(String(100))  # the place of issue printed on invoices
    phone = Column(String(50))
    email = Column(String(150))
    bank_name = Column(String(150))
    bic = Column(String(11))
    iban = Column(String(34))

    __table_args__ = (
        CheckConstraint("id = 1", name="ck_head_office_single_row"),
        {"extend_existing": True},
    )

    @validates("eik", "vat_number", "iban", "bic")
    def _normalise_identifiers(self, key, value):
        return normalise_identifier(key, value)

    def __str__(self):
        return self.company_name or ""
