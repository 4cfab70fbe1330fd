"""Invoices and credit notes (ЗДДС art. 114), with the parties as they were when issued.

The issuer's and recipient's details are copied onto the document: an
invoice must read the same years later, whatever happens to the dealer or
client records afterwards.
"""

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.formatting import utcnow
from app.core.money import format_money

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
HEAD_OFFICE = "head"  # issuer key of head office's own numbering


class Invoice(Model):
    __tablename__ = "invoice"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    kind = Column(String(12), nullable=False, default=INVOICE)
    # "dealer:<id>" or "head": every issuer numbers its documents on its own.
    issuer_key = Column(String(20), nullable=False)
    number = Column(String(10), nullable=False)
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="RESTRICT"), index=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client")
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    payment = relationship("Payment")
    original_id = Column(Integer, ForeignKey("invoice.id", name="fk_invoice_original"),
                         unique=True)
    original = relationship("Invoice", remote_side=[id], foreign_keys=[original_id], backref="credit_notes")
    issue_date = Column(Date, nullable=False)
    tax_event_date = Column(Date, nullable=False)
    place_of_issue = Column(String(100))
    currency = Column(String(3), nullable=False, default="EUR")
    tax_base = Column(Numeric(12, 2), nullable=False)
    vat_rate = Column(Numeric(5, 2), nullable=False)
    vat_amount = Column(Numeric(12, 2), nullable=False)
    total = Column(Numeric(12, 2), nullable=False)
    no_vat_reason = Column(String(200))
    payment_method = Column(String(100))
    compiled_by = Column(String(200))
    issuer_name = Column(String(200), nullable=False)
    issuer_eik = Column(String(13), nullable=False)
    issuer_vat_number = Column(String(15))
    issuer_vat_registered = Column(Boolean, nullable=False, default=False)
    issuer_address = Column(String(300), nullable=False)
    issuer_mol = Column(String(150))
    issuer_bank = Column(String(150))
    issuer_iban = Column(String(34))
    issuer_bic = Column(String(11))
    recipient_name = Column(String(200), nullable=False)
    recipient_eik = Column(String(13))
    recipient_vat_number = Column(String(15))
    recipient_address = Column(String(300))
    recipient_mol = Column(String(150))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    lines = relationship("InvoiceLine", back_populates="invoice", order_by="InvoiceLine.id",
                         cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("issuer_key", "number", name="uq_invoice_issuer_number"),
        # One invoice per payment (issuing again finds it).
        UniqueConstraint("payment_id", "kind", name="uq_invoice_payment_kind"),
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="ck_invoice_kind"),
        Index("ix_invoice_issue_date", "issue_date"),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.dealer_id == dealer_id

    @property
    def title(self):
        return "Кредитно известие" if self.kind == CREDIT_NOTE else "Фактура"

    def total_display(self):
        return format_money(self.total, self.currency)

    def __str__(self):
        return f"{self.title} № {self.number}"


class InvoiceLine(Model):
    __tablename__ = "invoice_line"

    id = Column(Integer, primary_key=True)
    invoice_id = Column(Integer, ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False, index=True)
    invoice = relationship("Invoice", back_populates="lines")
    description = Column(String(300), nullable=False)
    unit = Column(String(20), nullable=False, default="бр.")
    quantity = Column(Numeric(12, 3), nullable=False, default=1)
    unit_price = Column(Numeric(12, 2), nullable=False)  # without VAT
    amount = Column(Numeric(12, 2), nullable=False)  # without VAT

    def __str__(self):
        return self.description or ""
