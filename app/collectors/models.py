"""Outside payment collectors (ePay/EasyPay style) and the transactions they posted."""

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from app.core.formatting import utcnow

# The protocol a collector speaks (PaymentCollector.protocol): ours, in the style of ePay, under
# /collect/<code>/init and /confirm; or ePay.bg's published billing protocol under /collect/<code>/pay/init
# and /pay/confirm (app.collectors.epay_billing).
OWN_PROTOCOL, EPAY_BILLING = "own", "epay_billing"
PROTOCOLS = (OWN_PROTOCOL, EPAY_BILLING)


class PaymentCollector(Model):
    """An outside payment collector (ePay, EasyPay, a bank) posting payments through the API."""

    __tablename__ = "payment_collector"
    __versioned__ = {"exclude": ["secret"]}
    __log_masked__ = ("secret",)

    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)  # in the URL: /collect/<code>/…
    name = Column(String(100), nullable=False)
    # The HMAC key; kept readable because checking a signature needs it.
    secret = Column(String(200), nullable=False)
    # Addresses or networks the collector calls from, comma separated.
    allowed_addresses = Column(Text, nullable=False, default="")
    method_id = Column(Integer, ForeignKey("payment_method.id", ondelete="RESTRICT"), nullable=False)
    method = relationship("PaymentMethod")
    active = Column(Boolean, nullable=False, default=True)
    protocol = Column(String(20), nullable=False, default=OWN_PROTOCOL, server_default=OWN_PROTOCOL)
    # ePay.bg billing: the MERCHANTID ePay.bg gave the ISP; its requests must name it.
    merchant_id = Column(String(8))

    def __str__(self):
        return self.name or ""


class CollectorTransaction(Model):
    """A collector's transaction id, seen once: a repeat gets the stored first answer."""

    __tablename__ = "collector_transaction"

    id = Column(Integer, primary_key=True)
    collector_id = Column(Integer, ForeignKey("payment_collector.id", ondelete="RESTRICT"), nullable=False)
    transaction_id = Column(String(64), nullable=False)
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT"))
    response = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("collector_id", "transaction_id", name="uq_collector_transaction"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"№ {self.transaction_id}"
