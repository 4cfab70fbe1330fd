"""Paid periods and currency conversion, against hand-computed cases."""
from datetime import date
from decimal import Decimal

import pytest

from app.billing.periods import FIXED, FLOATING, add_months, next_periods, periods_price, periods_to_cover


def ends(month_type, count, paid_until, anchor):
    return [period.end for period in next_periods(month_type, count, paid_until, anchor)]


@pytest.mark.parametrize("anchor, expected", [
    # activated on the 31st: shorter months end on their last day, then back to the 31st
    (date(2027, 1, 31), [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]),
    (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)]),  # leap
    (date(2027, 1, 30), [date(2027, 2, 28), date(2027, 3, 30), date(2027, 4, 30), date(2027, 5, 30)]),
    (date(2027, 3, 15), [date(2027, 4, 15), date(2027, 5, 15), date(2027, 6, 15), date(2027, 7, 15)]),
    (date(2027, 12, 31), [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]),
    (date(2028, 2, 29), [date(2028, 3, 29), date(2028, 4, 29), date(2028, 5, 29), date(2028, 6, 29)]),
])
def test_floating_months_keep_the_activation_day(anchor, expected):
    assert ends(FLOATING, 4, None, anchor) == expected
    # paying one period at a time lands on the same days as paying four at once
    paid_until, one_by_one = None, []
    for _ in range(4):
        paid_until = ends(FLOATING, 1, paid_until, anchor)[0]
        one_by_one.append(paid_until)
    assert one_by_one == expected


@pytest.mark.parametrize("anchor, expected_ends, expected_first_share", [
    (date(2027, 1, 1), [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)], Decimal(1)),
    (date(2027, 11, 15), [date(2027, 11, 30), date(2027, 12, 31), date(2028, 1, 31)], Decimal(16) / 30),
    (date(2028, 2, 10), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)], Decimal(20) / 29),  # leap
    (date(2027, 2, 28), [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)], Decimal(1) / 28),
    (date(2027, 12, 31), [date(2027, 12, 31), date(2028, 1, 31), date(2028, 2, 29)], Decimal(1) / 31),
])
def test_fixed_months_are_calendar_months_with_a_partial_first(anchor, expected_ends, expected_first_share):
    periods = next_periods(FIXED, 3, None, anchor)
    assert [period.end for period in periods] == expected_ends
    assert periods[0].share == expected_first_share
    assert all(period.share == 1 for period in periods[1:])


def test_fixed_partial_first_month_costs_its_share():
    # 15.11–30.11 is 16 of 30 days: 16/30 × 12,90 = 6,88; then December in full
    periods = next_periods(FIXED, 2, None, date(2027, 11, 15))
    assert periods_price(periods[:1], Decimal("12.90")) == Decimal("6.88")
    assert periods_price(periods, Decimal("12.90")) == Decimal("19.78")


def test_periods_continue_from_paid_until_without_gaps():
    assert ends(FIXED, 2, date(2027, 1, 31), date(2026, 5, 17)) == [date(2027, 2, 28), date(2027, 3, 31)]
    assert ends(FLOATING, 2, date(2027, 2, 28), date(2026, 8, 31)) == [date(2027, 3, 31), date(2027, 4, 30)]


def test_periods_to_cover_counts_arrears_and_the_next_period():
    # paid until 31.08, today 10.11: September, October and November
    assert periods_to_cover(FIXED, date(2027, 8, 31), date(2027, 1, 1), date(2027, 11, 10)) == 3
    # paid ahead: still the next period
    assert periods_to_cover(FIXED, date(2027, 12, 31), date(2027, 1, 1), date(2027, 11, 10)) == 1


def test_add_months_clamps_to_the_month_end():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2027, 1, 31), 13) == date(2028, 2, 29)
    assert add_months(date(2027, 10, 31), -1) == date(2027, 9, 30)


def test_bad_period_counts_are_refused():
    with pytest.raises(ValueError):
        next_periods(FIXED, 0, None, date(2027, 1, 1))
    with pytest.raises(ValueError):
        next_periods(FIXED, 121, None, date(2027, 1, 1))
