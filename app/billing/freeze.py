"""Freeze (ваканция): a subscription paused between two dates, with a reason.

While frozen, the billing cycle neither warns, suspends nor charges it, and
RADIUS will refuse its login. The days it is frozen are days the client
does not use: "paid until" moves later by them when the freeze is made, and
ending it early gives the unused days back (moves "paid until" earlier by
them again). A service setting (`Service.max_freeze_days`) limits the
frozen days per calendar year; 0 means the service cannot be frozen.

Only a subscription paid at least to the day before the freeze can be
frozen: the frozen days must have been paid to be moved.
"""
from datetime import timedelta

from flask_babel import gettext
from sqlalchemy import func, select

from app.billing.models import SubscriptionFreeze
from app.clients.models import ACTIVE, Subscription
from app.core.actors import operator_of
from app.core.errors import FieldErrors
from app.core.events import send, subscription_frozen
from app.core.formatting import format_date, local_today
from app.core.scoping import in_scope
from app.extensions import db
from app.security.rights import may_access

MAX_REASON = 300


def _may_freeze(actor):
    # One row of the rights matrix: adding freezes (the desk takes vacation requests).
    return may_access(actor, "can_add", "SubscriptionFreeze")


def _lock(subscription):
    """Locks the subscription and reads it again: a payment or another freeze of it waits for this one."""
    db.session.scalar(select(Subscription.id).where(Subscription.id == subscription.id).with_for_update())
    db.session.refresh(subscription)


def frozen_days_in_year(subscription, year, excluding=None):
    """Days the subscription is (or will be) frozen in `year`, counting early ends."""
    total = 0
    query = select(SubscriptionFreeze).where(SubscriptionFreeze.subscription_id == subscription.id)
    for freeze in db.session.scalars(query):
        if excluding is not None and freeze.id == excluding.id:
            continue
        total += freeze.days_in_year(year)
    return total


def freeze_subscription(actor, subscription, *, starts_on, ends_on, reason, today=None):
    """Freezes a subscription from `starts_on` to `ends_on` (both included); moves "paid until" by those days.

    Raises FieldErrors, and changes nothing, when it is not allowed. Flushes.
    """
    today = today or local_today()
    starts_on, ends_on = starts_on or None, ends_on or None  # an empty form field is no day
    errors = {}
    if not _may_freeze(actor):
        errors["starts_on"] = [gettext("You do not have the right to freeze subscriptions.")]
    elif subscription is None:
        errors["subscription"] = [gettext("Choose the subscription.")]
    elif not in_scope(subscription, actor):
        errors["subscription"] = [gettext("This record belongs to another dealer.")]
    if errors:
        raise FieldErrors(errors)
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [gettext("Say why the subscription is frozen.")]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [gettext("At most %(max)d characters.", max=MAX_REASON)]
    if starts_on is None:
        errors["starts_on"] = [gettext("Enter the first day of the freeze.")]
    elif starts_on < today:
        errors["starts_on"] = [gettext("A freeze starts today or later.")]
    if ends_on is None:
        errors["ends_on"] = [gettext("Enter the last day of the freeze.")]
    elif starts_on is not None and ends_on < starts_on:
        errors["ends_on"] = [gettext("The last day comes on or after the first.")]
    if errors:
        raise FieldErrors(errors)
    if subscription.status != ACTIVE:
        raise FieldErrors({"subscription": [gettext("Only an active subscription can be frozen.")]})
    _lock(subscription)
    limit = subscription.service.max_freeze_days or 0
    if limit <= 0:
        raise FieldErrors({"subscription": [gettext("The service %(service)s cannot be frozen.",
                                                    service=subscription.service.name)]})
    overlapping = db.session.scalar(select(func.count()).select_from(SubscriptionFreeze).where(
        SubscriptionFreeze.subscription_id == subscription.id,
        SubscriptionFreeze.starts_on <= ends_on, SubscriptionFreeze.last_day >= starts_on))
    if overlapping:
        raise FieldErrors({"starts_on": [gettext("The subscription is already frozen on some of these days.")]})
    freeze = SubscriptionFreeze(subscription=subscription, client_id=subscription.client_id, starts_on=starts_on,
                                ends_on=ends_on, last_day=ends_on, reason=reason, created_by=operator_of(actor))
    for year in range(starts_on.year, ends_on.year + 1):
        if frozen_days_in_year(subscription, year) + freeze.days_in_year(year) > limit:
            raise FieldErrors({"ends_on": [gettext(
                "At most %(limit)d days a year can be frozen; %(used)d are used in %(year)d.",
                limit=limit, used=frozen_days_in_year(subscription, year), year=year)]})
    if subscription.paid_until is None or subscription.paid_until < starts_on - timedelta(days=1):
        raise FieldErrors({"starts_on": [gettext(
            "The subscription is paid until %(day)s; pay up to the day before the freeze first.",
            day=format_date(subscription.paid_until) if subscription.paid_until else "—")]})
    days = freeze.days
    freeze.paid_until_before = subscription.paid_until
    subscription.paid_until = subscription.paid_until + timedelta(days=days)
    freeze.paid_until_after = subscription.paid_until
    db.session.add(freeze)
    db.session.flush()
    if starts_on <= today:
        send(subscription_frozen, actor, subscription=subscription, freeze=freeze)
    return freeze


def end_freeze_early(actor, freeze, *, back_on, today=None):
    """Ends a freeze so the service works again from `back_on`; the unused days come off "paid until". Flushes."""
    today = today or local_today()
    if not _may_freeze(actor):
        raise FieldErrors({"back_on": [gettext("You do not have the right to freeze subscriptions.")]})
    if not in_scope(freeze, actor):
        raise FieldErrors({"back_on": [gettext("This record belongs to another dealer.")]})
    if freeze.ended_on is not None:
        raise FieldErrors({"back_on": [gettext("The freeze has already ended.")]})
    if back_on is None:
        raise FieldErrors({"back_on": [gettext("Enter the day the service works again.")]})
    if back_on < today:
        raise FieldErrors({"back_on": [gettext("The service works again today or later.")]})
    if not freeze.starts_on <= back_on <= freeze.ends_on:
        raise FieldErrors({"back_on": [gettext("The day must fall within the freeze, %(start)s–%(end)s.",
                                               start=format_date(freeze.starts_on),
                                               end=format_date(freeze.ends_on))]})
    subscription = freeze.subscription
    _lock(subscription)
    unused = (freeze.ends_on - back_on).days + 1
    subscription.paid_until = subscription.paid_until - timedelta(days=unused)
    freeze.paid_until_after = subscription.paid_until  # what the freeze's page and list show
    freeze.ended_on = back_on
    freeze.last_day = back_on - timedelta(days=1)
    db.session.flush()
    return unused
