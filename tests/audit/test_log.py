"""The LOG page: what it lists, how it filters, and that nothing can change it."""
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from tests.conftest import ADMIN_USERNAME, Browser, visible_text
from tests.dealers.test_dealers import VALID, create_dealer


def entries(app, operation):
    with app.app_context():
        return db.session.scalars(
            select(LogEntry).where(LogEntry.operation == operation).order_by(LogEntry.id)
        ).all()


def test_logins_failed_logins_and_logouts_are_logged(app):
    browser = Browser(app, remote_addr="203.0.113.5")
    wrong = browser.submit("/login/", {"username": ADMIN_USERNAME, "password": "wrong"})
    assert wrong.status_code == 302  # FAB redirects back to the login form
    browser.submit("/login/", {"username": "nobody", "password": "x"})
    browser.login()
    browser.logout()

    failed = entries(app, "login_failed")
    assert [(e.username, e.remote_addr) for e in failed] == [
        (ADMIN_USERNAME, "203.0.113.5"),
        ("nobody", "203.0.113.5"),
    ]
    assert failed[0].user_id is not None and failed[1].user_id is None
    assert [e.username for e in entries(app, "login")] == [ADMIN_USERNAME]
    assert [e.username for e in entries(app, "logout")] == [ADMIN_USERNAME]


def test_log_page_lists_changes_in_bulgarian(app, admin):
    dealer_id = create_dealer(app)
    admin.submit(f"/dealers/edit/{dealer_id}", dict(VALID, name="Дилър Изток"))
    page = visible_text(admin.get("/log/list/").text)
    assert "LOG: история на промените" in page
    assert "Наименование : Дилър Младост → Дилър Изток" in page
    assert "Дилър" in page and "Промяна" in page and "Създаване" in page
    assert "192.0.2.10" in page


def test_log_filters_by_ip_and_record_type(app, admin):
    dealer_id = create_dealer(app)
    admin.submit(f"/dealers/edit/{dealer_id}", dict(VALID, name="Дилър Изток"))
    other = Browser(app, remote_addr="10.9.9.9")
    other.login()

    by_ip = visible_text(admin.get("/log/list/?_flt_0_remote_addr=10.9.9.9").text)
    assert "10.9.9.9" in by_ip and "Дилър Изток" not in by_ip
    by_type = visible_text(admin.get("/log/list/?_flt_0_entity_type=Dealer").text)
    assert "Дилър Изток" in by_type and "10.9.9.9" not in by_type


def test_log_has_no_route_that_changes_it(app, admin):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/log/"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
            assert rule.endpoint in {"LogView.list", "LogView.show", "bare_log"}, rule  # bare_log: /log/ → the list
    assert not any(r.rule.startswith("/api/v1/log") for r in app.url_map.iter_rules())
    create_dealer(app)
    entry_id = entries(app, "insert")[0].id
    token = admin.csrf_token("/log/list/")
    for url in (f"/log/edit/{entry_id}", f"/log/delete/{entry_id}", "/log/add"):
        response = admin.client.post(url, data={"csrf_token": token, "note": "x"})
        assert response.status_code in (404, 405), url
    with app.app_context():
        assert db.session.get(LogEntry, entry_id).note is None


def test_log_filters_by_operator_and_date_range(app, admin):
    from app.security.services import ensure_operator

    with app.app_context():
        clerk, _ = ensure_operator("clerk", "clerk-pass-123", "Петя", "Колева")
        clerk_id = clerk.id
    Browser(app, remote_addr="10.7.7.7").login("clerk", "clerk-pass-123")

    by_operator = visible_text(admin.get(f"/log/list/?_flt_0_user={clerk_id}").text)
    assert "10.7.7.7" in by_operator and "192.0.2.10" not in by_operator

    in_range = visible_text(
        admin.get("/log/list/?_flt_1_issued_at=2020-01-01 00:00:00&_flt_2_issued_at=2100-01-01 00:00:00").text
    )
    assert "10.7.7.7" in in_range
    after_range = visible_text(admin.get("/log/list/?_flt_1_issued_at=2100-01-01 00:00:00").text)
    assert "10.7.7.7" not in after_range and "Няма намерени записи" in after_range


def test_log_names_coded_values_columns_and_referenced_records_in_bulgarian(app, admin):
    from datetime import date

    from tests.factories import make_client, make_payment, make_service, make_subscription

    with app.app_context():
        client = make_client(None, "Кодов Клиент")
        subscription = make_subscription(client, make_service("Интернет кодове"), status="active",
                                         activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        payment_id = make_payment(client, periods={subscription.id: 1}).id
        client_id, subscription_id = client.id, subscription.id
    admin.submit(f"/subscriptions/status/{subscription_id}", {"status": "suspended", "reason": "Ремонт"},
                 form_url=f"/clients/show/{client_id}")
    history = visible_text(admin.get(f"/subscriptions/show/{subscription_id}").text)
    assert "Активна → Спряна" in history and "active" not in history.split("История", 1)[1]
    card_history = visible_text(admin.get(f"/clients/show/{client_id}").text).split("История", 1)[1]
    assert "Физическо лице" in card_history and "individual" not in card_history
    payment_history = visible_text(admin.get(f"/payments/show/{payment_id}").text).split("История", 1)[1]
    # columns named, and the records they point to named too (not "Клиент: 17")
    assert "Начин на плащане : В брой" in payment_history and "Method Id" not in payment_history
    assert "Клиент : Кодов Клиент (" in payment_history
    assert "Сума : 12,90" in payment_history  # amounts with the decimal comma
