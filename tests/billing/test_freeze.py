"""Freeze (ваканция): the dates it moves, what the cycle leaves alone meanwhile, and the panel's form."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.billing.freeze import end_freeze_early, freeze_subscription
from app.billing.models import CycleEffect, SubscriptionFreeze
from app.clients.models import Subscription
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.extensions import db
from tests.billing.test_cycle import run_cycle, status_of, subscriber
from tests.conftest import visible_text
from tests.factories import head_office_cashier, make_operator

TODAY = date(2026, 12, 1)


def frozen_subscriber(max_days=30, paid_until=date(2026, 12, 31), **values):
    _client_id, subscription_id = subscriber(paid_until=paid_until, **values)
    subscription = db.session.get(Subscription, subscription_id)
    subscription.service.max_freeze_days = max_days
    db.session.commit()
    return subscription


def test_a_freeze_moves_paid_until_by_its_days_and_an_early_end_gives_the_unused_days_back(app):
    with app.app_context():
        subscription = frozen_subscriber()
        freeze = freeze_subscription(head_office_cashier(), subscription, starts_on=date(2026, 12, 10),
                                     ends_on=date(2026, 12, 19), reason="Командировка", today=TODAY)
        db.session.commit()
        assert (freeze.days, subscription.paid_until) == (10, date(2027, 1, 10))
        # Back on 15.12: 10.–14.12 were used, 15.–19.12 (5 days) come off again.
        unused = end_freeze_early(head_office_cashier(), freeze, back_on=date(2026, 12, 15), today=TODAY)
        db.session.commit()
        assert unused == 5
        assert (freeze.last_day, freeze.days, subscription.paid_until) == (date(2026, 12, 14), 5, date(2027, 1, 5))
        with pytest.raises(FieldErrors, match="вече е прекратена"):
            end_freeze_early(head_office_cashier(), freeze, back_on=date(2026, 12, 16), today=TODAY)


@pytest.mark.parametrize("values, message", [
    ({"starts_on": date(2026, 11, 30), "ends_on": date(2026, 12, 5)}, "започва днес или по-късно"),
    ({"starts_on": date(2026, 12, 10), "ends_on": date(2026, 12, 9)}, "същият или след първия"),
    ({"starts_on": date(2026, 12, 10), "ends_on": date(2027, 1, 15), "max_days": 20}, "Най-много 20 дни"),
    ({"starts_on": date(2026, 12, 10), "ends_on": date(2026, 12, 12), "max_days": 0}, "не може да се замразява"),
    ({"starts_on": date(2027, 1, 10), "ends_on": date(2027, 1, 12)}, "първо платете до деня преди"),
    ({"starts_on": date(2026, 12, 10), "ends_on": date(2026, 12, 12), "reason": " "}, "защо"),
])
def test_a_freeze_the_rules_refuse_changes_nothing(app, values, message):
    with app.app_context():
        subscription = frozen_subscriber(max_days=values.pop("max_days", 30))
        with pytest.raises(FieldErrors, match=message):
            freeze_subscription(head_office_cashier(), subscription, reason=values.pop("reason", "Море"),
                                today=TODAY, **values)
        db.session.rollback()
        assert db.session.get(Subscription, subscription.id).paid_until == date(2026, 12, 31)
        assert db.session.scalar(select(SubscriptionFreeze)) is None


def test_the_days_a_year_count_every_freeze_and_overlaps_are_refused(app):
    with app.app_context():
        subscription = frozen_subscriber(max_days=15)
        cashier = head_office_cashier()
        freeze_subscription(cashier, subscription, starts_on=date(2026, 12, 2), ends_on=date(2026, 12, 11),
                            reason="Море", today=TODAY)
        db.session.commit()
        with pytest.raises(FieldErrors, match="вече е замразена"):
            freeze_subscription(cashier, subscription, starts_on=date(2026, 12, 11), ends_on=date(2026, 12, 12),
                                reason="Пак", today=TODAY)
        with pytest.raises(FieldErrors, match="за 2026 са използвани 10"):
            freeze_subscription(cashier, subscription, starts_on=date(2026, 12, 20), ends_on=date(2026, 12, 25),
                                reason="Пак", today=TODAY)
        # 2027 is a new year: its own 15 days.
        db.session.rollback()
        freeze_subscription(cashier, db.session.get(Subscription, subscription.id), starts_on=date(2027, 1, 1),
                            ends_on=date(2027, 1, 15), reason="Зима", today=TODAY)
        db.session.commit()


def test_while_frozen_the_cycle_neither_warns_nor_suspends_and_resumes_after(app, outbox):
    with app.app_context():
        subscription = frozen_subscriber(paid_until=date(2026, 12, 5), tolerance_days=0, warning_days=5)
        freeze_subscription(head_office_cashier(), subscription, starts_on=date(2026, 12, 2),
                            ends_on=date(2026, 12, 21), reason="Ремонт", today=TODAY)
        db.session.commit()
        subscription_id = subscription.id
        assert subscription.paid_until == date(2026, 12, 25)
    for day in (date(2026, 12, 2), date(2026, 12, 20), date(2026, 12, 21)):
        assert "effects: none" in run_cycle(app, day)
    # Working again on 22.12: the warning for 25.12 comes now, the suspension after it.
    assert "warning 1" in run_cycle(app, date(2026, 12, 22))
    assert "suspension 1" in run_cycle(app, date(2026, 12, 26))
    assert status_of(app, subscription_id)[0] == "suspended"
    with app.app_context():
        assert [effect.period_end for effect in db.session.scalars(select(CycleEffect))] == [date(2026, 12, 25)] * 2


def test_the_desk_freezes_from_the_client_card_and_a_technician_cannot(app):
    from tests.conftest import Browser

    with app.app_context():
        today = local_today()
    paid_until = today + timedelta(days=40)
    with app.app_context():
        subscription = frozen_subscriber(paid_until=paid_until)
        client_id, subscription_id = subscription.client_id, subscription.id
        make_operator(None, "каса", "Касиер", username="cashier-freeze")
        make_operator(None, "техник", "Техник", username="technician-freeze")
        db.session.commit()
    cashier = Browser(app)
    cashier.login("cashier-freeze", "operator-pass-123")
    assert "Ваканция" in visible_text(cashier.get(f"/clients/show/{client_id}?tab=all").text)
    form = f"/freezes/add?client={client_id}"
    too_late = paid_until + timedelta(days=5)
    response = cashier.submit(form, {"subscription": str(subscription_id), "starts_on": f"{too_late:%d.%m.%Y}",
                                     "ends_on": f"{too_late + timedelta(days=3):%d.%m.%Y}", "reason": "На море"})
    # Not paid up to the day before: refused under its field, nothing stored.
    assert response.status_code == 200 and "първо платете до деня преди" in visible_text(response.text)
    starts, ends = today + timedelta(days=10), today + timedelta(days=19)
    response = cashier.submit(form, {"subscription": str(subscription_id), "starts_on": f"{starts:%d.%m.%Y}",
                                     "ends_on": f"{ends:%d.%m.%Y}", "reason": "На море"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/clients/show/{client_id}")
    card = visible_text(cashier.get(f"/clients/show/{client_id}?tab=all").text)
    assert f"{starts:%d.%m.%Y}–{ends:%d.%m.%Y} (На море)" in card
    assert status_of(app, subscription_id)[1] == paid_until + timedelta(days=10)

    technician = Browser(app)
    technician.login("technician-freeze", "operator-pass-123")
    assert technician.get(form).status_code in (302, 403)
    with app.app_context():
        assert db.session.scalars(select(SubscriptionFreeze.reason)).all() == ["На море"]
