"""The daily billing cycle: for one day, what each subscription's payment deadline means.

For day D and each active (or suspended) subscription not frozen that day
(app/billing/freeze.py), in this order:

1. advance: once its paid period has ended ("paid until" < D), the client's
   advance pays the next period(s) it covers whole (oldest advance first);
   a suspended subscription that is paid again so is reactivated — the rule
   of app/billing/advance.py, which an activation applies at once too;
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
process one after another. A chunk reads at once, decides per
subscription in Python and writes set-based (see run_chunk).
"""
import math
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, insert, or_, select, update
from sqlalchemy.orm import lazyload, selectinload

from app.billing import periods as period_rules
from app.billing import usable, warning_mail
from app.audit.bulk import PendingUpdates
from app.audit.models import LogEntry
from app.audit.services import record_event
from app.billing.advance import advance_holders, use_advance
from app.billing.charges import ZERO, add_charge, advances, client_due
from app.billing.models import (
    EXTRA_TRAFFIC,
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    SUSPENSION,
    TRAFFIC_CHARGE,
    WARNING,
    BillingRun,
    Charge,
    CycleEffect,
    DailyTraffic,
    PaymentAllocation,
)
from app.catalog.models import Service
from app.clients.models import ACTIVE, LIVE, SUSPENDED, Client, Subscription
from app.clients.subscriptions import (
    ACTIVATE_ON_CHOSEN_DAY,
    TRANSITIONS,
    activate_on_chosen_day,
    announce_status_change,
)
from app.core.actors import SystemActor
from app.core.formatting import Texts, format_date, local_today, utcnow
from app.core.money import format_money
from app.core.queue import enqueue
from app.core.transaction import after_commit
from app.core.validators import InvalidValue
from app.dealers.services import company_of
from app.extensions import db
from app.notifications import templates as mail_templates
from app.notifications.jobs import retry_failed
from app.notifications.services import queue_mails

CHUNK = 1000
CHUNK_RETRIES = 2
GB = 10 ** 9


def cycle_actor(run_id):
    """The system actor of one run: the LOG names its changes "billing cycle № <run>". Its one right: activating
    the sales chosen to start on a day (its suspensions and reactivations are set-based, announced as such)."""
    return SystemActor(gettext("billing cycle № %(run)s", run=run_id), rights=frozenset({ACTIVATE_ON_CHOSEN_DAY}))


# --- a run ------------------------------------------------------------------------


def check_day_to_run(day, allow_future=False):
    """The one rule on which days a run may be for: today or an earlier day (catching up), never ahead.

    A day ahead (one typo in a date) would suspend subscriptions paid until
    then, and they would stay suspended. `allow_future` is for tests and
    benchmarks only (the command line's --allow-future); such a run says so
    in the LOG. Raises InvalidValue.
    """
    today = local_today()
    if day > today and not allow_future:
        raise InvalidValue(_l("The cycle runs for today (%(today)s) or an earlier day, not for %(day)s: a day "
                              "ahead would suspend subscriptions that are paid.",
                              today=format_date(today), day=format_date(day)))


def start_run(day, started_by, scheduled=False, allow_future=False):
    """Creates the run for `day`, activates the sales chosen to start by `day` (activate_on_chosen_day), selects
    what may need an action, and queues its chunks after the commit.

    Returns the run. Its chunks run after the unit of work commits: on the
    workers, or (no Redis) right then in this process. A `scheduled` run is
    the day's one scheduled run (IntegrityError when the day has one).
    Raises InvalidValue for a day after today (check_day_to_run).
    """
    check_day_to_run(day, allow_future)
    run = BillingRun(day=day, status=RUN_RUNNING, total=0, started_by=started_by[:100],
                     scheduled_day=day if scheduled else None)
    db.session.add(run)
    db.session.flush()
    actor = cycle_actor(run.id)
    # Sales made to start on a day that has come start now (the client's advance paying them at once), before
    # the day's candidates are chosen: from then on the run treats them as any active subscription.
    activate_on_chosen_day(actor, day)
    ids = candidates(day)
    run.total = len(ids)
    if day > local_today():
        record_event(LogEntry.JOB, username=started_by, entity=run,
                     note=gettext("Run for a day ahead of today (%(day)s), allowed explicitly", day=format_date(day)))
    if not ids:
        run.status, run.finished_at = RUN_DONE, utcnow()
    # Earlier runs' failed mail first: a message failing in this run waits for the next.
    after_commit(enqueue, retry_failed, actor)
    chunk = current_app.config.get("CYCLE_CHUNK") or CHUNK
    for start in range(0, len(ids), chunk):
        after_commit(enqueue, cycle_chunk, actor, run.id, day.isoformat(), ids[start:start + chunk],
                     retries=CHUNK_RETRIES, on_failure=cycle_chunk_failed)
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
        .where(Subscription.status.in_(LIVE), Subscription.period_ended_condition(day),
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
    query = active.union(never_paid, with_advance, metered).subquery()
    return sorted(db.session.scalars(
        select(Subscription.id).where(Subscription.id.in_(select(query.c.id)), ~usable.frozen_condition(day))).all())


def _clients_with_advance():
    return advances(PaymentAllocation.client_id).having(func.sum(PaymentAllocation.amount_eur) > 0) \
        .with_only_columns(PaymentAllocation.client_id)


def run_chunk(actor, run_id, day, subscription_ids):
    """Processes one chunk of a run in one unit of work; returns how many effects it had.

    The chunk's subscriptions are locked and read at once with what the
    rules need (services, clients and their other subscriptions, earlier
    effects, freezes, advances, open charges); the rules decide in Python;
    the decisions are written set-based — a few UPDATEs and multi-row
    INSERTs for the whole chunk, with their versions and LOG entries
    (app.audit.bulk) — and the progress is counted. Through the ORM, one
    object after another, the same chunk took ten times longer. A failure
    rolls the whole chunk back; the retried chunk starts afresh.
    """
    chunk = Chunk(actor, run_id, day)
    for subscription in chunk.load(subscription_ids):
        chunk.process(subscription)
    effects = chunk.write()
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


# The run's jobs, beside the run that queues them (start_run): each chunk is one; the job after a chunk's last try.


def cycle_chunk(actor, run_id, day, subscription_ids):
    """One chunk of a run, as a job; retried, and safe to run again."""
    return run_chunk(actor, run_id, date.fromisoformat(day), subscription_ids)


def cycle_chunk_failed(actor, error, run_id, day, subscription_ids):
    """A chunk that failed on every try: the run shows it; running the day again finishes it."""
    chunk_failed(run_id, error)


class Chunk:
    """One chunk of a run: what it read once, and what its rules decided, until `write`.

    A rule changes a subscription through `change` (the loaded object
    shows the new value at once, without becoming dirty for the ORM: the
    row is written with the others by `write`), and records its effect
    with `record`.
    """

    def __init__(self, actor, run_id, day):
        self.actor, self.run_id, self.day = actor, run_id, day
        self.done = {}  # subscription id -> {(kind, period end)} of earlier runs and this chunk
        self.frozen = set()
        self.advances = {}  # client id -> [[payment id, advance left], ...], oldest first
        self.charges = {}  # client id -> its open charges
        self.changes = PendingUpdates()  # of the chunk's subscriptions, written by `write`
        self.status_changes = []  # (subscription, old status)
        self.effects, self.allocations, self.mails = [], [], []
        self.companies = {}
        self.mail_sources = None
        self.gettext = Texts()  # the rules' sentences, looked up once per chunk rather than once per row

    # --- reading -------------------------------------------------------------------

    def load(self, subscription_ids):
        """Locks the chunk's subscriptions (in id order: chunks of two runs at once wait, never deadlock) and
        reads what the rules need; returns the subscriptions."""
        subscriptions = db.session.scalars(
            select(Subscription).where(Subscription.id.in_(subscription_ids)).order_by(Subscription.id)
            .with_for_update(of=Subscription)
            .options(selectinload(Subscription.service),
                     # Not the client's address (its block, with the neighbourhood and city joined): no rule reads it.
                     selectinload(Subscription.client).lazyload(Client.block))
        ).all()
        ids = [subscription.id for subscription in subscriptions]
        for subscription_id, kind, period_end in db.session.execute(
                select(CycleEffect.subscription_id, CycleEffect.kind, CycleEffect.period_end)
                .where(CycleEffect.subscription_id.in_(ids))):
            self.done.setdefault(subscription_id, set()).add((kind, period_end))
        self.frozen = usable.frozen_ids(ids, self.day)
        client_ids = sorted({subscription.client_id for subscription in subscriptions})
        self._load_advances(subscriptions)
        # A client's other subscriptions count only in a warning (what the client owes): read at once for the
        # clients that may be warned — a subscription inside its warning window, or a client whose advance may
        # move "paid until" into it —, about a third of a worst day's chunk. Any other client's would be read
        # when asked for (never, by the rules as they are).
        warned = sorted({subscription.client_id for subscription in subscriptions
                         if subscription.client_id in self.advances or self.may_warn(subscription)})
        if warned:
            db.session.scalars(select(Client).where(Client.id.in_(warned))
                               .options(lazyload(Client.block),
                                        selectinload(Client.subscriptions).selectinload(Subscription.service))).all()
        for charge in db.session.scalars(select(Charge).where(Charge.client_id.in_(client_ids),
                                                              Charge.open_condition()).order_by(Charge.id)):
            self.charges.setdefault(charge.client_id, []).append(charge)
        return subscriptions

    def _load_advances(self, subscriptions):
        # Only a period that has ended uses an advance; those clients are locked first (in id order), so
        # two of a client's subscriptions in chunks on two workers take turns with its advance.
        # The others' advances are read too, unlocked: a warning subtracts them.
        using = sorted({subscription.client_id for subscription in subscriptions
                        if subscription.first_unpaid_day(self.day) <= self.day})
        if using:
            db.session.execute(select(Client.id).where(Client.id.in_(using)).order_by(Client.id).with_for_update())
        self.advances = advance_holders(sorted({subscription.client_id for subscription in subscriptions}))

    def may_warn(self, subscription):
        """Inside its service's warning window as read (`warn` decides)."""
        paid_until, warning_days = subscription.paid_until, subscription.service.warning_days
        return paid_until is not None and warning_days > 0 and \
            self.day <= paid_until <= self.day + timedelta(days=warning_days)

    def advance_left(self, client_id):
        return sum((left for _payment, left in self.advances.get(client_id, ())), ZERO)

    def warning_templates(self):
        """The warning e-mail's subject and text templates, read once for the chunk."""
        if self.mail_sources is None:
            self.mail_sources = mail_templates.sources(warning_mail.KIND)
        return self.mail_sources

    def company(self, dealer):
        key = dealer.id if dealer is not None else None
        if key not in self.companies:
            self.companies[key] = company_of(dealer)
        return self.companies[key]

    # --- deciding --------------------------------------------------------------------

    def process(self, subscription):
        """The cycle's rules for one subscription, in order (see the module's docstring)."""
        if subscription.status not in LIVE or subscription.id in self.frozen:
            return  # while frozen nothing is warned, suspended or charged
        done = self.done.setdefault(subscription.id, set())
        use_advance(self, subscription, done)
        charge_extra_traffic(self, subscription, done)
        if subscription.status == ACTIVE:
            warn(self, subscription, done)
            suspend(self, subscription, done)

    def change(self, subscription, field, value):
        """Sets a field for `write` to store; the object shows the value now, its old one is kept for the LOG."""
        self.changes.set(subscription, field, value)

    def change_status(self, subscription, status, reason):
        if status not in TRANSITIONS[subscription.status]:
            raise ValueError(f"subscription {subscription.id}: {subscription.status} → {status}")
        self.status_changes.append((subscription, subscription.status))
        self.change(subscription, "status", status)
        self.change(subscription, "status_reason", reason)

    def record(self, subscription, kind, period_end, detail, done):
        self.effects.append({"run_id": self.run_id, "subscription_id": subscription.id,
                             "client_id": subscription.client_id, "kind": kind, "period_end": period_end,
                             "detail": detail[:300]})
        done.add((kind, period_end))

    # --- writing ---------------------------------------------------------------------

    def write(self):
        """Stores what the rules decided, set-based; returns the number of effects."""
        self.changes.write()
        if self.allocations:
            db.session.execute(insert(PaymentAllocation.__table__), self.allocations)
        if self.effects:
            # The uniqueness constraint is the last word if two runs ever got this far with one subscription.
            db.session.execute(insert(CycleEffect), self.effects)
        if self.mails:
            queue_mails(self.actor, self.mails)
        for subscription, old_status in self.status_changes:
            announce_status_change(self.actor, subscription, old_status)
        return len(self.effects)


# --- the rules -------------------------------------------------------------------


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


def charge_extra_traffic(chunk, subscription, done):
    """Traffic over the included amount in the usage period that ended yesterday, per started GB, as a charge.

    Rare enough (metered services, once a period) to go through the ORM and its own LOG entry.
    """
    service = subscription.service
    if service.included_traffic_gb is None or not service.extra_traffic_fee or service.extra_traffic_fee <= 0:
        return
    last_day = chunk.day - timedelta(days=1)
    first_day = usage_period_ending(subscription, last_day)
    if first_day is None or (TRAFFIC_CHARGE, last_day) in done:
        return
    used = db.session.scalar(
        select(func.coalesce(func.sum(DailyTraffic.bytes_in + DailyTraffic.bytes_out), 0))
        .where(DailyTraffic.subscription_id == subscription.id, DailyTraffic.day >= first_day,
               DailyTraffic.day <= last_day))
    over_gb = math.ceil(max(int(used) - service.included_traffic_gb * GB, 0) / GB)
    if over_gb == 0:
        return
    description = chunk.gettext("Extra traffic %(from)s–%(to)s: %(gb)s GB over %(included)s GB",
                          **{"from": format_date(first_day), "to": format_date(last_day), "gb": over_gb,
                             "included": service.included_traffic_gb})
    charge = add_charge(subscription.client, description, service.extra_traffic_fee * over_gb, service.currency,
                        subscription=subscription, type_code=EXTRA_TRAFFIC, operator=chunk.actor, day=last_day,
                        billing_key=f"traffic:{subscription.id}:{last_day.isoformat()}")
    chunk.charges.setdefault(subscription.client_id, []).append(charge)
    chunk.record(subscription, TRAFFIC_CHARGE, last_day, description, done)


def warn(chunk, subscription, done):
    """The warning e-mail, once per subscription and "paid until", within the service's warning days."""
    service, day = subscription.service, chunk.day
    paid_until = subscription.paid_until
    if paid_until is None or service.warning_days <= 0:
        return
    if not day <= paid_until <= day + timedelta(days=service.warning_days):
        return
    if (WARNING, paid_until) in done:
        return
    client = subscription.client
    due = client_due(client, paid_until + timedelta(days=1), charges=chunk.charges.get(client.id, []),
                     advance_eur=chunk.advance_left(client.id))
    to_pay = due.payable_eur
    if to_pay <= 0:
        return
    if client.email:
        subject, body = warning_mail.message(client, subscription, due, chunk.company(client.dealer),
                                             chunk.warning_templates(), gettext=chunk.gettext)
        chunk.mails.append({"key": f"warning:{subscription.id}:{paid_until.isoformat()}",
                            "recipient": client.email, "subject": subject, "body": body, "client_id": client.id})
        detail = chunk.gettext("Warning sent to %(email)s: %(amount)s", email=client.email,
                         amount=format_money(to_pay, "EUR"))
    else:
        detail = chunk.gettext("No e-mail address to warn: %(amount)s due", amount=format_money(to_pay, "EUR"))
    chunk.record(subscription, WARNING, paid_until, detail, done)


def suspend(chunk, subscription, done):
    """Suspends a subscription once "paid until" plus the service's tolerance days has passed (never paid:
    from its activation day)."""
    if subscription.paid_until is None and subscription.activation_date is None:
        return
    paid = subscription.first_unpaid_day(chunk.day) - timedelta(days=1)
    if chunk.day <= paid + timedelta(days=subscription.service.tolerance_days):
        return
    if (SUSPENSION, paid) in done:
        return
    if subscription.paid_until is None:
        reason = chunk.gettext("Unpaid: not paid since the activation on %(day)s",
                         day=format_date(subscription.activation_date))
    else:
        reason = chunk.gettext("Unpaid: paid until %(day)s", day=format_date(paid))
    chunk.change_status(subscription, SUSPENDED, reason)
    chunk.record(subscription, SUSPENSION, paid, reason, done)
