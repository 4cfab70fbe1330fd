"""Whether a subscription may use its service on a day: the one rule, in Python and in SQL side by side.

- frozen on day D: one of its freezes (app/billing/freeze.py) holds D,
  from `starts_on` through `last_day` (the last day in force: an early end
  moves it);
- usable on D: active and not frozen on D — RADIUS lets it in
  (app.radius.auth), the FTP server lets it in and keeps it in
  (app.freeftp.access), the disconnect sweep leaves its sessions online
  (app.radius.disconnect);
- walled garden on D: suspended (unpaid) and not frozen on D — RADIUS lets
  it into the NAS's walled garden (a NAS without one rejects it), to see
  how to pay; a frozen one asked for a pause and is rejected;
- the billing cycle and an activation's advance leave a subscription
  frozen on D alone (app.billing.cycle, app.billing.advance).

Each rule is written here once per language: the Python predicates read
values (a cached login's status and freeze days, a loaded subscription),
the `…_condition` functions are their SQL twins for a query over
Subscription. tests/billing/test_usable.py holds each pair to the same
answers. A freeze's days are compared by `covers`, one expression for both.
"""
from sqlalchemy import and_, exists, or_, select

from app.billing.models import SubscriptionFreeze
from app.clients.models import ACTIVE, SUSPENDED, Subscription
from app.extensions import db


def covers(starts_on, last_day, day):
    """A freeze from `starts_on` through `last_day` holds `day`: dates give a bool, columns an SQL condition."""
    return (starts_on <= day) & (last_day >= day)


# --- Python: on values ------------------------------------------------------------


def frozen_on(freezes, day):
    """Frozen on `day`, from the subscription's freezes as (starts_on, last_day) pairs (cached, or read)."""
    return any(covers(starts_on, last_day, day) for starts_on, last_day in freezes)


def usable(status, frozen):
    """Usable: active and not frozen (`frozen`: frozen_on's answer for the day)."""
    return status == ACTIVE and not frozen


def in_walled_garden(status, frozen):
    """Suspended for not paying and not frozen: only the walled garden, to see how to pay."""
    return status == SUSPENDED and not frozen


# --- Python: on a subscription in the database --------------------------------------


def is_frozen(subscription_id, day):
    """Frozen on `day` (one indexed read: ix_subscription_freeze_days)."""
    return db.session.scalar(select(SubscriptionFreeze.id).where(
        SubscriptionFreeze.subscription_id == subscription_id, freeze_covers(day)).limit(1)) is not None


def is_usable(subscription, day):
    """The loaded `subscription` is usable on `day` (its freezes read from the database)."""
    return usable(subscription.status, is_frozen(subscription.id, day))


def frozen_ids(subscription_ids, day):
    """The ids among `subscription_ids` frozen on `day`, as a set (a chunk of the billing cycle)."""
    return set(db.session.scalars(select(SubscriptionFreeze.subscription_id).where(
        SubscriptionFreeze.subscription_id.in_(subscription_ids), freeze_covers(day))))


# --- SQL ------------------------------------------------------------------------------


def freeze_covers(day):
    """SQL: the SubscriptionFreeze holds `day`."""
    return covers(SubscriptionFreeze.starts_on, SubscriptionFreeze.last_day, day)


def not_over(day):
    """SQL: the SubscriptionFreeze is in force on `day` or later (what a login cache keeps, what the card shows)."""
    return SubscriptionFreeze.last_day >= day


def frozen_condition(day, subscription_id=Subscription.id):
    """SQL: the subscription (`subscription_id`: a column or a value) is frozen on `day`."""
    return exists().where(SubscriptionFreeze.subscription_id == subscription_id, freeze_covers(day))


def usable_condition(day):
    """SQL twin of `usable`."""
    return and_(Subscription.status == ACTIVE, ~frozen_condition(day))


def walled_garden_condition(day):
    """SQL twin of `in_walled_garden`."""
    return and_(Subscription.status == SUSPENDED, ~frozen_condition(day))


def may_be_online_condition(day, nas_has_walled_garden):
    """SQL: usable, or in the walled garden on a NAS that has one (`nas_has_walled_garden`: its condition).

    The same as or_(usable_condition, walled_garden_condition & nas_has_walled_garden), written with one
    look at the freezes.
    """
    return and_(or_(Subscription.status == ACTIVE, and_(Subscription.status == SUSPENDED, nas_has_walled_garden)),
                ~frozen_condition(day))
