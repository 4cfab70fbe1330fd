"""The home page starts the office's day: the client search, the day's figures and the operator's latest actions,
each only for who may see it, and a dealer's operators only their dealer's."""
from datetime import date, timedelta

from app.core.formatting import local_today
from app.extensions import db
from tests.conftest import Browser, Statements, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_payment, make_service, make_subscription


def world(app):
    with app.app_context():
        today = local_today()
        dealer = make_dealer("Люлин")
        service = make_service("Интернет за деня")
        office_client = make_client(None, "Клиент на централата")
        make_subscription(office_client, service, status="suspended", paid_until=today - timedelta(days=40))
        make_subscription(make_client(None, "Просрочил"), service, status="active",
                          paid_until=today - timedelta(days=3))
        make_subscription(make_client(None, "Платил напред"), service, status="active",
                          paid_until=today + timedelta(days=60), activation_date=date(2026, 1, 1))
        dealer_client = make_client(dealer, "Клиент на Люлин")
        make_subscription(dealer_client, service, status="suspended", paid_until=today - timedelta(days=10))
        make_payment(office_client, amount="20.00")
        make_operator(None, "каса", "Касиер", username="kasa")
        make_operator(None, "техник", "Техник", username="tehnik")
        make_operator(dealer, "дилър", "Администратор на дилър", username="lyulin")
        db.session.commit()


def home(app, username, password="operator-pass-123"):
    browser = Browser(app)
    browser.login(username, password)
    page = browser.get("/")
    assert page.status_code == 200
    return page.text, visible_text(page.text)


def number_after(text, heading):
    rest = text.split(heading, 1)[1].split()
    return rest[0] if rest[0][0].isdigit() else " ".join(rest[:2])


def test_the_administrator_sees_the_search_and_the_days_figures(app, admin):
    world(app)
    page = admin.get("/").text
    text = visible_text(page)
    assert 'name="q"' in page and "Намери клиент" in text
    assert number_after(text, "Спрени услуги") == "2"
    assert number_after(text, "Активни с изтекъл платен период") == "1"
    assert "Днес във всички каси 20,00 EUR" in text
    assert "Последните ми действия" in text and "Вход" in text.split("Последните ми действия", 1)[1]
    # The figure's link lists exactly the suspended ones.
    listing = visible_text(admin.get("/subscriptions/list/?_flt_0_status=suspended").text)
    assert "Клиент на централата" in listing and "Просрочил" not in listing


def test_each_role_sees_only_what_it_may(app):
    world(app)
    page, text = home(app, "kasa")
    assert 'name="q"' in page and "Днес в моята каса 0,00 EUR" in text
    assert "Днес във всички каси" not in text and "Спрени услуги" in text
    page, text = home(app, "tehnik")
    assert 'name="q"' not in page and "Спрени услуги" not in text and "каса" not in text


def test_a_dealers_operator_counts_only_the_dealers_subscriptions(app):
    world(app)
    _page, text = home(app, "lyulin")
    assert number_after(text, "Спрени услуги") == "1"
    assert number_after(text, "Активни с изтекъл платен период") == "0"
    assert "Днес във всички каси 0,00 EUR" in text  # head office's payment is not the dealer's


def test_the_counts_are_counted_once_in_a_while_and_say_when(app, admin, monkeypatch):
    world(app)
    with Statements(app) as first:
        text = visible_text(admin.get("/").text)
    assert number_after(text, "Спрени услуги") == "2" and "Приходи този месец 20,00 EUR" in text
    assert "данни към " in text
    subscription_counts = [s for s in first if s.startswith("SELECT count(subscription.id)")]
    assert len(subscription_counts) == 1  # suspended and overdue in one statement

    with app.app_context():
        make_subscription(make_client(None, "Спрян току-що"), make_service("Интернет 2"), status="suspended",
                          paid_until=local_today() - timedelta(days=30))
    with Statements(app) as again:
        text = visible_text(admin.get("/").text)
    # Within FIGURES_MAX_AGE the page shows what it counted, and when; no scan of subscriptions or payments' months.
    assert number_after(text, "Спрени услуги") == "2" and "данни към " in text
    assert not [s for s in again if "count(subscription.id)" in s or "payments.paid_on" in s]
    assert len(again) == len(first) - 3, again

    monkeypatch.setitem(app.config, "FIGURES_MAX_AGE", 0)
    assert number_after(visible_text(admin.get("/").text), "Спрени услуги") == "3"
