"""What a client owes, over weeks of sales (at once, or from a chosen day), installations, reactivations by hand,
payments, charges, freezes, reversals and nightly cycles in any order: at every step the card's "due today" is
the debtors report's figure for that client, the advance is never negative, the card's badge ("Длъжник") and the
home page's count of active services whose paid period is over say the client owes only when "due today" does,
and no subscription stays suspended while the advance covers its next period.

The clock moves (time-machine) so that the cycle runs each day as the schedule would, for today only."""
import itertools
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine
from flask_babel import gettext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.billing import periods as period_rules
from app.billing.charges import add_charge, advance_total, due_today, period_fee_eur, periods_for
from app.billing.freeze import freeze_subscription
from app.billing.models import Payment
from app.billing.services import record_payment, reverse_payment
from app.clients.models import Client, Subscription
from app.clients.services import card_standing, home_figures
from app.clients.subscriptions import change_status, sell_subscription
from app.core.errors import FieldErrors
from app.core.figures import forget as forget_figures
from app.dealers.models import Dealer
from app.security.models import Operator
from app.core.formatting import local_today
from app.core.transaction import discard
from app.extensions import db
from app.reports.services import debtors
from tests.billing.test_cycle import run_cycle
from tests.factories import head_office_cashier, make_client, make_dealer, make_operator, make_service

START = datetime(2027, 3, 10, 9, 0, tzinfo=timezone.utc)
NUMBERS = itertools.count(1)

# (installation needed, month type, fee, activation day chosen: days from today, or None for at once)
sale = st.tuples(st.just("sell"), st.booleans(), st.sampled_from(["fixed", "floating"]),
                 st.sampled_from(["10.00", "12.90", "20.00"]), st.one_of(st.none(), st.integers(0, 4)))
steps = st.one_of(
    sale,
    st.tuples(st.just("install"), st.integers(0, 2)),
    st.tuples(st.just("reactivate"), st.integers(0, 2)),
    st.tuples(st.just("pay"), st.integers(1, 6000)),
    st.tuples(st.just("pay_months"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("charge"), st.integers(100, 5000)),
    st.tuples(st.just("freeze"), st.integers(0, 2), st.integers(0, 5), st.integers(1, 20)),
    st.tuples(st.just("reverse"),),
    st.tuples(st.just("days"), st.integers(1, 12)),
)


def _subscription(client, index):
    subscriptions = sorted(client.subscriptions, key=lambda subscription: subscription.id)
    return subscriptions[index % len(subscriptions)] if subscriptions else None


def apply(step, client, cashier):
    """One step as the office takes it; a refusal (FieldErrors) changes nothing, as in the panel."""
    kind = step[0]
    if kind == "sell":
        _kind, installation, month_type, fee, *chosen = step
        service = make_service(f"Услуга {next(NUMBERS)}", monthly_fee=fee)
        service.month_type, service.needs_installation = month_type, installation
        service.warning_days, service.tolerance_days, service.max_freeze_days = 3, 2, 30
        db.session.flush()
        in_days = chosen[0] if chosen else None
        # A chosen day for a service that needs installation is refused, as a past day is.
        activates_on = None if in_days is None else local_today() + timedelta(days=in_days)
        sell_subscription(cashier, client, service, activates_on=activates_on)
    elif kind == "install":
        subscription = _subscription(client, step[1])
        if subscription is not None and subscription.status == "pending":
            change_status(cashier, subscription, "active", "Инсталирана")
    elif kind == "reactivate":
        subscription = _subscription(client, step[1])
        if subscription is not None and subscription.status == "suspended":
            change_status(cashier, subscription, "active", "Пусната на ръка")
    elif kind == "pay":
        record_payment(cashier, client, amount=Decimal(step[1]) / 100)
    elif kind == "pay_months":
        subscription = _subscription(client, step[1])
        if subscription is not None:
            record_payment(cashier, client, periods={subscription.id: step[2]})
    elif kind == "charge":
        add_charge(client, "Такса", Decimal(step[1]) / 100, type_code="other", operator=cashier)
    elif kind == "freeze":
        subscription = _subscription(client, step[1])
        if subscription is not None:
            first = local_today() + timedelta(days=step[2])
            freeze_subscription(cashier, subscription, starts_on=first, ends_on=first + timedelta(days=step[3]),
                                reason="Ваканция")
    elif kind == "reverse":
        latest = db.session.scalar(db.select(Payment).where(Payment.client_id == client.id,
                                                            Payment.reversal_of_id.is_(None))
                                   .order_by(Payment.id.desc()).limit(1))
        if latest is not None:
            reverse_payment(cashier, latest, "Грешка")


def check(client_id, after_cycle, dealer_operator):
    client = db.session.get(Client, client_id)
    db.session.refresh(client)
    today = local_today()
    card = due_today(client).due_eur
    report = debtors(head_office_cashier(), {}, today=today)
    rows = [row for row in report.rows if row[0] == client.client_number]
    assert (rows[0][-1] if rows else Decimal("0.00")) == card, (rows, card)
    advance = advance_total(client_id)
    assert advance >= 0
    # The badge and the home page (the client's dealer has only this client) owe only when "due today" does.
    badge, _colour = card_standing(client.subscriptions, today)
    forget_figures()  # the home page counts every few minutes; this compares its rule, counted now
    overdue = home_figures(dealer_operator)["home_overdue"]
    assert overdue == sum(1 for subscription in client.subscriptions
                          if subscription.status == "active" and subscription.owes_periods(today))
    if badge == gettext("Debtor") or overdue:
        assert card > 0, f"badge {badge!r}, {overdue} on the home page, but due today {card}, advance {advance}"
    if after_cycle:
        for subscription in client.subscriptions:
            if subscription.status == "suspended":
                period = periods_for(subscription, 1, today)
                price = period_rules.periods_price(period, period_fee_eur(subscription, today))
                assert advance < price, f"suspended with an advance of {advance} covering {price}"


@pytest.fixture
def dealer_manager(app):
    """A dealer whose home page counts the example's client only (each example's client joins it, and leaves
    it for head office when the example ends), and its administrator; made once for all the examples."""
    with app.app_context():
        dealer = make_dealer("Свойства")
        db.session.commit()
        return dealer.id, make_operator(dealer, "свойства", "Администратор на дилър").id


@settings(max_examples=int(os.environ.get("MONEY_EXAMPLES", "12")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(steps, min_size=2, max_size=10))
# Money brought while a service awaits its installation is an advance; the installation spends it at once.
@example(plan=[("sell", True, "fixed", "10.00", None), ("pay", 2000), ("install", 1), ("days", 1)])
# ... and so does the night its chosen activation day comes.
@example(plan=[("sell", False, "floating", "10.00", 2), ("pay", 2000), ("days", 3)])
def test_the_card_the_debtors_report_and_the_cycle_agree_whatever_happens(app, dealer_manager, plan):
    dealer_id, manager_id = dealer_manager
    with time_machine.travel(START, tick=False) as clock, app.app_context():
        client = make_client(db.session.get(Dealer, dealer_id), f"Клиент {next(NUMBERS)}")
        db.session.commit()
        client_id = client.id
        try:
            for step in [("sell", False, "fixed", "12.90", None)] + plan:
                client = db.session.get(Client, client_id)
                if step[0] == "days":
                    for _day in range(step[1]):
                        clock.shift(timedelta(days=1))
                        db.session.remove()
                        run_cycle(app, local_today())
                    check(client_id, after_cycle=True, dealer_operator=db.session.get(Operator, manager_id))
                    continue
                try:
                    apply(step, client, head_office_cashier())
                    db.session.commit()
                except FieldErrors:
                    discard()
                check(client_id, after_cycle=False, dealer_operator=db.session.get(Operator, manager_id))
        finally:
            discard()
            db.session.get(Client, client_id).dealer_id = None
            db.session.commit()
            db.session.remove()
