"""The cash desk: what one operator (or one outside collector) took in on one day, and its closing.

A desk's day is the payments it recorded between local midnights, read
through ix_payment_operator_paid_at. Reversals are rows of their own with
negative amounts and count on the day they were made, so a day's totals are
plain sums. Closing the day keeps a snapshot of those totals; payments made
afterwards show up as the difference between the snapshot and the day now.
"""
import json
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.billing.models import Payment, PaymentMethod
from app.cashdesk.models import CashDeskClosing
from app.collectors.models import PaymentCollector
from app.core.formatting import local_today, utc_bounds
from app.core.money import quantize
from app.core.scoping import get_in_scope, scope
from app.extensions import db
from app.security.models import Operator
from app.security.permissions import SEE_ALL_CASH_DESKS, SEE_CASH_BALANCE
from app.security.rights import may

ZERO = Decimal("0.00")


class CashDeskRefused(Exception):
    """A closing the rules do not allow; the message says why."""


@dataclass
class Desk:
    """An operator's desk, or the pseudo-desk of an outside collector.

    `dealer_id` limits a collector's desk to one dealer's clients: a dealer's
    operators see only their own dealer's money.
    """

    operator: Operator = None
    collector: PaymentCollector = None
    dealer_id: int = None

    def condition(self):
        if self.operator is not None:
            return Payment.operator_id == self.operator.id
        condition = (Payment.operator_id.is_(None)) & (Payment.collector_id == self.collector.id)
        if self.dealer_id is not None:
            condition &= Payment.dealer_id == self.dealer_id
        return condition


@dataclass
class Total:
    method: str
    currency: str
    count: int
    total: Decimal

    def as_dict(self):
        return {"method": self.method, "currency": self.currency, "count": self.count, "total": str(self.total)}


@dataclass
class DeskDay:
    desk: Desk
    day: object
    totals: list
    total_eur: Decimal
    payments: list
    closing: CashDeskClosing = None
    closing_totals: list = field(default_factory=list)
    # Current totals minus those at closing, per method and currency; empty when unchanged.
    difference: list = field(default_factory=list)

    def after_closing(self, payment):
        return self.closing is not None and payment.paid_at > self.closing.closed_at


def sees_all_desks(viewer):
    return may(viewer, SEE_ALL_CASH_DESKS)


def desk_operators(viewer):
    """Operators whose desks the viewer may open: all, their dealer's, or only their own."""
    if not sees_all_desks(viewer):
        return [viewer]
    query = select(Operator).order_by(Operator.first_name, Operator.last_name, Operator.id)
    return list(db.session.scalars(scope(query, viewer)))


def desk_collectors(viewer):
    """Outside collectors, whose payments form pseudo-desks for holders of SEE_ALL_CASH_DESKS."""
    if not sees_all_desks(viewer):
        return []
    return list(db.session.scalars(select(PaymentCollector).order_by(PaymentCollector.name)))


def reachable_operator(viewer, operator_id):
    """The operator whose desk the viewer may see or close, or None when out of their reach."""
    if operator_id is None or operator_id == viewer.id:
        return viewer
    if not sees_all_desks(viewer):
        return None
    return get_in_scope(Operator, operator_id, viewer)


def visible_desk(viewer, operator_id=None, collector_id=None):
    """The desk the viewer asked for; None when it is out of their reach.

    Without SEE_ALL_CASH_DESKS the answer is always the viewer's own desk,
    whatever was asked.
    """
    if not sees_all_desks(viewer):
        return Desk(operator=viewer)
    if collector_id is not None:
        collector = db.session.get(PaymentCollector, collector_id)
        return Desk(collector=collector, dealer_id=viewer.dealer_id) if collector is not None else None
    operator = reachable_operator(viewer, operator_id)
    return Desk(operator=operator) if operator is not None else None


def day_totals(desk, day):
    """(totals per method and currency, total in EUR) of the desk's payments that day."""
    start, end = utc_bounds(day)
    rows = db.session.execute(
        select(PaymentMethod.name, Payment.currency, func.count(Payment.id), func.sum(Payment.amount),
               func.sum(Payment.amount_eur))
        .join(PaymentMethod, PaymentMethod.id == Payment.method_id)
        .where(desk.condition(), Payment.paid_at >= start, Payment.paid_at < end)
        .group_by(PaymentMethod.name, Payment.currency)
        .order_by(PaymentMethod.name, Payment.currency)
    ).all()
    totals = [Total(method, currency, count, quantize(total)) for method, currency, count, total, _eur in rows]
    return totals, quantize(sum((eur for *_rest, eur in rows), ZERO))


def day_payments(desk, day):
    start, end = utc_bounds(day)
    return list(db.session.scalars(
        select(Payment)
        .where(desk.condition(), Payment.paid_at >= start, Payment.paid_at < end)
        .order_by(Payment.paid_at, Payment.id)
    ))


def closing_of(operator_id, day):
    return db.session.scalar(
        select(CashDeskClosing).where(CashDeskClosing.operator_id == operator_id, CashDeskClosing.day == day)
    )


def closing_totals(closing):
    return [
        Total(item["method"], item["currency"], item["count"], Decimal(item["total"]))
        for item in json.loads(closing.totals)
    ]


def totals_difference(now, then):
    """What changed since the closing, per method and currency (only what differs)."""
    before = {(t.method, t.currency): t for t in then}
    after = {(t.method, t.currency): t for t in now}
    difference = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        count = (new.count if new else 0) - (old.count if old else 0)
        total = (new.total if new else ZERO) - (old.total if old else ZERO)
        if count or total:
            difference.append(Total(key[0], key[1], count, total))
    return difference


def desk_day(desk, day):
    """Everything the cash desk page shows for one desk and day."""
    totals, total_eur = day_totals(desk, day)
    result = DeskDay(desk, day, totals, total_eur, day_payments(desk, day))
    if desk.operator is not None:
        result.closing = closing_of(desk.operator.id, day)
    if result.closing is not None:
        result.closing_totals = closing_totals(result.closing)
        result.difference = totals_difference(totals, result.closing_totals)
    return result


def close_day(viewer, operator, day, note=None):
    """Closes an operator's day with a snapshot of its totals. Flushes; the caller commits.

    Raises CashDeskRefused for a future day or a day already closed (the
    caller discards the unit of work then).
    """
    if not may(viewer, SEE_CASH_BALANCE):
        raise CashDeskRefused(gettext("You do not have the right to see cash balances."))
    if operator.id != viewer.id and not sees_all_desks(viewer):
        raise CashDeskRefused(gettext("You may close only your own cash desk."))
    if day > local_today():
        raise CashDeskRefused(gettext("A day that has not come yet cannot be closed."))
    if closing_of(operator.id, day) is not None:
        raise CashDeskRefused(gettext("This day is already closed."))
    totals, _total_eur = day_totals(Desk(operator=operator), day)
    closing = CashDeskClosing(operator_id=operator.id, day=day, closed_by_id=viewer.id,
                              totals=json.dumps([t.as_dict() for t in totals], ensure_ascii=False),
                              note=(note or "").strip() or None)
    db.session.add(closing)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request closed it between the check and the flush; a
        # savepoint would be cleaner but breaks Continuum's unit of work.
        raise CashDeskRefused(gettext("This day is already closed.")) from None
    return closing


def home_takings(actor):
    """The home page's cash part: today's takings in EUR at the actor's own desk, and, for who sees every
    desk (within the dealer), at all of them; nothing for who may not see cash balances."""
    if actor is None or not may(actor, SEE_CASH_BALANCE):
        return {}
    today = local_today()
    figures = {"home_own_takings": day_totals(Desk(operator=actor), today)[1]}
    if sees_all_desks(actor):
        start, end = utc_bounds(today)
        total = db.session.scalar(scope(
            select(func.coalesce(func.sum(Payment.amount_eur), 0)).select_from(Payment)
            .where(Payment.paid_at >= start, Payment.paid_at < end), actor, Payment))
        figures["home_all_takings"] = quantize(total)
    return figures
