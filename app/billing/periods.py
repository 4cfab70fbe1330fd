"""Paid periods: how far a payment of N periods extends "paid until".

Two month types (Service.month_type):

- fixed: calendar months. Paid periods always end on a month's last day.
  When nothing has been paid yet and the subscription starts after the 1st,
  the first period runs to the end of that month and costs its share of
  the fee (days left / days in the month). Example: started 15.11 → the
  first period is 15.11–30.11 at 16/30 of the fee, the next is December.
- floating: months anchored to the activation day. Period k ends on the
  anchor day k months after activation, or on the month's last day when the
  month is shorter. Example: activated 31.01.2027 → paid until 28.02.2027,
  then 31.03.2027, 30.04.2027; in a leap year 29.02.

Periods follow each other without gaps: a late payment first covers the
months since "paid until".
"""
import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.core.money import quantize

FIXED = "fixed"
FLOATING = "floating"
MAX_PERIODS = 120  # ten years at once is surely a typing error


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    share: Decimal  # of the monthly fee: 1, or less for a fixed type's first partial month


def month_end(day):
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(anchor, months):
    """The anchor's day `months` later, or that month's last day when it is shorter."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def next_periods(month_type, count, paid_until, anchor):
    """The next `count` periods after `paid_until` (None: nothing paid yet).

    `anchor` is the activation day, or the day paying starts when the
    subscription is not active yet.
    """
    if count < 1 or count > MAX_PERIODS:
        raise ValueError(count)
    start = paid_until + timedelta(days=1) if paid_until else anchor
    periods = []
    for _ in range(count):
        if month_type == FLOATING:
            end = _next_anchored_end(anchor, start)
            share = Decimal(1)
        else:
            end = month_end(start)
            days_in_month = end.day
            share = Decimal(1) if start.day == 1 else Decimal(end.day - start.day + 1) / Decimal(days_in_month)
        periods.append(Period(start, end, share))
        start = end + timedelta(days=1)
    return periods


def _next_anchored_end(anchor, start):
    """The first anchored day on or after `start` that ends a period starting there."""
    months = (start.year - anchor.year) * 12 + start.month - anchor.month
    end = add_months(anchor, max(months, 0))
    while end < start or end == anchor:
        months += 1
        end = add_months(anchor, months)
    return end


def periods_price(periods, monthly_fee):
    """What these periods cost: each period's share of the fee, rounded to the cent."""
    return sum((quantize(monthly_fee * period.share) for period in periods), Decimal("0.00"))


def periods_to_cover(month_type, paid_until, anchor, day):
    """How many periods make a subscription paid through `day` (at least one: the next)."""
    count = 1
    while count < MAX_PERIODS:
        if next_periods(month_type, count, paid_until, anchor)[-1].end >= day:
            return count
        count += 1
    return MAX_PERIODS
