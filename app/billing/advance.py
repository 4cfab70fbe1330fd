"""The advance: how a client's money paid ahead pays a subscription's periods — one rule, two callers.

`use_advance` is the rule (docs/product.md, "Billing cycle": once the paid
period has ended, the advance pays the next whole period(s) it covers,
oldest advance first). The nightly cycle applies it to each subscription of
a chunk (app.billing.cycle.Chunk, written set-based); an activation applies
it at once to the subscription that became active (`spend_advance`, called
by the billing handler of subscription_status_changed), so that the card's
badge, the home page, the debtors report, the collectors and "due today"
agree from the activation on, not from the next night.

The rule works on a ledger: `day`, `advances` ({client id: [[payment id,
advance left], ...]}, oldest first), `advance_left(client_id)`,
`allocations` (rows for payment_allocation), `change(subscription, field,
value)`, `change_status(subscription, status, reason)`,
`record(subscription, kind, period end, detail, done)` and `gettext`.
"""
from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import func, insert, select

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.billing import periods as period_rules
from app.billing import usable
from app.billing.charges import ZERO, advances, period_fee_eur, periods_for
from app.billing.models import (
    ADVANCE,
    ADVANCE_USE,
    PAID_PERIODS,
    CycleEffect,
    Payment,
    PaymentAllocation,
)
from app.clients.models import ACTIVE, LIVE, SUSPENDED, Client
from app.clients.subscriptions import change_status
from app.core.formatting import format_date, local_today, office_language
from app.core.money import format_money
from app.extensions import db


def advance_holders(client_ids):
    """{client id: [[payment id, advance left], ...]}: the payments holding each client's advance, oldest first."""
    holders = {}
    if not client_ids:
        return holders
    # Ids and sums only: a Payment row drags its eagerly joined relations into a GROUP BY.
    for client_id, payment_id, _paid_at, available in db.session.execute(
            advances(PaymentAllocation.client_id, Payment.id, Payment.paid_at)
            .where(PaymentAllocation.client_id.in_(client_ids))
            # A payment at the desk that spent some of the advance holds a negative amount: counted, so
            # that advance_left is what is really left.
            .having(func.sum(PaymentAllocation.amount_eur) != 0)
            .order_by(Payment.paid_at, Payment.id)):
        holders.setdefault(client_id, []).append([payment_id, Decimal(available)])
    return holders


def use_advance(ledger, subscription, done):
    """Pays the periods that ended with the client's advance, whole periods only, oldest advance first.

    Each payment whose advance is used gets two allocations: its advance
    less that part, and the period for that part. What a payment paid still
    adds up to its amount, and reversing it restores "paid until" as for
    any period it paid. A suspended subscription so paid again is reactivated.
    """
    day, used = ledger.day, 0
    holders = ledger.advances.get(subscription.client_id)
    while holders and subscription.first_unpaid_day(day) <= day:
        period = periods_for(subscription, 1, day)
        price = period_rules.periods_price(period, period_fee_eur(subscription, day))
        end = period[-1].end
        if price <= 0 or ledger.advance_left(subscription.client_id) < price or (ADVANCE_USE, end) in done:
            break
        left, before = price, subscription.paid_until
        for holder in holders:
            payment_id, available = holder
            if left <= 0:
                break
            part = min(available, left)
            if part <= 0:
                continue
            # Both rows with the same keys, written with the table's INSERT (app.billing.cycle.Chunk.write): one
            # multi-row statement (the ORM's bulk INSERT splits rows by the keys not None, one statement a row
            # here: 400 a chunk).
            ledger.allocations += [
                {"payment_id": payment_id, "kind": ADVANCE, "subscription_id": None, "periods": None,
                 "paid_until_before": None, "paid_until_after": None, "amount_eur": -part},
                {"payment_id": payment_id, "kind": PAID_PERIODS, "subscription_id": subscription.id, "periods": 1,
                 "paid_until_before": before, "paid_until_after": end, "amount_eur": part},
            ]
            holder[1] -= part
            left -= part
        ledger.change(subscription, "paid_until", end)
        ledger.record(subscription, ADVANCE_USE, end,
                      ledger.gettext("Paid until %(day)s from the advance (%(amount)s)", day=format_date(end),
                              amount=format_money(price, "EUR")), done)
        used += 1
    if used and subscription.status == SUSPENDED and subscription.paid_until >= day:
        ledger.change_status(subscription, ACTIVE,
                             ledger.gettext("Paid until %(day)s", day=format_date(subscription.paid_until)))


class AtOnce:
    """The ledger of one subscription's advance spent now, through the ORM (its change and the LOG entry go
    with the operation's unit of work), under the acting operator or system actor."""

    gettext = staticmethod(gettext)

    def __init__(self, actor, day):
        self.actor, self.day = actor, day
        self.advances, self.allocations = {}, []

    def advance_left(self, client_id):
        return sum((left for _payment, left in self.advances.get(client_id, ())), ZERO)

    def change(self, subscription, field, value):
        setattr(subscription, field, value)

    def change_status(self, subscription, status, reason):
        change_status(self.actor, subscription, status, reason)

    def record(self, subscription, kind, period_end, detail, done):
        # The cycle keeps its effects per run; an activation's is in the LOG, with the change of "paid until".
        record_event(LogEntry.JOB, user=self.actor, entity=subscription, note=detail)
        done.add((kind, period_end))


def spend_advance(actor, subscription, day=None):
    """The client's advance pays the live `subscription`'s ended periods now, by the cycle's rule (use_advance).

    Called when a subscription becomes active (installation completed, sale
    without installation, an activation day come, reactivation by hand). A
    subscription frozen that day is left to the cycle, as the cycle leaves
    it. The client is locked first, as the desk and the cycle lock it, so
    two spendings of one advance take turns. Flushes; returns how many
    periods were paid.
    """
    day = day or local_today()
    if subscription.status not in LIVE or subscription.first_unpaid_day(day) > day:
        return 0
    db.session.flush()
    db.session.execute(select(Client.id).where(Client.id == subscription.client_id).with_for_update())
    if usable.is_frozen(subscription.id, day):
        return 0
    ledger = AtOnce(actor, day)
    ledger.advances = advance_holders([subscription.client_id])
    done = set(db.session.execute(select(CycleEffect.kind, CycleEffect.period_end)
                                  .where(CycleEffect.subscription_id == subscription.id)).tuples())
    before = len(done)
    with office_language():
        use_advance(ledger, subscription, done)
    if ledger.allocations:
        db.session.execute(insert(PaymentAllocation.__table__), ledger.allocations)
    db.session.flush()
    return len(done) - before
