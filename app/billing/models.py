"""Money records: rates, methods and types, charges, payments and what they paid.

Payments are never changed or deleted. A mistake is corrected by a reversal:
a payment row of its own, with the negated amounts, that references the
original (`reversal_of_id`, unique: a payment is reversed at most once).
What a payment paid is kept in PaymentAllocation rows, with "paid until"
before and after, so a reversal restores exactly the previous state.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
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
from sqlalchemy import event, inspect, select, text, update
from sqlalchemy.orm import object_session, relationship, validates

from app.clients.models import OfAClient
from app.core.formatting import format_date, local_time, utcnow
from app.core.money import check_amount, format_money
from app.core.validators import InvalidValue

# Codes of the built-in methods and types (the migration creates them; their
# names can be edited, and more can be added).
CASH = "cash"
BANK = "bank"
EPAY = "epay"
EASYPAY = "easypay"
CARD = "card"
# Money moved in from the previous system (an opening credit, the payment history): inactive, never at the desk.
CARRIED = "carried"

MONTHLY_FEE = "monthly"
INSTALLATION_FEE = "installation"
EXTRA_TRAFFIC = "traffic"
DEPOSIT = "deposit"
OTHER = "other"

# What one allocation of a payment paid.
PAID_CHARGE = "charge"
PAID_PERIODS = "periods"
ADVANCE = "advance"  # more than whole charges and periods: kept as an advance


class CurrencyRate(Model):
    """How many units of a currency one euro buys, from a date on (e.g. 1 EUR = 1,0850 USD)."""

    __tablename__ = "currency_rate"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    currency = Column(String(3), nullable=False)
    valid_from = Column(Date, nullable=False)
    rate = Column(Numeric(12, 6), nullable=False)

    __table_args__ = (
        UniqueConstraint("currency", "valid_from", name="uq_currency_rate_day"),
        CheckConstraint("rate > 0", name="ck_currency_rate_positive"),
        {"extend_existing": True},
    )

    @validates("rate")
    def _check_rate(self, key, value):
        return check_rate(value)

    def __str__(self):
        return f"{self.currency} {self.rate}"


def check_rate(value):
    """A positive exchange rate with at most six decimals; the decimal comma is accepted."""
    try:
        rate = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidValue(_l("Not a rate, e.g. 1,0850.")) from None
    if not rate.is_finite() or rate <= 0 or rate != rate.quantize(Decimal("0.000001")) or rate >= 1000000:
        raise InvalidValue(_l("Not a rate, e.g. 1,0850."))
    return rate


class EditableList:
    """Columns of a list the office edits; `code` marks the built-in entries the code refers to."""

    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    code = Column(String(20), unique=True)
    name = Column(String(100), nullable=False, unique=True)
    active = Column(Boolean, nullable=False, default=True)

    def __str__(self):
        return self.name or ""


class PaymentMethod(EditableList, Model):
    """Cash, bank transfer, ePay, EasyPay, card…"""

    __tablename__ = "payment_method"


class PaymentType(EditableList, Model):
    """What a payment pays: monthly fee, installation, extra traffic, deposit, other."""

    __tablename__ = "payment_type"


class Charge(OfAClient, Model):
    """Something a client owes besides the monthly fee, in EUR, open until a payment pays it."""

    __tablename__ = "charge"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client")
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), index=True)
    subscription = relationship("Subscription")
    payment_type_id = Column(Integer, ForeignKey("payment_type.id", ondelete="RESTRICT"), nullable=False)
    payment_type = relationship("PaymentType", lazy="joined")
    description = Column(String(300), nullable=False)
    amount = Column(Numeric(12, 2), nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("Operator", foreign_keys=[created_by_id])
    # The payment that paid it; cleared again by that payment's reversal.
    paid_by_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT", name="fk_charge_paid_by"), index=True)
    paid_by = relationship("Payment", foreign_keys=[paid_by_id])
    # Makes a charge the billing cycle adds idempotent (e.g. "traffic:<sub>:<period>").
    billing_key = Column(String(100), unique=True)
    # A charge made by mistake is cancelled with a reason, never deleted.
    cancelled_at = Column(DateTime)
    cancelled_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_charge_cancelled_by"))
    cancelled_by = relationship("Operator", foreign_keys=[cancelled_by_id])
    cancel_reason = Column(String(300))

    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_charge_amount_positive"),
        Index("ix_charge_client_open", "client_id", "paid_by_id"),
        {"extend_existing": True},
    )

    @validates("amount")
    def _check_amount(self, key, value):
        return check_amount(value)

    @property
    def is_open(self):
        return self.paid_by_id is None and self.cancelled_at is None

    @classmethod
    def open_condition(cls):
        """Owed still: neither paid nor cancelled."""
        return cls.paid_by_id.is_(None) & cls.cancelled_at.is_(None)

    def amount_display(self):
        return format_money(self.amount, self.currency)

    def __str__(self):
        return f"{self.description} — {self.amount_display()}"


class Payment(Model):
    """Money received from a client (or, with reversal_of_id, the reversal of such)."""

    __tablename__ = "payment"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False)
    client = relationship("Client", lazy="joined")
    # The client's dealer when paid: the dealer's cash, even if the client moves later.
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="RESTRICT"), index=True)
    dealer = relationship("Dealer")
    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"))
    operator = relationship("Operator", foreign_keys=[operator_id], lazy="joined")
    collector_id = Column(Integer, ForeignKey("payment_collector.id", ondelete="RESTRICT",
                                              name="fk_payment_collector"))
    collector = relationship("PaymentCollector")
    method_id = Column(Integer, ForeignKey("payment_method.id", ondelete="RESTRICT"), nullable=False)
    method = relationship("PaymentMethod", lazy="joined")
    type_id = Column(Integer, ForeignKey("payment_type.id", ondelete="RESTRICT"), nullable=False)
    payment_type = relationship("PaymentType", lazy="joined")
    amount = Column(Numeric(12, 2), nullable=False)
    currency = Column(String(3), nullable=False)
    amount_eur = Column(Numeric(12, 2), nullable=False)
    paid_at = Column(DateTime, nullable=False, default=utcnow)
    # The office's calendar day of paid_at (Europe/Sofia), set when the payment is written (never changes,
    # like the payment): the reports group and filter a year of payments by it without converting
    # every row's moment in SQL (half the revenue report's time at 3,000,000 payments).
    paid_on = Column(Date, nullable=False)
    note = Column(String(500))
    # NO ACTION rather than RESTRICT: checked at the end of a statement, so
    # clearing test data in one DELETE works on PostgreSQL.
    reversal_of_id = Column(Integer, ForeignKey("payment.id", name="fk_payment_reversal_of"),
                            unique=True)
    reversal_of = relationship("Payment", remote_side=[id], foreign_keys=[reversal_of_id],
                               backref="reversal")
    # A form's one-time token (or an API caller's request id): a retried
    # submission finds the payment it already made instead of paying twice.
    request_key = Column(String(64), unique=True)
    allocations = relationship("PaymentAllocation", back_populates="payment", order_by="PaymentAllocation.id")
    # Moved in from the previous system ("внос от <file>, ред N"): no cashier received it, no receipt or invoice.
    imported_from = Column(String(200))

    __table_args__ = (
        CheckConstraint("currency IN ('EUR', 'BGN', 'USD')", name="ck_payment_currency"),
        CheckConstraint(
            "(reversal_of_id IS NULL AND amount > 0 AND amount_eur > 0)"
            " OR (reversal_of_id IS NOT NULL AND amount < 0 AND amount_eur < 0)",
            name="ck_payment_sign",
        ),
        # A client's payment history, newest first; the payment list; the cash desk.
        Index("ix_payment_client_paid_at", "client_id", "paid_at"),
        Index("ix_payment_paid_at", "paid_at"),
        Index("ix_payment_operator_paid_at", "operator_id", "paid_at"),
        Index("ix_payment_paid_on", "paid_on"),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.dealer_id == dealer_id

    @property
    def is_reversal(self):
        return self.reversal_of_id is not None

    def amount_display(self):
        return format_money(self.amount, self.currency)

    def amount_eur_display(self):
        return format_money(self.amount_eur, "EUR")

    def received_by(self):
        """The cashier, or the collector (ePay…) that posted it."""
        if self.imported_from:
            return str(_l("Imported from the previous system"))
        return str(self.collector) if self.collector_id else str(self.operator or "")

    def __str__(self):
        return f"№ {self.id} — {self.amount_display()}"


class PaymentAllocation(Model):
    """One thing a payment paid: a charge, whole periods of a subscription, or an advance (EUR)."""

    __tablename__ = "payment_allocation"

    id = Column(Integer, primary_key=True)
    payment_id = Column(Integer, ForeignKey("payment.id", ondelete="RESTRICT"), nullable=False, index=True)
    payment = relationship("Payment", back_populates="allocations")
    kind = Column(String(10), nullable=False)
    charge_id = Column(Integer, ForeignKey("charge.id", ondelete="RESTRICT"), index=True)
    charge = relationship("Charge")
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), index=True)
    subscription = relationship("Subscription")
    periods = Column(Integer)
    paid_until_before = Column(Date)
    paid_until_after = Column(Date)
    amount_eur = Column(Numeric(12, 2), nullable=False)
    # Its payment's office day (Payment.paid_on), copied when the allocation is written — by the desk, a
    # reversal's payment, the cycle's and an activation's advance use (bulk inserts), an import — always by
    # `_payment_office_days` below, never by the caller: revenue by service then takes a year's allocations
    # by their index without joining each to its payment (3,000,000 payments: most of that report's time).
    paid_on = Column(Date, nullable=False, default=lambda context: _payment_copy(context, "paid_on"))
    # Its payment's client (Payment.client_id), copied the same way and by the same default: a client's
    # advance (app.billing.charges.advances: the card, the desk, the cycle, the debtors) is then summed from
    # the allocations alone (3,000,000 payments: joining 300,000 advances to theirs was 70 % of the debtors).
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT", name="fk_payment_allocation_client_id_client"),
                       nullable=False, default=lambda context: _payment_copy(context, "client_id"))

    __table_args__ = (
        CheckConstraint("kind IN ('charge', 'periods', 'advance')", name="ck_payment_allocation_kind"),
        # Revenue by service: a period's allocations, with what it sums and groups by (an index-only scan).
        Index("ix_payment_allocation_paid_on", "paid_on", "kind", "subscription_id", "charge_id", "amount_eur"),
        # A client's advance, and every client's (the debtors): the advance allocations only, by client, with
        # what `advances` reads (an index-only scan in client order).
        Index("ix_payment_allocation_advance", "client_id", "payment_id", "amount_eur",
              postgresql_where=text("kind = 'advance'"), sqlite_where=text("kind = 'advance'")),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"№ {self.payment_id}: {format_money(self.amount_eur, 'EUR')}"


class ClientAdvance(Model):
    """A client's advance (app.billing.charges.advances), kept by the database: triggers count it again, with
    that same rule, whenever one of its advance allocations or a reversal of their payment is written,
    changed or deleted, in that transaction (migration 0044). Nothing in the application writes it; the
    debtors' report reads it instead of summing every client's advance allocations. No row: no advance."""

    __tablename__ = "client_advance"

    client_id = Column(Integer, ForeignKey("client.id", ondelete="CASCADE"), primary_key=True,
                       autoincrement=False)
    advance_eur = Column(Numeric(12, 2), nullable=False)

    def __str__(self):
        return format_money(self.advance_eur, "EUR")


# --- the daily billing cycle (app/billing/cycle.py) ----------------------------

RUN_RUNNING = "running"
RUN_DONE = "done"
RUN_FAILED = "failed"  # some chunk failed after its retries; running the day again finishes it

# What the cycle does to a subscription, each at most once per period.
WARNING = "warning"
SUSPENSION = "suspension"
ADVANCE_USE = "advance"
TRAFFIC_CHARGE = "traffic"
EFFECT_KINDS = (WARNING, SUSPENSION, ADVANCE_USE, TRAFFIC_CHARGE)


class BillingRun(Model):
    """One run of the cycle for one day: its progress, and the effects it had."""

    __tablename__ = "billing_run"

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False, index=True)
    status = Column(String(10), nullable=False, default=RUN_RUNNING)
    total = Column(Integer, nullable=False, default=0)  # subscriptions selected
    done = Column(Integer, nullable=False, default=0)  # of them processed
    failures = Column(Integer, nullable=False, default=0)
    error = Column(String(500))
    started_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)
    started_by = Column(String(100))  # "schedule", "command line", or the operator who started it
    # The day of the schedule's own run: one per day, whoever else runs the day by hand.
    scheduled_day = Column(Date, unique=True)

    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_billing_run_status"),
        {"extend_existing": True},
    )

    @property
    def percent(self):
        return 100 if not self.total else min(100, round(100 * self.done / self.total))

    def __str__(self):
        return f"№ {self.id}"


class CycleEffect(OfAClient, Model):
    """Something the cycle did to a subscription for one period; unique, so it happens once.

    `period_end` is the "paid until" the effect is about (a warning before
    it, the suspension after it) or the end of the period whose advance or
    traffic it settled. Two runs of the same day, a retried chunk, or a
    crashed worker's rerun meet this constraint instead of acting twice.
    """

    __tablename__ = "cycle_effect"

    id = Column(Integer, primary_key=True)
    run_id = Column(Integer, ForeignKey("billing_run.id", ondelete="RESTRICT"), nullable=False, index=True)
    run = relationship("BillingRun")
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), nullable=False)
    subscription = relationship("Subscription")
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    kind = Column(String(12), nullable=False)
    period_end = Column(Date, nullable=False)
    detail = Column(String(300))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("subscription_id", "period_end", "kind", name="uq_cycle_effect_once"),
        CheckConstraint("kind IN ('warning', 'suspension', 'advance', 'traffic')", name="ck_cycle_effect_kind"),
        {"extend_existing": True},
    )

    def __str__(self):
        return self.detail or f"№ {self.id}"


class DailyTraffic(Model):
    """Bytes a subscription moved on one day (local date). RADIUS accounting adds to it."""

    __tablename__ = "daily_traffic"

    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="CASCADE"), primary_key=True)
    day = Column(Date, primary_key=True)
    bytes_in = Column(BigInteger, nullable=False, default=0)
    bytes_out = Column(BigInteger, nullable=False, default=0)

    __table_args__ = ({"extend_existing": True},)

    def __str__(self):
        return format_date(self.day)


class SubscriptionFreeze(OfAClient, Model):
    """A subscription frozen (ваканция) from `starts_on` through `last_day` (app/billing/freeze.py).

    Which days it holds, and what a subscription may do then: app/billing/usable.py.
    `ends_on` is the last day asked for; `last_day` the last day in force,
    earlier when the freeze was ended early (`ended_on`: the day the service
    worked again). "Paid until" before and after the freeze are kept.
    """

    __tablename__ = "subscription_freeze"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    # Indexed by ix_subscription_freeze_days, which starts with it.
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), nullable=False)
    # The list shows both on every row (a subscription's name is its service's).
    subscription = relationship("Subscription", lazy="joined")
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client", lazy="joined")
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    last_day = Column(Date, nullable=False)
    ended_on = Column(Date)
    reason = Column(String(300), nullable=False)
    paid_until_before = Column(Date)
    paid_until_after = Column(Date)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_by = relationship("Operator", foreign_keys=[created_by_id])

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ck_subscription_freeze_dates"),
        Index("ix_subscription_freeze_days", "subscription_id", "starts_on", "last_day"),
        {"extend_existing": True},
    )

    @property
    def days(self):
        """Days frozen in force (0 for a freeze ended on its first day)."""
        return max((self.last_day - self.starts_on).days + 1, 0)

    def days_in_year(self, year):
        first, last = max(self.starts_on, date(year, 1, 1)), min(self.last_day, date(year, 12, 31))
        return max((last - first).days + 1, 0)

    def __str__(self):
        return f"{self.starts_on:%d.%m.%Y}–{self.last_day:%d.%m.%Y}"


def _payment_copy(context, column):
    """The column default of PaymentAllocation.paid_on and .client_id: that column of the row's payment
    (its office day, its client). Every way an allocation is written goes through it (the ORM's flush,
    `insert(PaymentAllocation)` with many rows): one query per statement, for all its rows' payments, kept
    on the statement's execution context."""
    copies = getattr(context, "_payment_copies", None)
    if copies is None:
        ids = {parameters.get("payment_id") for parameters in (context.compiled_parameters or ())} - {None}
        table = Payment.__table__
        copies = {row.id: row for row in context.connection.execute(
            select(table.c.id, table.c.paid_on, table.c.client_id).where(table.c.id.in_(sorted(ids))))} \
            if ids else {}
        context._payment_copies = copies
    payment = copies.get(context.get_current_parameters().get("payment_id"))
    return getattr(payment, column) if payment is not None else None


@event.listens_for(Payment, "before_insert")
def _payment_office_day(mapper, connection, payment):
    """Every way a payment is written (desk, collector, API, cycle) dates it in the office's days; its
    moment is not changed once received, but if it were, its day would follow (and its allocations' copy
    of it: `_moved_payment_office_day`)."""
    if payment.paid_at is None:
        payment.paid_at = utcnow()
    payment.paid_on = local_time(payment.paid_at).date()


@event.listens_for(Payment, "before_update")
def _moved_payment(mapper, connection, payment):
    """A payment's moment or client changed (no operation does either today; the import or a correction
    might): its allocations' copies (`_payment_copy`) follow, and those loaded read them again when asked."""
    before = payment.paid_on
    _payment_office_day(mapper, connection, payment)
    changed = {}
    if payment.paid_on != before:
        changed["paid_on"] = payment.paid_on
    client = inspect(payment).attrs.client_id.history
    if client.deleted and client.added and client.added[0] != client.deleted[0]:
        changed["client_id"] = payment.client_id
    if changed and payment.id is not None:
        allocations = PaymentAllocation.__table__
        connection.execute(update(allocations).where(allocations.c.payment_id == payment.id).values(**changed))
        session = object_session(payment)
        for allocation in payment.__dict__.get("allocations", ()):
            session.expire(allocation, list(changed))
