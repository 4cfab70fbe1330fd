"""Charges and what a client owes: open charges plus the periods that make each
live subscription current. Amounts owed are kept in EUR. Functions flush;
the unit of work commits.
"""
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import func
from sqlalchemy.orm import aliased

from app.billing import periods as period_rules
from app.billing.currency import to_eur
from app.billing.models import ADVANCE, INSTALLATION_FEE, Charge, Payment, PaymentAllocation, PaymentMethod, PaymentType
from app.clients.models import LIVE, Subscription
from app.core.actors import operator_of
from app.core.errors import FieldErrors
from app.core.formatting import format_date, local_today, office_language, utcnow
from app.core.money import check_amount, check_currency, format_money
from app.core.validators import InvalidValue
from app.extensions import db
from app.security import permissions
from app.security.rights import may
from app.core.scoping import in_scope

# What a client owes and has paid ahead is decided here, once (docs/product.md, "Due today"), over the
# subscription's own rule of when it owes periods (Subscription.owes_periods): the card, the desk, the
# collectors, the warnings and the billing cycle ask these functions; the debtors report counts with the
# same rules in SQL (app.reports.services.debtors), and a property test holds the two together.
ZERO = Decimal("0.00")


def payment_type(code):
    return db.session.scalar(db.select(PaymentType).where(PaymentType.code == code))


def payment_method(code):
    return db.session.scalar(db.select(PaymentMethod).where(PaymentMethod.code == code))


def add_charge(client, description, amount, currency="EUR", *, subscription=None, type_code=None,
               charge_type=None, operator=None, billing_key=None, day=None):
    """A charge the client owes, converted to EUR. Idempotent by `billing_key`. Flushes."""
    if billing_key:
        existing = db.session.scalar(db.select(Charge).where(Charge.billing_key == billing_key))
        if existing is not None:
            return existing
    try:
        amount = check_amount(amount)
        currency = check_currency(currency)
    except InvalidValue as error:
        raise FieldErrors({"amount": [str(error)]}) from None
    if amount <= 0:
        raise FieldErrors({"amount": [gettext("The amount must be more than zero.")]})
    charge = Charge(
        client=client, subscription=subscription, description=description,
        payment_type=charge_type or payment_type(type_code or "other"),
        amount=to_eur(amount, currency, day or local_today()), currency="EUR",
        created_by=operator_of(operator), billing_key=billing_key,
    )
    db.session.add(charge)
    db.session.flush()
    return charge


def add_installation_charge(subscription, operator=None):
    """The service's installation fee, owed from the day the service is sold."""
    service = subscription.service
    if not service.installation_fee or service.installation_fee <= 0:
        return None
    with office_language():
        description = gettext("Installation: %(service)s", service=service.name)
    return add_charge(
        subscription.client, description,
        service.installation_fee, service.currency, subscription=subscription, type_code=INSTALLATION_FEE,
        operator=operator, billing_key=f"installation:{subscription.id}",
    )


def add_manual_charge(actor, client, *, description, amount, currency="EUR", subscription=None,
                      payment_type=None):
    """A charge typed by an operator (needs the right to add charges), converted to EUR. Flushes.

    Raises FieldErrors, and nothing is stored, when it is not allowed.
    """
    errors = {}
    if not may(actor, permissions.ADD_CHARGES):
        errors["amount"] = [gettext("You do not have the right to add charges.")]
    if client is None:
        errors["client"] = [gettext("Choose the client.")]
    elif not in_scope(client, actor):
        errors["client"] = [gettext("This record belongs to another dealer.")]
    elif subscription is not None and subscription.client_id != client.id:
        errors["subscription"] = [gettext("The subscription belongs to another client.")]
    if not (description or "").strip():
        errors["description"] = [gettext("Say what the charge is for.")]
    if errors:
        raise FieldErrors(errors)
    return add_charge(client, description.strip(), amount, currency or "EUR", subscription=subscription,
                      charge_type=payment_type, operator=actor)


def cancel_charge(actor, charge, reason):
    """Cancels an open charge made by mistake, saying why (the LOG keeps both). Flushes.

    A paid charge is not cancelled: the payment is reversed first.
    """
    if not may(actor, permissions.ADD_CHARGES):
        raise FieldErrors({"reason": [gettext("You do not have the right to add charges.")]})
    if not in_scope(charge, actor):
        raise FieldErrors({"reason": [gettext("This record belongs to another dealer.")]})
    if not (reason or "").strip():
        raise FieldErrors({"reason": [gettext("Say why the charge is cancelled.")]})
    if len(reason.strip()) > 300:
        raise FieldErrors({"reason": [gettext("At most %(max)d characters.", max=300)]})
    # Locked, so a payment being recorded for it at this moment cannot also pay it.
    db.session.scalar(db.select(Charge.id).where(Charge.id == charge.id).with_for_update())
    db.session.refresh(charge)
    if charge.cancelled_at is not None:
        raise FieldErrors({"reason": [gettext("The charge is already cancelled.")]})
    if charge.paid_by_id is not None:
        raise FieldErrors({"reason": [gettext("The charge is paid; reverse the payment first.")]})
    charge.cancelled_at = utcnow()
    charge.cancelled_by = operator_of(actor)
    charge.cancel_reason = reason.strip()
    db.session.flush()


def cancel_sale_charges(actor, subscription, reason):
    """A subscription that never started was ended (its installation was cancelled): what its sale charged and
    is still open is cancelled with that reason (the LOG keeps it). A paid charge stays: its payment is
    reversed by who may. Flushes; returns the charges cancelled."""
    charges = db.session.scalars(
        db.select(Charge).where(Charge.subscription_id == subscription.id, Charge.open_condition())
        .with_for_update(of=Charge)).all()
    for charge in charges:
        charge.cancelled_at = utcnow()
        charge.cancelled_by = operator_of(actor)
        charge.cancel_reason = reason[:300]
    db.session.flush()
    return charges


def anchor_day(subscription, day):
    return subscription.activation_date or day


def periods_for(subscription, count, day):
    return period_rules.next_periods(subscription.service.month_type, count, subscription.paid_until,
                                     anchor_day(subscription, day))


def period_fee_eur(subscription, day):
    service = subscription.service
    return to_eur(service.monthly_fee, service.currency, day)


@dataclass
class SubscriptionDue:
    subscription: Subscription
    periods: int
    amount_eur: Decimal
    paid_until_after: object


@dataclass
class ClientDue:
    charges: list = field(default_factory=list)
    subscriptions: list = field(default_factory=list)
    advance_eur: Decimal = ZERO

    @property
    def total_eur(self):
        return sum((charge.amount for charge in self.charges), ZERO) + \
            sum((due.amount_eur for due in self.subscriptions), ZERO)

    @property
    def payable_eur(self):
        """What is left to pay once the advance is counted: what the card, a collector and a warning ask for."""
        return max(self.total_eur - self.advance_eur, ZERO)


def due_lines(due, gettext=gettext):
    """What a ClientDue consists of, one line per charge, subscription and the advance (collectors, warnings).

    `gettext`: the billing cycle's chunk passes its own (app.core.formatting.Texts)."""
    lines = [f"{charge.description}: {format_money(charge.amount, 'EUR')}" for charge in due.charges]
    lines += [gettext("%(service)s to %(day)s: %(amount)s", service=item.subscription.service.name,
                      day=format_date(item.paid_until_after), amount=format_money(item.amount_eur, "EUR"))
              for item in due.subscriptions]
    if due.advance_eur > 0:
        lines.append(gettext("Less the advance: %(amount)s", amount=format_money(due.advance_eur, "EUR")))
    return lines


def not_reversed(payment_id=Payment.id):
    """The condition that the payment `payment_id` names (Payment.id, an alias's id, an allocation's
    payment_id) has no reversal."""
    reversal = aliased(Payment)
    # "IS NOT NULL" is implied; said, the planner hashes the reversals (1 %) read by their index, where it
    # merged the advances with all 3,000,000 entries of that index, nulls included.
    return ~db.select(reversal.id).where(reversal.reversal_of_id == payment_id,
                                         reversal.reversal_of_id.isnot(None)).exists()


def subscription_due(subscription, day=None):
    """The periods that make a subscription paid through `day` (at least the next one), and their price."""
    day = day or local_today()
    count = period_rules.periods_to_cover(subscription.service.month_type, subscription.paid_until,
                                          anchor_day(subscription, day), day)
    periods = periods_for(subscription, count, day)
    return SubscriptionDue(subscription, count, period_rules.periods_price(periods, period_fee_eur(subscription, day)),
                           periods[-1].end)


def open_charges(client_id):
    return db.session.scalars(
        db.select(Charge).where(Charge.client_id == client_id, Charge.open_condition()).order_by(Charge.id)
    ).all()


def client_due(client, day=None, *, charges=None, advance_eur=None):
    """What a client owes today: open charges, plus each live subscription's next period(s).

    `charges` (the client's open charges) and `advance_eur` are read here
    unless the caller has them already (the billing cycle reads a whole
    chunk's at once).
    """
    day = day or local_today()
    due = ClientDue(charges=open_charges(client.id) if charges is None else charges)
    for subscription in client.subscriptions:
        if subscription.status in LIVE:
            item = subscription_due(subscription, day)
            if item.amount_eur > 0:
                due.subscriptions.append(item)
    due.advance_eur = advance_total(client.id) if advance_eur is None else advance_eur
    return due


@dataclass
class DueToday:
    """What the client card and the payment form say about money (a view model, in EUR).

    Due today is what is not paid through today — the periods of each live
    subscription whose "paid until" has passed (or that was never paid), and
    the open charges — less the advance. A client paid ahead owes nothing
    today; the next payment is when the first paid period ends, and how much
    that next period costs (less what is left of the advance).
    """
    overdue: list = field(default_factory=list)  # SubscriptionDue, for subscriptions not paid through today
    charges: list = field(default_factory=list)
    advance_eur: Decimal = ZERO
    next_day: object = None
    next_subscriptions: list = field(default_factory=list)
    next_price_eur: Decimal = ZERO

    @property
    def owed_eur(self):
        """Before the advance."""
        return sum((charge.amount for charge in self.charges), ZERO) + \
            sum((item.amount_eur for item in self.overdue), ZERO)

    @property
    def due_eur(self):
        return max(self.owed_eur - self.advance_eur, ZERO)

    @property
    def advance_after_eur(self):
        """What is left of the advance once today's due is paid with it."""
        return max(self.advance_eur - self.owed_eur, ZERO)

    @property
    def next_eur(self):
        return max(self.next_price_eur - self.advance_after_eur, ZERO)


def due_today(client, day=None, *, subscriptions=None, charges=None, advance_eur=None):
    """The card's money for `client` on `day` (see DueToday). `subscriptions`, `charges` and `advance_eur` are
    read here unless the caller has them already."""
    day = day or local_today()
    due = DueToday(charges=open_charges(client.id) if charges is None else charges,
                   advance_eur=advance_total(client.id) if advance_eur is None else advance_eur)
    upcoming = []  # (first unpaid day after today's due is paid, subscription, paid until by then)
    for subscription in client.subscriptions if subscriptions is None else subscriptions:
        if subscription.status not in LIVE or not subscription.service.monthly_fee:
            continue
        paid_until = subscription.paid_until
        if subscription.owes_periods(day):
            item = subscription_due(subscription, day)
            due.overdue.append(item)
            paid_until = item.paid_until_after
        start = paid_until + timedelta(days=1) if paid_until else subscription.first_unpaid_day(day)
        upcoming.append((start, subscription, paid_until))
    if upcoming:
        due.next_day = min(start for start, _subscription, _paid in upcoming)
        for start, subscription, paid_until in upcoming:
            if start == due.next_day:
                period = period_rules.next_periods(subscription.service.month_type, 1, paid_until,
                                                   anchor_day(subscription, day))
                due.next_subscriptions.append(subscription)
                due.next_price_eur += period_rules.periods_price(period, period_fee_eur(subscription, start))
    return due


def advances(*keys):
    """SQL: the advance summed per `keys` (PaymentAllocation.client_id; with its payment's columns too:
    Payment.id, Payment.paid_at…), labelled "advance".

    The advance is the money paid beyond whole charges and periods: the
    allocations of kind ADVANCE of payments not reversed (a payment at the
    desk that spent some of it holds a negative one). Every reading of a
    client's advance is this query — the card and the desk (advance_total),
    the cycle's clients with one, the payments holding it
    (app.billing.advance.advance_holders). The debtors report reads every
    client's as the database keeps it (ClientAdvance: triggers count it again
    with this same rule whenever it changes; migration 0044).

    The allocations carry their payment's client (PaymentAllocation.client_id), so the advance is read from
    them alone (ix_payment_allocation_advance, an index of the advance allocations by client); the payment
    is joined only when a key is one of its columns.
    """
    query = (db.select(*keys, func.sum(PaymentAllocation.amount_eur).label("advance"))
             .select_from(PaymentAllocation)
             .where(PaymentAllocation.kind == ADVANCE, not_reversed(PaymentAllocation.payment_id)))
    if any(getattr(key, "class_", None) is Payment for key in keys):
        query = query.join(Payment, Payment.id == PaymentAllocation.payment_id)
    return query.group_by(*keys)


def advance_total(client_id):
    """The client's advance (see `advances`), 0 when none."""
    row = db.session.execute(advances(PaymentAllocation.client_id)
                             .where(PaymentAllocation.client_id == client_id)).first()
    return Decimal(row.advance if row is not None else 0).quantize(Decimal("0.01"))
