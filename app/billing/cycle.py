"""The daily billing cycle: for one day, what each subscription's payment deadline means.

For day D and each active (or suspended) subscription not frozen that day
(app/billing/freeze.py), in this order:

1. advance: once its paid period has ended ("paid until" < D), the client's
   advance pays the next period(s) it covers whole (oldest advance first);
   a suspended subscription that is paid again so is reactivated;
2. extra traffic: when a usage period ended on D-1, the traffic over the
   service's included amount, per started GB, times the extra-traffic fee,
   becomes a charge;
3. warning: from "paid until" minus the service's warning days up to
   "paid until", one e-mail per subscription and period, with the amount
   due (less the advance) and how to pay;
4. suspension: once "paid until" plus the tolerance days has passed, the
   subscription is suspended, which sends subscription_status_changed.

Each effect is a CycleEffect row, unique per (subscription, period, kind):
rerunning a day, a retried chunk, or two runs at once never act twice.
Subscriptions are locked while processed (FOR UPDATE on PostgreSQL), so
two runs at once wait for each other on the same subscription.

Subscriptions that may need an action are selected in SQL; a quiet day
selects few. They are processed in chunks (CHUNK), each chunk one unit of
work — a job on the RQ workers when Redis is configured, else in this
process one after another.
"""
import math
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext
from sqlalchemy import false, func, or_, select, update

from app.billing import periods as period_rules
from app.billing.charges import (
    add_charge,
    advance_total,
    client_due,
    due_lines,
    not_reversed,
    period_fee_eur,
    periods_for,
)
from app.billing.models import (
    ADVANCE,
    ADVANCE_USE,
    EXTRA_TRAFFIC,
    PAID_PERIODS,
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    SUSPENSION,
    TRAFFIC_CHARGE,
    WARNING,
    BillingRun,
    CycleEffect,
    DailyTraffic,
    Payment,
    PaymentAllocation,
    SubscriptionFreeze,
)
from app.billing.freeze import frozen_on
from app.catalog.models import Service
from app.clients.models import ACTIVE, SUSPENDED, Client, Subscription
from app.clients.subscriptions import change_status
from app.core.actors import SystemActor
from app.core.formatting import format_date, utcnow
from app.core.money import format_money
from app.core.queue import enqueue
from app.core.transaction import after_commit, unit_of_work
from app.dealers.services import company_of
from app.extensions import db
from app.notifications.services import queue_mail

CHUNK = 1000
CHUNK_RETRIES = 2
GB = 10 ** 9
LIVE = (ACTIVE, SUSPENDED)


def cycle_actor(run_id):
    """The system actor of one run: the LOG names its changes "billing cycle № <run>"."""
    return SystemActor(gettext("billing cycle № %(run)s", run=run_id))


# --- a run ------------------------------------------------------------------------


def start_run(day, started_by, scheduled=False):
    """Creates the run for `day`, selects what may need an action, and queues its chunks after the commit.

    Returns the run. Its chunks run after the unit of work commits: on the
    workers, or (no Redis) right then in this process. A `scheduled` run is
    the day's one scheduled run (IntegrityError when the day has one).
    """
    ids = candidates(day)
    run = BillingRun(day=day, status=RUN_RUNNING, total=len(ids), started_by=started_by[:100],
                     scheduled_day=day if scheduled else None)
    db.session.add(run)
    db.session.flush()
    if not ids:
        run.status, run.finished_at = RUN_DONE, utcnow()
    actor = cycle_actor(run.id)
    # Earlier runs' failed mail first: a message failing in this run waits for the next.
    after_commit(enqueue, "app.billing.jobs.retry_mail", actor)
    chunk = current_app.config.get("CYCLE_CHUNK") or CHUNK
    for start in range(0, len(ids), chunk):
        after_commit(enqueue, "app.billing.jobs.cycle_chunk", actor, run.id, day.isoformat(), ids[start:start + chunk],
                     retries=CHUNK_RETRIES, on_failure="app.billing.jobs.cycle_chunk_failed")
    return run


def candidates(day):
    """Ids of the live subscriptions that may need an action on `day`, in order; cheap on a quiet day.

    A superset is fine (each rule checks again); a miss is not. Selected:
    active ones inside their service's warning window and not warned yet
    for it; active ones past "paid until" plus the tolerance (or never paid
    since activation); those past "paid until" (suspended too) whose client
    holds an advance; and those with traffic whose usage period may have
    ended yesterday. Windows are per distinct service setting, so the
    database compares plain dates.
    """
    settings = db.session.execute(select(Service.warning_days, Service.tolerance_days).distinct()).all()
    warned = select(CycleEffect.id).where(CycleEffect.subscription_id == Subscription.id,
                                          CycleEffect.kind == WARNING,
                                          CycleEffect.period_end == Subscription.paid_until).exists()
    to_warn = or_(false(), *(
        (Service.warning_days == warning) & Subscription.paid_until.between(day, day + timedelta(days=warning))
        for warning in {warning for warning, _tolerance in settings if warning > 0}))
    overdue = or_(false(), *(
        (Service.tolerance_days == tolerance) & (Subscription.paid_until < day - timedelta(days=tolerance))
        for tolerance in {tolerance for _warning, tolerance in settings}))
    active = (
        select(Subscription.id)
        .join(Service, Subscription.service_id == Service.id)
        .where(Subscription.status == ACTIVE, Subscription.paid_until.is_not(None), or_(to_warn & ~warned, overdue))
    )
    never_paid = select(Subscription.id).where(Subscription.status == ACTIVE, Subscription.paid_until.is_(None),
                                               Subscription.activation_date.is_not(None))
    with_advance = (
        select(Subscription.id)
        .where(Subscription.status.in_(LIVE), Subscription.paid_until < day,
               Subscription.client_id.in_(_clients_with_advance()))
    )
    metered = (
        select(Subscription.id)
        .join(Service, Subscription.service_id == Service.id)
        .where(Subscription.status.in_(LIVE), Service.included_traffic_gb.is_not(None),
               Service.extra_traffic_fee > 0,
               select(DailyTraffic.day).where(DailyTraffic.subscription_id == Subscription.id,
                                              DailyTraffic.day >= day - timedelta(days=31),
                                              DailyTraffic.day < day).exists())
    )
    frozen = select(SubscriptionFreeze.id).where(SubscriptionFreeze.subscription_id == Subscription.id,
                                                 SubscriptionFreeze.covers(day)).exists()
    query = active.union(never_paid, with_advance, metered).subquery()
    return sorted(db.session.scalars(
        select(Subscription.id).where(Subscription.id.in_(select(query.c.id)), ~frozen)).all())


def _clients_with_advance():
    return (
        select(Payment.client_id)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.kind == ADVANCE, not_reversed())
        .group_by(Payment.client_id)
        .having(func.sum(PaymentAllocation.amount_eur) > 0)
    )


def run_chunk(actor, run_id, day, subscription_ids):
    """Processes one chunk of a run; returns how many effects it had.

    Each subscription is a unit of work of its own, committed before the
    next: the session stays small (the versioning looks at every object in
    it on each flush, so one unit for a whole chunk grows as its square),
    and a failure costs one subscription's work — the retried chunk finds
    the others' effects done. The chunk's progress is counted at the end,
    in the job's own unit.
    """
    effects = 0
    # Who holds an advance, read once for the chunk: most clients hold none, and theirs is then not looked at.
    with_advance = set(db.session.scalars(
        _clients_with_advance().where(Payment.client_id.in_(
            select(Subscription.client_id).where(Subscription.id.in_(subscription_ids))))))
    for subscription_id in subscription_ids:
        with unit_of_work():
            effects += process_subscription(actor, run_id, day, subscription_id, with_advance)
    # One UPDATE, so chunks finishing at once on several workers all count.
    db.session.execute(update(BillingRun).where(BillingRun.id == run_id)
                       .values(done=BillingRun.done + len(subscription_ids)))
    db.session.execute(
        update(BillingRun)
        .where(BillingRun.id == run_id, BillingRun.status == RUN_RUNNING, BillingRun.done >= BillingRun.total)
        .values(status=RUN_DONE, finished_at=utcnow())
    )
    return effects


def chunk_failed(run_id, error):
    """A chunk that failed after its retries: the run says so; running the day again finishes it."""
    db.session.execute(update(BillingRun).where(BillingRun.id == run_id).values(
        failures=BillingRun.failures + 1, status=RUN_FAILED, error=str(error)[:500]))


# --- one subscription ---------------------------------------------------------------


def process_subscription(actor, run_id, day, subscription_id, with_advance=None):
    """Applies the cycle's rules to one subscription for `day`; returns how many effects it had.

    `with_advance`: the ids of clients holding an advance (None: look).
    """
    subscription = db.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id).with_for_update(of=Subscription))
    if subscription is None or subscription.status not in LIVE:
        return 0
    if frozen_on(subscription.id, day) is not None:
        return 0  # while frozen nothing is warned, suspended or charged
    # What earlier runs did to it, read once under the lock (a run at the same time waits for the lock).
    done = set(db.session.execute(select(CycleEffect.kind, CycleEffect.period_end)
                                  .where(CycleEffect.subscription_id == subscription.id)).all())
    effects = 0
    if with_advance is None or subscription.client_id in with_advance:
        effects += use_advance(actor, run_id, day, subscription, done)
    effects += charge_extra_traffic(actor, run_id, day, subscription, done)
    if subscription.status == ACTIVE:
        effects += warn(actor, run_id, day, subscription, done)
        effects += suspend(actor, run_id, day, subscription, done)
    return effects


def _record(run_id, subscription, kind, period_end, detail, done):
    # Flushed with the unit: the uniqueness constraint is the last word if two runs ever get this far.
    db.session.add(CycleEffect(run_id=run_id, subscription_id=subscription.id, client_id=subscription.client_id,
                               kind=kind, period_end=period_end, detail=detail[:300]))
    done.add((kind, period_end))


def paid_through(subscription):
    """The last day paid; for an active subscription never paid, the day before its activation."""
    if subscription.paid_until is not None:
        return subscription.paid_until
    return subscription.activation_date - timedelta(days=1) if subscription.activation_date else None


def use_advance(actor, run_id, day, subscription, done):
    """Pays the periods that ended with the client's advance, whole periods only, oldest advance first."""
    effects = 0
    if subscription.paid_until is not None and subscription.paid_until < day:
        # The advance is the client's: two of its subscriptions in chunks on two workers take turns with it.
        db.session.scalar(select(Client.id).where(Client.id == subscription.client_id).with_for_update())
    while subscription.paid_until is not None and subscription.paid_until < day:
        period = periods_for(subscription, 1, day)
        price = period_rules.periods_price(period, period_fee_eur(subscription, day))
        if price <= 0 or advance_total(subscription.client_id) < price:
            break
        end = period[-1].end
        if (ADVANCE_USE, end) in done:
            break
        _pay_from_advance(subscription, price, end)
        _record(run_id, subscription, ADVANCE_USE, end,
                gettext("Paid until %(day)s from the advance (%(amount)s)", day=format_date(end),
                        amount=format_money(price, "EUR")), done)
        effects += 1
    if effects and subscription.status == SUSPENDED and subscription.paid_until >= day:
        change_status(actor, subscription, ACTIVE,
                      gettext("Paid until %(day)s", day=format_date(subscription.paid_until)))
    return effects


def _pay_from_advance(subscription, price, end):
    """Moves `price` of the client's advance onto the next period, on the payments that hold it, oldest first.

    Each payment whose advance is used gets two allocations: its advance
    less that part, and the period for that part. What a payment paid still
    adds up to its amount, and reversing it restores "paid until" as for
    any period it paid.
    """
    # Ids and sums only: a Payment row drags its eagerly joined relations into a GROUP BY.
    holders = db.session.execute(
        select(Payment.id, func.sum(PaymentAllocation.amount_eur))
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(Payment.client_id == subscription.client_id, PaymentAllocation.kind == ADVANCE, not_reversed())
        .group_by(Payment.id, Payment.paid_at)
        .having(func.sum(PaymentAllocation.amount_eur) > 0)
        .order_by(Payment.paid_at, Payment.id)
    ).all()
    left, before = price, subscription.paid_until
    for payment_id, available in holders:
        if left <= 0:
            break
        payment = db.session.get(Payment, payment_id)
        part = min(Decimal(available), left)
        db.session.add(PaymentAllocation(payment=payment, kind=ADVANCE, amount_eur=-part))
        db.session.add(PaymentAllocation(payment=payment, kind=PAID_PERIODS, subscription=subscription, periods=1,
                                         paid_until_before=before, paid_until_after=end, amount_eur=part))
        left -= part
    subscription.paid_until = end
    db.session.flush()


def usage_period_ending(subscription, last_day):
    """The first day of the usage period that ends on `last_day`, or None when none ends then.

    Fixed months end on a month's last day; floating ones on the activation
    day's monthly anniversaries (as app.billing.periods counts them).
    """
    service = subscription.service
    if service.month_type == period_rules.FLOATING:
        anchor = subscription.activation_date
        if anchor is None or last_day < anchor:
            return None
        months = (last_day.year - anchor.year) * 12 + last_day.month - anchor.month
        if months < 1 or period_rules.add_months(anchor, months) != last_day:
            return None
        return period_rules.add_months(anchor, months - 1) + timedelta(days=1)
    if last_day != period_rules.month_end(last_day):
        return None
    return last_day.replace(day=1)


def charge_extra_traffic(actor, run_id, day, subscription, done):
    """Traffic over the included amount in the usage period that ended yesterday, per started GB, as a charge."""
    service = subscription.service
    if service.included_traffic_gb is None or not service.extra_traffic_fee or service.extra_traffic_fee <= 0:
        return 0
    last_day = day - timedelta(days=1)
    first_day = usage_period_ending(subscription, last_day)
    if first_day is None or (TRAFFIC_CHARGE, last_day) in done:
        return 0
    used = db.session.scalar(
        select(func.coalesce(func.sum(DailyTraffic.bytes_in + DailyTraffic.bytes_out), 0))
        .where(DailyTraffic.subscription_id == subscription.id, DailyTraffic.day >= first_day,
               DailyTraffic.day <= last_day))
    over_gb = math.ceil(max(int(used) - service.included_traffic_gb * GB, 0) / GB)
    if over_gb == 0:
        return 0
    description = gettext("Extra traffic %(from)s–%(to)s: %(gb)s GB over %(included)s GB",
                          **{"from": format_date(first_day), "to": format_date(last_day), "gb": over_gb,
                             "included": service.included_traffic_gb})
    add_charge(subscription.client, description, service.extra_traffic_fee * over_gb, service.currency,
               subscription=subscription, type_code=EXTRA_TRAFFIC, operator=actor, day=last_day,
               billing_key=f"traffic:{subscription.id}:{last_day.isoformat()}")
    _record(run_id, subscription, TRAFFIC_CHARGE, last_day, description, done)
    return 1


def warn(actor, run_id, day, subscription, done):
    """The warning e-mail, once per subscription and "paid until", within the service's warning days."""
    service = subscription.service
    paid_until = subscription.paid_until
    if paid_until is None or service.warning_days <= 0:
        return 0
    if not day <= paid_until <= day + timedelta(days=service.warning_days):
        return 0
    if (WARNING, paid_until) in done:
        return 0
    client = subscription.client
    due = client_due(client, paid_until + timedelta(days=1))
    to_pay = due.payable_eur
    if to_pay <= 0:
        return 0
    if client.email:
        subject, body = warning_message(client, subscription, due)
        queue_mail(actor, f"warning:{subscription.id}:{paid_until.isoformat()}", client.email, subject, body,
                   client=client)
        detail = gettext("Warning sent to %(email)s: %(amount)s", email=client.email,
                         amount=format_money(to_pay, "EUR"))
    else:
        detail = gettext("No e-mail address to warn: %(amount)s due", amount=format_money(to_pay, "EUR"))
    _record(run_id, subscription, WARNING, paid_until, detail, done)
    return 1


def warning_message(client, subscription, due):
    """Subject and text of the warning e-mail, in Bulgarian: what is due, line by line, and how to pay."""
    seller = company_of(client.dealer)
    subject = gettext("%(company)s: your %(service)s is paid until %(day)s",
                      company=seller["name"], service=subscription.service.name,
                      day=format_date(subscription.paid_until))
    lines = [
        gettext("Dear %(name)s,", name=client.name),
        "",
        gettext("Your service %(service)s is paid until %(day)s. To keep your services without interruption, "
                "please pay %(amount)s:", service=subscription.service.name,
                day=format_date(subscription.paid_until), amount=format_money(due.payable_eur, "EUR")),
    ]
    lines += [f"- {line}" for line in due_lines(due)]
    lines += [
        "",
        gettext("How to pay:"),
        gettext("- at our office, in cash or by card;"),
        gettext("- through ePay or EasyPay, with your client number %(number)s;", number=client.client_number),
    ]
    if seller["iban"]:
        lines.append(gettext("- by bank transfer to %(company)s, IBAN %(iban)s, stating your client number "
                             "%(number)s.", company=seller["name"], iban=seller["iban"],
                             number=client.client_number))
    lines += ["", seller["name"], seller["phone"]]
    return subject, "\n".join(lines)


def suspend(actor, run_id, day, subscription, done):
    """Suspends a subscription once "paid until" plus the service's tolerance days has passed."""
    paid = paid_through(subscription)
    if paid is None or day <= paid + timedelta(days=subscription.service.tolerance_days):
        return 0
    if (SUSPENSION, paid) in done:
        return 0
    reason = gettext("Unpaid: paid until %(day)s", day=format_date(paid))
    change_status(actor, subscription, SUSPENDED, reason)
    _record(run_id, subscription, SUSPENSION, paid, reason, done)
    return 1
