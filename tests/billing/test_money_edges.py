"""Money at the edges, through the paths a person uses: money paid before a subscription is live, a subscription
never paid, a client who owes open charges only — and the card, the collector's init, the debtors report and
the home page saying the same figure."""
import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.billing.charges import add_charge, advance_total, due_today
from app.billing.services import record_payment
from app.clients.models import Client, Subscription
from app.clients.subscriptions import change_status, sell_subscription
from app.core.formatting import format_date, local_today
from app.extensions import db
from app.reports.services import debtors
from tests.billing.test_cycle import run_cycle
from tests.collectors.test_collectors import call, collector_client, make_collector, signed
from tests.conftest import Browser, visible_text
from tests.factories import head_office_cashier, make_client, make_service, make_subscription


def pending_sale(name, fee="20.00", month_type="fixed", tolerance_days=3):
    """A client with a sale of a service that needs installation, still awaiting it."""
    client = make_client(None, name, email=None)
    service = make_service(f"Интернет {name}", monthly_fee=fee)
    service.month_type, service.tolerance_days, service.needs_installation = month_type, tolerance_days, True
    db.session.commit()
    subscription = sell_subscription(head_office_cashier(), client, service)
    db.session.commit()
    return client, subscription


def debtor_row(report, client):
    rows = [row for row in report.rows if row[0] == client.client_number]
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_money_paid_before_activation_pays_the_months_from_the_activation_and_nothing_is_suspended(app):
    with app.app_context():
        client, subscription = pending_sale("Вера Аванс")
        cashier = head_office_cashier()
        # Awaiting installation the subscription owes no months: the money brought is an advance.
        record_payment(cashier, client, amount="100.00")
        db.session.commit()
        assert advance_total(client.id) == Decimal("100.00")
        assert db.session.get(Subscription, subscription.id).paid_until is None
        change_status(cashier, subscription, "active", "Инсталирана")
        db.session.commit()
        activated = subscription.activation_date
        client_id, subscription_id = client.id, subscription.id
        assert due_today(client).due_eur == 0  # the advance covers the first period
    # The next days' cycles spend the advance on the periods instead of suspending.
    for offset in (0, 1, 5, 40):
        run_cycle(app, activated + timedelta(days=offset))
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status == "active", subscription.status_reason
        assert subscription.paid_until >= activated + timedelta(days=40)
        assert advance_total(client_id) < Decimal("100.00")
        assert due_today(db.session.get(Client, client_id), activated + timedelta(days=40)).due_eur == 0


def test_a_never_paid_subscription_and_open_charges_only_are_debts_everywhere_alike(app, admin):
    with app.app_context():
        make_collector()
        today = local_today()
        # Active since the 1st of last month, never paid.
        never_paid_client = make_client(None, "Никола Неплатил")
        service = make_service("Интернет Неплатил", monthly_fee="15.00")
        start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        make_subscription(never_paid_client, service, activation_date=start, paid_until=None)
        # Owes only an open charge.
        charge_client = make_client(None, "Чавдар Такса")
        add_charge(charge_client, "Рутер", "35.00", type_code="other")
        db.session.commit()
        report = debtors(head_office_cashier(), {})
        for client, expected in ((never_paid_client, Decimal("30.00")), (charge_client, Decimal("35.00"))):
            card = due_today(client).due_eur
            assert card == expected
            row = debtor_row(report, client)
            assert row is not None, f"{client.name} is missing from the debtors"
            assert row[-1] == card
        assert debtor_row(report, never_paid_client)[5] == start  # unpaid since the activation day
        numbers = never_paid_client.client_number, charge_client.client_number
    # The collector asks for at least as much; the home page counts the never-paid subscription.
    for number in numbers:
        assert call(collector_client(app), "init", signed(IDN=number)).json["STATUS"] == "00"
    home = visible_text(admin.get("/").text)
    assert re.search(r"Активни с изтекъл платен период\s*1\b", home), home


def test_the_suspension_of_a_never_paid_subscription_says_it_was_never_paid(app):
    with app.app_context():
        client = make_client(None, "Симеон Спрян")
        service = make_service("Интернет Спрян", monthly_fee="10.00")
        service.tolerance_days, service.warning_days = 0, 0
        activated = local_today() - timedelta(days=3)
        subscription = make_subscription(client, service, activation_date=activated, paid_until=None)
        db.session.commit()
        subscription_id, today = subscription.id, local_today()
    run_cycle(app, today)
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status == "suspended"
        assert subscription.status_reason == f"Неплатена услуга: неплащана от активирането на {format_date(activated)}"


def test_the_card_says_the_next_payment_comes_from_the_advance(app, admin):
    with app.app_context():
        client, subscription = pending_sale("Ана Напред", fee="10.00")
        cashier = head_office_cashier()
        record_payment(cashier, client, amount="100.00")
        change_status(cashier, subscription, "active", "Инсталирана")
        db.session.commit()
        client_id = client.id
    text = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "Дължимо днес 0,00 EUR" in text
    assert "Следващо плащане от аванса на" in text and "Следващо плащане 0,00" not in text, text


def test_a_freeze_ended_early_shows_the_paid_until_it_gave_back(app, admin):
    from app.billing.freeze import end_freeze_early, freeze_subscription
    from app.billing.models import SubscriptionFreeze

    with app.app_context():
        client = make_client(None, "Фани Ваканция")
        service = make_service("Интернет Ваканция", monthly_fee="10.00")
        service.max_freeze_days = 60
        today = local_today()
        subscription = make_subscription(client, service, activation_date=today - timedelta(days=400),
                                         paid_until=today + timedelta(days=20))
        db.session.commit()
        freeze = freeze_subscription(head_office_cashier(), subscription, starts_on=today + timedelta(days=1),
                                     ends_on=today + timedelta(days=10), reason="Ваканция")
        db.session.commit()
        end_freeze_early(head_office_cashier(), freeze, back_on=today + timedelta(days=5))
        db.session.commit()
        freeze = db.session.scalar(select(SubscriptionFreeze))
        assert freeze.paid_until_after == db.session.get(Subscription, subscription.id).paid_until \
            == today + timedelta(days=20 + 4)
