"""ePay.bg's WEB-merchant protocol: the merchant's settings, and each payment request sent to ePay.bg."""
from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import relationship

from app.clients.models import OfAClient
from app.core.formatting import utcnow

DEMO, PRODUCTION = "demo", "production"
# Where the subscriber's browser posts the payment request (ePay.bg's knowledge base).
EPAY_URLS = {DEMO: "https://demo.epay.bg/", PRODUCTION: "https://www.epay.bg/"}

# A request's status (EpayRequest.status): waiting for ePay.bg, or what ePay.bg's notification said.
PENDING, PAID, DENIED, EXPIRED = "pending", "paid", "denied", "expired"
STATUSES = (PENDING, PAID, DENIED, EXPIRED)


class EpaySettings(Model):
    """The merchant's account with ePay.bg: one row (id 1), saved at /epay/settings/."""

    __tablename__ = "epay_settings"
    __versioned__ = {}
    # The secret word signs every request and notification: "changed" in the LOG, never the value.
    __log_masked__ = ("secret",)

    id = Column(Integer, primary_key=True)
    # The merchant's KIN (ePay.bg calls it MIN in the request, CIN in the profile).
    kin = Column(String(20))
    # Kept readable because checking and making a CHECKSUM needs it; never shown in the panel.
    secret = Column(String(128))
    environment = Column(String(10), nullable=False, default=DEMO)
    # How long a request waits for the payment before ePay.bg lets it expire.
    valid_hours = Column(Integer, nullable=False, default=72)

    __table_args__ = (
        CheckConstraint("id = 1", name="ck_epay_settings_single_row"),
        CheckConstraint("environment IN ('demo', 'production')", name="ck_epay_settings_environment"),
        CheckConstraint("valid_hours >= 1", name="ck_epay_settings_valid_hours"),
        {"extend_existing": True},
    )

    @property
    def url(self):
        return EPAY_URLS.get(self.environment, EPAY_URLS[DEMO])

    @property
    def ready(self):
        return bool(self.kin and self.secret)

    def __str__(self):
        return "ePay.bg"


class EpayRequest(OfAClient, Model):
    """One online payment sent to ePay.bg: our INVOICE number, and what ePay.bg's notification said of it.

    Not versioned: a protocol record, like a collector's transaction; the payment it leads to is in the LOG.
    """

    __tablename__ = "epay_request"

    id = Column(Integer, primary_key=True)
    # INVOICE in the protocol: digits, unique per merchant; a request with a given INVOICE enters ePay.bg once.
    invoice = Column(String(20), nullable=False, unique=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client")
    amount = Column(Numeric(12, 2), nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    description = Column(String(100))
    status = Column(String(10), nullable=False, default=PENDING)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)
    # Who started it ("Абонат 100234" from the portal, or an operator), as the LOG names actors.
    started_by = Column(String(256))
    # From ePay.bg's notification: PAY_TIME as sent (YYYYMMDDhhmmss), STAN, BCODE; when it arrived.
    pay_time = Column(String(14))
    stan = Column(String(20))
    bcode = Column(String(20))
    notified_at = Column(DateTime)
    # The first answer to ePay.bg's notification of this invoice; a repeated notification gets it again.
    answer = Column(Text)
    # EasyPay's 10-digit payment code, when the request was registered for one (reg_bill.cgi): the subscriber
    # pays it in cash at an EasyPay desk, and ePay.bg notifies this INVOICE as any other.
    idn = Column(String(10))
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT"), unique=True)
    payment = relationship("Payment")

    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_epay_request_amount_positive"),
        CheckConstraint("status IN ('pending', 'paid', 'denied', 'expired')", name="ck_epay_request_status"),
        Index("uq_epay_request_idn", "idn", unique=True),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"ePay.bg № {self.invoice}"
