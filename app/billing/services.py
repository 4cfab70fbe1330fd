"""Payments and their reversal — only through here.

Every function takes the acting operator (or a collector's SystemActor)
first, flushes, and leaves the commit to the unit of work. A payment keeps
the amount and currency received plus its value in EUR on the day; what it
paid is kept in PaymentAllocation rows. What follows a payment (an invoice,
reactivation) listens to payment_recorded and payment_reversed.
"""
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import func

from app.billing import periods as period_rules
from app.billing.charges import (
    LIVE,
    ZERO,
    advance_total,
    payment_method,
    payment_type,
    period_fee_eur,
    periods_for,
)
from app.billing.currency import from_eur, to_eur
from app.billing.models import (
    ADVANCE,
    CASH,
    DEPOSIT,
    MONTHLY_FEE,
    PAID_CHARGE,
    PAID_PERIODS,
    Charge,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentType,
)
from app.clients.models import Client, Subscription
from app.core.actors import operator_of
from app.core.errors import FieldErrors
from app.core.events import payment_recorded, payment_reversed, send
from app.core.formatting import format_date, local_today, utcnow
from app.core.money import check_amount, check_currency, format_money, quantize
from app.core.validators import InvalidValue, as_id
from app.extensions import db
from app.security import permissions
from app.security.rights import may
from app.core.scoping import get_in_scope, in_scope


MAX_NOTE = 500  # Payment.note
MAX_REQUEST_KEY = 64  # Payment.request_key


@dataclass
class Recorded:
    payment: Payment
    repeated: bool = False  # the same request was recorded before: nothing new
    warnings: list = field(default_factory=list)  # for the operator, from what followed the payment


def find_by_request_key(request_key):
    if not request_key:
        return None
    return db.session.scalar(db.select(Payment).where(Payment.request_key == str(request_key)))


def payment_references(actor, client_id, method=None, payment_type=None):
    """The client, payment method and payment type a request names, as (client, method, type), for
    record_payment: the client by its id, only within the actor's reach (another dealer's client is as
    unknown as a missing one); the method and the type by their id (a whole number) or their code (text,
    "cash", "monthly"), None when not named (record_payment then chooses). Raises FieldErrors naming
    every reference that names nothing."""
    errors = {}
    client = get_in_scope(Client, client_id, actor)
    if client is None:
        errors["client"] = [gettext("Unknown client.")]
    chosen_method = _list_entry(PaymentMethod, method)
    if chosen_method is None and method not in (None, ""):
        errors["method"] = [gettext("Unknown payment method %(code)s.", code=method)]
    chosen_type = _list_entry(PaymentType, payment_type)
    if chosen_type is None and payment_type not in (None, ""):
        errors["payment_type"] = [gettext("Unknown payment type %(code)s.", code=payment_type)]
    if errors:
        raise FieldErrors(errors)
    return client, chosen_method, chosen_type


def _list_entry(model, reference):
    """The entry of an office-edited list named by its id (a whole number) or its code (text); None if none."""
    if isinstance(reference, str) and reference.strip():
        return db.session.scalar(db.select(model).where(model.code == reference.strip()))
    if isinstance(reference, int) and as_id(reference) is not None:
        return db.session.get(model, reference)
    return None


def record_payment(actor, client, *, method=None, currency="EUR", periods=None, charge_ids=(), amount=None,
                   type_code=None, chosen_type=None, note=None, request_key=None, day=None):
    """Records a payment of a client and applies it, then sends payment_recorded. Flushes.

    `actor` is the operator at the desk, or a collector's SystemActor (the
    payment then names the collector, not an operator).

    What it pays is either chosen — `periods` ({subscription id: how many})
    and/or `charge_ids` — and then the amount is their price in `currency`
    (an `amount` given too must match it); or only an `amount` is given and
    it pays open charges oldest first, then whole periods of the
    subscriptions paid least far, keeping the rest as an advance.

    Raises FieldErrors and changes nothing when the payment is not allowed.
    """
    if request_key is not None and not 0 < len(str(request_key)) <= MAX_REQUEST_KEY:
        raise FieldErrors({"request_id": [gettext("A request id has 1 to %(max)d characters.", max=MAX_REQUEST_KEY)]})
    repeated = find_by_request_key(request_key)
    if not may(actor, permissions.RECORD_PAYMENT):
        raise FieldErrors({"amount": [gettext("You do not have the right to record payments.")]})
    if not in_scope(client, actor):
        raise FieldErrors({"client": [gettext("This record belongs to another dealer.")]})
    if repeated is not None:
        if repeated.client_id != client.id:
            # Never show another client's (perhaps another dealer's) payment.
            raise FieldErrors({"request_id": [gettext("This request id was used for another payment.")]})
        return Recorded(repeated, repeated=True)
    day = day or local_today()
    errors = {}
    if note and len(note.strip()) > MAX_NOTE:
        errors["note"] = [gettext("At most %(max)d characters.", max=MAX_NOTE)]
    method = method or payment_method(CASH)
    if method is None or not method.active:
        errors["method"] = [gettext("Choose an active payment method.")]
    if chosen_type is not None and not chosen_type.active:
        errors["payment_type"] = [gettext("Choose an active payment type.")]
    try:
        currency = check_currency(currency)
    except InvalidValue as error:
        errors["currency"] = [str(error)]
    if amount is not None:
        try:
            amount = check_amount(amount)
            if amount <= 0:
                raise InvalidValue(gettext("The amount must be more than zero."))
        except InvalidValue as error:
            errors["amount"] = [str(error)]
    if errors:
        raise FieldErrors(errors)

    chosen = bool(periods) or bool(charge_ids)
    if chosen:
        allocations = _chosen_allocations(client, periods or {}, charge_ids, day)
        total_eur = sum((allocation.amount_eur for allocation in allocations), ZERO)
        if total_eur <= 0:
            raise FieldErrors({"amount": [gettext("What is chosen costs nothing; there is nothing to pay.")]})
        # The client's advance pays its part first: the cashier takes what the card says is due.
        used = min(_locked_advance(client), total_eur)
        if used >= total_eur:
            raise FieldErrors({"amount": [gettext(
                "The client's advance (%(advance)s) covers what is chosen; there is nothing to pay now.",
                advance=format_money(used, "EUR"))]})
        if used > 0:
            allocations.append(PaymentAllocation(kind=ADVANCE, amount_eur=-used))
            total_eur -= used
        expected = from_eur(total_eur, currency, day)
        if amount is not None and amount != expected:
            raise FieldErrors({"amount": [gettext("The amount %(amount)s does not match what is chosen: %(due)s.",
                                                  amount=format_money(amount, currency),
                                                  due=format_money(expected, currency))]})
        amount, amount_eur = expected, total_eur
    elif amount is not None:
        amount_eur = to_eur(amount, currency, day)
        if amount_eur <= 0:
            raise FieldErrors({"amount": [gettext("The amount must be more than zero.")]})
        # What the client has in advance is spent together with the money brought.
        advance = _locked_advance(client)
        allocations = _automatic_allocations(client, amount_eur + advance, day, keep=advance)
    else:
        raise FieldErrors({"amount": [gettext("Enter an amount or choose what the payment pays.")]})

    payment = Payment(
        client=client, dealer_id=client.dealer_id, operator=operator_of(actor),
        collector_id=getattr(actor, "collector_id", None), method=method, amount=amount, currency=currency, amount_eur=amount_eur,
        payment_type=chosen_type or _payment_type_for(allocations, type_code), note=(note or "").strip() or None,
        request_key=str(request_key) if request_key else None, paid_at=utcnow(),
    )
    db.session.add(payment)
    db.session.flush()
    for allocation in allocations:
        allocation.payment = payment
        db.session.add(allocation)
        if allocation.kind == PAID_CHARGE:
            allocation.charge.paid_by_id = payment.id
        elif allocation.kind == PAID_PERIODS:
            allocation.subscription.paid_until = allocation.paid_until_after
    db.session.flush()
    return Recorded(payment, warnings=send(payment_recorded, actor, payment=payment))


def _locked_subscriptions(client, ids):
    query = db.select(Subscription).where(Subscription.id.in_(ids), Subscription.client_id == client.id)
    # Two cashiers paying the same subscription at once: the second waits and
    # extends from where the first left "paid until".
    locked = db.session.scalars(query.with_for_update(of=Subscription))
    return {subscription.id: subscription for subscription in locked}


def _chosen_allocations(client, periods, charge_ids, day):
    allocations, errors = [], {}
    # An id no record can have (text, beyond 64 bits: SQLite cannot even compare it) is no charge of the client.
    wanted = {as_id(charge_id) for charge_id in charge_ids}
    charge_ids = wanted - {None}
    if None in wanted:
        errors["charges"] = [gettext("A chosen charge is not this client's.")]
    if charge_ids:
        charges = db.session.scalars(
            db.select(Charge).where(Charge.id.in_(charge_ids), Charge.client_id == client.id)
            .with_for_update(of=Charge)  # "of": the joined payment type is not locked (PostgreSQL refuses it)
        ).all()
        if len(charges) != len(charge_ids):
            errors["charges"] = [gettext("A chosen charge is not this client's.")]
        elif any(charge.paid_by_id is not None for charge in charges):
            errors["charges"] = [gettext("A chosen charge is already paid.")]
        elif any(charge.cancelled_at is not None for charge in charges):
            errors["charges"] = [gettext("A chosen charge is cancelled.")]
        for charge in sorted(charges, key=lambda charge: charge.id):
            allocations.append(PaymentAllocation(kind=PAID_CHARGE, charge=charge, amount_eur=charge.amount))
    counts, strangers = {}, False
    for subscription_id, count in periods.items():
        try:
            count = int(count)
        except (TypeError, ValueError):
            errors["periods"] = [gettext("The number of months must be a whole number.")]
            continue
        if count and as_id(subscription_id) is None:
            strangers = True  # no subscription has that id, let alone this client's
        elif count:
            counts[as_id(subscription_id)] = count
    if any(not 1 <= count <= period_rules.MAX_PERIODS for count in counts.values()):
        errors["periods"] = [gettext("Between 1 and %(max)d months at once.", max=period_rules.MAX_PERIODS)]
    subscriptions = _locked_subscriptions(client, list(counts)) if counts else {}
    if strangers or len(subscriptions) != len(counts):
        errors["periods"] = [gettext("A chosen subscription is not this client's.")]
    elif any(subscription.status not in LIVE for subscription in subscriptions.values()):
        # Awaiting installation it owes no months yet: money brought now stays an advance, which pays its
        # months from the activation day (the billing cycle).
        errors["periods"] = [gettext("Only an active or suspended subscription has months to pay; an amount "
                                     "paid before the activation stays an advance for it.")]
    if errors:
        raise FieldErrors(errors)
    for subscription_id in sorted(counts):
        subscription = subscriptions[subscription_id]
        paid = periods_for(subscription, counts[subscription_id], day)
        allocations.append(PaymentAllocation(
            kind=PAID_PERIODS, subscription=subscription, periods=len(paid),
            paid_until_before=subscription.paid_until, paid_until_after=paid[-1].end,
            amount_eur=period_rules.periods_price(paid, period_fee_eur(subscription, day)),
        ))
    return allocations


def _locked_advance(client):
    """The client's advance, with the client locked until the commit: two payments at the desk (or one and
    the billing cycle, which locks its clients after their subscriptions, as every payment does here) never
    spend the same advance twice."""
    db.session.scalar(db.select(Client.id).where(Client.id == client.id).with_for_update())
    return advance_total(client.id)


def _automatic_allocations(client, amount_eur, day, keep=ZERO):
    """Open charges oldest first, then one period at a time to whichever subscription is paid least far.

    `amount_eur` includes the advance `keep` the client already has: what is
    left over becomes the new advance, so this payment's advance allocation
    is the difference — negative when it spent some of the old advance.
    """
    allocations, left = [], amount_eur
    charges = db.session.scalars(
        db.select(Charge).where(Charge.client_id == client.id, Charge.open_condition())
        .order_by(Charge.id).with_for_update(of=Charge)
    ).all()
    for charge in charges:
        if charge.amount <= left:
            allocations.append(PaymentAllocation(kind=PAID_CHARGE, charge=charge, amount_eur=charge.amount))
            left -= charge.amount
    live = db.session.scalars(
        db.select(Subscription.id).where(Subscription.client_id == client.id, Subscription.status.in_(LIVE))
    ).all()
    subscriptions = _locked_subscriptions(client, live) if live else {}
    counts = {subscription_id: 0 for subscription_id in subscriptions}
    prices = {subscription_id: ZERO for subscription_id in subscriptions}
    while True:
        candidates = []
        for subscription_id, subscription in subscriptions.items():
            if counts[subscription_id] >= period_rules.MAX_PERIODS:
                continue
            paid = periods_for(subscription, counts[subscription_id] + 1, day)
            price = period_rules.periods_price(paid, period_fee_eur(subscription, day))
            if ZERO < price - prices[subscription_id] <= left:
                candidates.append((paid[-1].end, subscription_id, price))
        if not candidates:
            break
        _end, subscription_id, price = min(candidates)
        left -= price - prices[subscription_id]
        counts[subscription_id] += 1
        prices[subscription_id] = price
    for subscription_id in sorted(counts):
        if counts[subscription_id]:
            subscription = subscriptions[subscription_id]
            paid = periods_for(subscription, counts[subscription_id], day)
            allocations.append(PaymentAllocation(
                kind=PAID_PERIODS, subscription=subscription, periods=counts[subscription_id],
                paid_until_before=subscription.paid_until, paid_until_after=paid[-1].end,
                amount_eur=prices[subscription_id],
            ))
    if left != keep:
        allocations.append(PaymentAllocation(kind=ADVANCE, amount_eur=left - keep))
    return allocations


def _payment_type_for(allocations, type_code):
    if type_code:
        chosen = payment_type(type_code)
        if chosen is None:
            raise FieldErrors({"payment_type": [gettext("Unknown payment type.")]})
        return chosen
    if any(allocation.kind == PAID_PERIODS for allocation in allocations):
        return payment_type(MONTHLY_FEE)
    for allocation in allocations:
        if allocation.kind == PAID_CHARGE:
            return allocation.charge.payment_type
    return payment_type(DEPOSIT)


def reversal_of(payment):
    return db.session.scalar(db.select(Payment).where(Payment.reversal_of_id == payment.id))


def may_reverse(actor, payment):
    """Whether the actor may reverse this payment: the right to reverse, a payment in scope, not a reversal
    itself (the payment page's button asks this; reverse_payment refuses the rest with its reason)."""
    return may(actor, permissions.REVERSE_PAYMENT) and not payment.is_reversal and in_scope(payment, actor)


def reverse_payment(actor, payment, reason):
    """Records the reversal of a payment and restores what it changed, then sends payment_reversed. Flushes.

    "Paid until" goes back to its value before the payment, so only the
    latest extension of a subscription can be reversed: a later payment is
    reversed first. Charges it paid are open again; its invoice gets a
    credit note (app.invoices.handlers).
    """
    if not may(actor, permissions.REVERSE_PAYMENT):
        raise FieldErrors({"reason": [gettext("You do not have the right to reverse payments.")]})
    if not in_scope(payment, actor):
        raise FieldErrors({"reason": [gettext("This record belongs to another dealer.")]})
    if not (reason or "").strip():
        raise FieldErrors({"reason": [gettext("Say why the payment is reversed.")]})
    if len(reason.strip()) > MAX_NOTE:
        raise FieldErrors({"reason": [gettext("At most %(max)d characters.", max=MAX_NOTE)]})
    if payment.is_reversal:
        raise FieldErrors({"reason": [gettext("A reversal cannot be reversed.")]})
    # Lock the payment row: two reversals at once, one wins.
    db.session.scalar(db.select(Payment.id).where(Payment.id == payment.id).with_for_update())
    if reversal_of(payment) is not None:
        raise FieldErrors({"reason": [gettext("This payment is already reversed.")]})
    period_allocations = [allocation for allocation in payment.allocations if allocation.kind == PAID_PERIODS]
    subscriptions = _locked_subscriptions(payment.client, [a.subscription_id for a in period_allocations]) \
        if period_allocations else {}
    for allocation in period_allocations:
        subscription = subscriptions[allocation.subscription_id]
        if subscription.paid_until != allocation.paid_until_after:
            raise FieldErrors({"reason": [gettext(
                "A later payment extended %(service)s to %(day)s; reverse that payment first.",
                service=subscription.service.name, day=format_date(subscription.paid_until))]})
    held = sum((allocation.amount_eur for allocation in payment.allocations if allocation.kind == ADVANCE), ZERO)
    if held > 0 and _locked_advance(payment.client) < held:
        # Its advance has been spent by a later payment at the desk: without it, the client's advance
        # would go below zero.
        raise FieldErrors({"reason": [gettext(
            "A later payment spent this payment's advance; reverse that payment first.")]})
    for allocation in period_allocations:
        subscriptions[allocation.subscription_id].paid_until = allocation.paid_until_before
    for allocation in payment.allocations:
        if allocation.kind == PAID_CHARGE and allocation.charge.paid_by_id == payment.id:
            allocation.charge.paid_by_id = None
    reversal = Payment(
        client_id=payment.client_id, dealer_id=payment.dealer_id,
        operator=operator_of(actor), method=payment.method,
        payment_type=payment.payment_type, amount=-payment.amount, currency=payment.currency,
        amount_eur=-payment.amount_eur, reversal_of_id=payment.id, note=reason.strip(), paid_at=utcnow(),
    )
    db.session.add(reversal)
    db.session.flush()
    send(payment_reversed, actor, payment=payment, reversal=reversal)
    return reversal


def payment_totals(filters):
    """What the payments the list's `filters` select add up to, in SQL: count and sum per currency, and all of
    it in EUR. Reversals are negative payments: they are netted."""
    query = (db.session.query(Payment.currency, func.count(Payment.id), func.sum(Payment.amount),
                              func.sum(Payment.amount_eur))
             .group_by(Payment.currency).order_by(Payment.currency))
    rows = filters.apply_all(query).all()
    return {
        "by_currency": [(currency, count, quantize(total)) for currency, count, total, _eur in rows],
        "count": sum(count for _currency, count, _total, _eur in rows),
        "eur": quantize(sum((eur for *_rest, eur in rows), ZERO)),
    }
