"""The cashier's pages and the payments API, as operators use them."""
from datetime import date
from decimal import Decimal

from app.billing.models import Charge, CurrencyRate, Payment
from app.billing.periods import add_months, month_end
from app.clients.models import Client, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.security import permissions as p
from tests.conftest import Browser, api_token, visible_text
from tests.factories import make_client, make_operator, make_service, make_subscription

PASSWORD = "operator-pass-123"


def client_with_subscription(app, fee="15.00", paid_until=date(2026, 12, 31), status="active"):
    with app.app_context():
        client = make_client(None, "Георги Касов")
        service = make_service(f"Интернет {fee}", monthly_fee=fee)
        subscription = make_subscription(client, service, status=status, activation_date=date(2026, 1, 1),
                                         paid_until=paid_until)
        return client.id, subscription.id


def operator_browser(app, role, username):
    with app.app_context():
        make_operator(None, username, role, username=username)
    browser = Browser(app)
    browser.login(username, PASSWORD)
    return browser


def test_pay_a_subscription_from_the_card_in_two_clicks(app):
    client_id, subscription_id = client_with_subscription(app, paid_until=date(2026, 10, 31))
    cashier = operator_browser(app, p.CASHIER, "kasa1")
    card = cashier.get(f"/clients/show/{client_id}?tab=all")
    pay_link = f"/payments/record/{client_id}?subscription={subscription_id}"
    assert pay_link in card.text.replace("&amp;", "&")
    form = cashier.get(pay_link)
    assert form.status_code == 200
    text = visible_text(form.text)
    assert "Интернет 15.00" in text and "31.10.2026" in text
    # the months needed are preselected; the second click only submits the form as it is
    selected = f'name="months_{subscription_id}"'
    assert selected in form.text and "selected" in form.text
    import re

    chosen = re.search(r'<option value="(\d+)" data-eur="([\d.]+)" selected', form.text)
    key = re.search(r'name="request_key" value="(\w+)"', form.text).group(1)
    method = re.search(r'<select name="method" class="form-control">\s*<option value="(\d+)"', form.text).group(1)
    data = {f"months_{subscription_id}": chosen.group(1), "currency": "EUR", "method": method, "request_key": key}
    response = cashier.submit(pay_link, data)
    assert response.status_code == 302
    with app.app_context():
        payment = db.session.query(Payment).one()
        assert payment.amount == Decimal(chosen.group(2))
        paid_until = db.session.get(Subscription, subscription_id).paid_until
        assert paid_until >= date(2026, 11, 30)
        assert payment.operator.username == "kasa1" and payment.method.code == "cash"
    page = cashier.get(response.headers["Location"])
    assert "Плащането е записано" in visible_text(page.text)
    # the same form sent again (a double click, a retry) records nothing new
    again = cashier.submit(pay_link, data)
    assert again.status_code == 302
    with app.app_context():
        assert db.session.query(Payment).count() == 1


def test_a_wrong_amount_is_refused_with_a_message_and_stores_nothing(app):
    client_id, _subscription_id = client_with_subscription(app)
    cashier = operator_browser(app, p.CASHIER, "kasa2")
    url = f"/payments/record/{client_id}"
    response = cashier.submit(url, {"amount": "-10", "currency": "EUR", "request_key": "k1"}, follow_redirects=True)
    assert "Сумата не може да е отрицателна" in visible_text(response.text)
    response = cashier.submit(url, {"amount": "", "currency": "EUR", "request_key": "k2"}, follow_redirects=True)
    assert "Въведете сума или изберете" in visible_text(response.text)
    with app.app_context():
        assert db.session.query(Payment).count() == 0


def test_technical_support_cannot_record_payments(app):
    client_id, _ = client_with_subscription(app)
    support = operator_browser(app, p.TECHNICAL_SUPPORT, "tech1")
    assert support.get(f"/payments/record/{client_id}").status_code == 403
    assert support.get("/payments/list/").status_code == 403
    card = support.get(f"/clients/show/{client_id}?tab=all").text
    assert f"/payments/record/{client_id}" not in card


def test_reversal_needs_its_right_and_a_reason_and_restores_paid_until(app, admin):
    client_id, subscription_id = client_with_subscription(app)
    cashier = operator_browser(app, p.CASHIER, "kasa3")
    cashier.submit(f"/payments/record/{client_id}", {f"months_{subscription_id}": "2", "currency": "EUR",
                                                    "request_key": "r1"})
    with app.app_context():
        payment_id = db.session.query(Payment.id).scalar()
        assert db.session.get(Subscription, subscription_id).paid_until == date(2027, 2, 28)
    show = f"/payments/show/{payment_id}"
    assert "Сторнирай плащането" not in cashier.get(show).text  # a cashier has no reversal right
    refused = cashier.submit(f"/payments/reverse/{payment_id}", {"reason": "опит"}, form_url=show,
                             follow_redirects=True)
    assert "Нямате право да сторнирате" in visible_text(refused.text)
    response = admin.submit(f"/payments/reverse/{payment_id}", {"reason": "Грешен клиент"}, form_url=show,
                            follow_redirects=True)
    assert "Плащането е сторнирано" in visible_text(response.text)
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).paid_until == date(2026, 12, 31)
        reversal = db.session.query(Payment).filter(Payment.reversal_of_id == payment_id).one()
        assert reversal.amount == Decimal("-30.00") and reversal.note == "Грешен клиент"
    page = visible_text(admin.get(show).text)
    assert "Сторнирано с плащане" in page and "Грешен клиент" in page


def test_payments_cannot_be_changed_through_the_panel_or_the_api(app, api):
    client_id, subscription_id = client_with_subscription(app)
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("PaymentView.")}
    assert not any(word in route for route in routes for word in ("/edit", "/delete", "/add", "/action"))
    created = api.post("/api/v1/payments/", json={"client": client_id, "periods": {str(subscription_id): 1}})
    assert created.status_code == 201, created.text
    payment_id = created.json["id"]
    assert created.json["result"]["amount"] == "15.00" or Decimal(str(created.json["result"]["amount"])) == 15
    assert api.put(f"/api/v1/payments/{payment_id}", json={"amount": "1.00"}).status_code == 405
    assert api.delete(f"/api/v1/payments/{payment_id}").status_code == 405
    listed = api.get("/api/v1/payments/")
    assert listed.status_code == 200 and listed.json["count"] == 1
    with app.app_context():
        assert db.session.get(Payment, payment_id).amount == Decimal("15.00")


def test_api_refuses_bad_amounts_and_repeats_nothing(app, api):
    client_id, _ = client_with_subscription(app)
    for amount in ("0", "-5", "1.234", "abc"):
        response = api.post("/api/v1/payments/", json={"client": client_id, "amount": amount})
        assert response.status_code == 422, amount
    assert api.post("/api/v1/payments/", json={"client": 999999, "amount": "5"}).status_code == 422
    first = api.post("/api/v1/payments/", json={"client": client_id, "amount": "15.00", "request_id": "abc-1"})
    again = api.post("/api/v1/payments/", json={"client": client_id, "amount": "15.00", "request_id": "abc-1"})
    assert first.status_code == 201 and again.status_code == 200 and first.json["id"] == again.json["id"]
    with app.app_context():
        assert db.session.query(Payment).count() == 1


def test_a_manager_cannot_record_through_the_api_without_the_right(app):
    client_id, _ = client_with_subscription(app)
    with app.app_context():
        make_operator(None, "mgr", p.MANAGER, username="mgr1")
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "mgr1", PASSWORD)
    assert api.get("/api/v1/payments/").status_code == 200
    response = api.post("/api/v1/payments/", json={"client": client_id, "amount": "5.00"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.query(Payment).count() == 0


def test_a_payment_making_a_suspended_subscription_current_reactivates_it(app, admin):
    with app.app_context():
        today = local_today()
    # paid until two months ago; three months make it current again
    paid_until, new_paid_until = month_end(add_months(today, -2)), month_end(add_months(today, 1))
    client_id, subscription_id = client_with_subscription(app, paid_until=paid_until, status="suspended")
    response = admin.submit(f"/payments/record/{client_id}", {f"months_{subscription_id}": "3", "currency": "BGN",
                                                             "request_key": "s1"})
    assert response.status_code == 302
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.paid_until == new_paid_until
        # no Redis in this test: the reactivation job ran in-process, at once
        assert subscription.status == "active"
        assert new_paid_until.strftime("%d.%m.%Y") in subscription.status_reason
        payment = db.session.query(Payment).one()
        assert (payment.currency, payment.amount, payment.amount_eur) == ("BGN", Decimal("88.01"), Decimal("45.00"))


def test_installation_fee_becomes_a_charge_on_the_card(app, admin):
    with app.app_context():
        client = make_client(None, "Нов Абонат")
        service = make_service("Интернет с инсталация")
        service.installation_fee = Decimal("30.00")
        db.session.commit()
        client_id, service_id = client.id, service.id
    response = admin.submit(f"/subscriptions/add?client={client_id}", {"client": client_id, "service": service_id})
    assert response.status_code == 302
    with app.app_context():
        charge = db.session.query(Charge).one()
        assert (charge.amount, charge.paid_by_id, charge.payment_type.code) == (Decimal("30.00"), None, "installation")
    card = visible_text(admin.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Инсталация: Интернет с инсталация" in card and "30,00 EUR" in card


def test_manual_charges_need_their_right(app):
    client_id, _ = client_with_subscription(app)
    cashier = operator_browser(app, p.CASHIER, "kasa4")
    assert cashier.get(f"/charges/add?client={client_id}").status_code == 403
    with app.app_context():
        from app.billing.models import PaymentType

        type_id = db.session.query(PaymentType.id).filter_by(code="other").scalar()
    boss = operator_browser(app, p.ADMINISTRATOR, "boss1")
    response = boss.submit(f"/charges/add?client={client_id}",
                           {"client": client_id, "description": "Смяна на рутер", "amount": "25,50", "currency": "BGN",
                            "payment_type": type_id})
    assert response.status_code == 302, visible_text(response.text)
    with app.app_context():
        charge = db.session.query(Charge).one()
        # typed in leva, owed in euro: 25,50 / 1,95583 = 13,038… → 13,04
        assert (charge.amount, charge.currency, charge.created_by.username) == (Decimal("13.04"), "EUR", "boss1")


def test_currency_rates_accept_only_usd(app, admin):
    response = admin.submit("/currencies/add", {"currency": "BGN", "valid_from": "2026-11-25", "rate": "2"},
                            follow_redirects=True)
    assert "Не е валиден избор" in visible_text(response.text)  # only USD is offered
    response = admin.submit("/currencies/add", {"currency": "USD", "valid_from": "2026-11-25", "rate": "-1"},
                            follow_redirects=True)
    assert "Това не е курс" in visible_text(response.text)
    with app.app_context():
        assert db.session.query(CurrencyRate).count() == 0
    admin.submit("/currencies/add", {"currency": "USD", "valid_from": "2026-11-25", "rate": "1,0850"},
                            follow_redirects=True)
    with app.app_context():
        rate = db.session.query(CurrencyRate).one()
        assert rate.rate == Decimal("1.085") and rate.valid_from == date(2026, 11, 25)
    listed = visible_text(admin.get("/currencies/list/").text)
    assert "25.11.2026" in listed and "1,0850" in listed


def test_a_request_id_of_another_clients_payment_shows_nothing_of_it(app, api):
    first_id, _ = client_with_subscription(app)
    with app.app_context():
        other_id = make_client(None, "Друг Клиент").id
    assert api.post("/api/v1/payments/", json={"client": first_id, "amount": "5.00",
                                               "request_id": "shared-7"}).status_code == 201
    response = api.post("/api/v1/payments/", json={"client": other_id, "amount": "5.00", "request_id": "shared-7"})
    assert response.status_code == 422 and "Георги Касов" not in response.text
    too_long = api.post("/api/v1/payments/", json={"client": other_id, "amount": "5.00", "note": "х" * 501})
    assert too_long.status_code == 422
    with app.app_context():
        assert db.session.query(Payment).count() == 1


def test_the_payment_list_stops_counting_at_the_cap(app, admin, monkeypatch):
    import app.core.views as core_views

    client_id, _ = client_with_subscription(app)
    for number in range(5):
        admin.submit(f"/payments/record/{client_id}",
                     {"amount": "1.00", "currency": "EUR", "request_key": f"c{number}"})
    assert "Брой записи: 5" in visible_text(admin.get("/payments/list/").text)
    monkeypatch.setattr(core_views, "COUNT_CAP", 3)
    page = visible_text(admin.get("/payments/list/?psize_PaymentView=2").text)
    assert "Брой записи: над 3" in page
    assert page.count("1,00 EUR") == 2  # the page itself is still its two rows


def test_a_dealers_cashier_reaches_no_other_dealers_client_or_payment(app):
    from tests.factories import make_dealer, make_payment

    with app.app_context():
        alpha, beta = make_dealer("Алфа"), make_dealer("Бета")
        make_operator(alpha, "kasa-alfa", p.DEALER_ADMINISTRATOR, username="alfa1")
        foreign = make_client(beta, "Чужд Клиент")
        foreign_id, payment_id = foreign.id, make_payment(foreign, amount="10.00").id
    cashier = Browser(app)
    cashier.login("alfa1", PASSWORD)
    assert cashier.get(f"/payments/record/{foreign_id}").status_code == 404
    assert cashier.get(f"/payments/receipt/{payment_id}").status_code == 404
    own_form = "/resetmypassword/form"  # any page of theirs with a CSRF token
    forged = cashier.submit(f"/payments/reverse/{payment_id}", {"reason": "чужд"}, form_url=own_form)
    assert forged.status_code == 404
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "alfa1", PASSWORD)
    response = api.post("/api/v1/payments/", json={"client": foreign_id, "amount": "5.00"})
    assert response.status_code == 422
    assert api.post(f"/api/v1/payments/{payment_id}/reverse", json={"reason": "чужд"}).status_code == 404
    with app.app_context():
        assert db.session.query(Payment).count() == 1
        assert db.session.query(Payment).filter(Payment.reversal_of_id.is_not(None)).count() == 0


def test_a_charge_made_by_mistake_is_cancelled_with_a_reason_not_deleted(app):
    from app.billing.charges import add_charge, client_due

    client_id, _ = client_with_subscription(app)
    with app.app_context():
        client = db.session.get(Client, client_id)
        charge_id = add_charge(client, "Грешна такса", "9.00", type_code="other").id
        paid_id = add_charge(client, "Платена такса", "4.00", type_code="other").id
        db.session.commit()
        from tests.factories import make_payment

        make_payment(client, charge_ids=[paid_id])
    cashier = operator_browser(app, p.CASHIER, "kasa5")
    show = f"/charges/show/{charge_id}"
    assert "Анулирай задължението" not in cashier.get(show).text
    refused = cashier.submit(f"/charges/cancel/{charge_id}", {"reason": "опит"}, form_url="/resetmypassword/form",
                             follow_redirects=True)
    assert "Нямате право да добавяте задължения" in visible_text(refused.text)
    boss = operator_browser(app, p.ADMINISTRATOR, "boss2")
    response = boss.submit(f"/charges/cancel/{charge_id}", {"reason": "Двойно начислена"}, form_url=show,
                           follow_redirects=True)
    assert "Задължението е анулирано" in visible_text(response.text)
    any_form = "/resetmypassword/form"  # the charge page offers no cancelling for a paid or cancelled charge
    paid = boss.submit(f"/charges/cancel/{paid_id}", {"reason": "опит"}, form_url=any_form, follow_redirects=True)
    assert "първо сторнирайте плащането" in visible_text(paid.text)
    with app.app_context():
        charge = db.session.get(Charge, charge_id)
        assert charge.cancel_reason == "Двойно начислена" and charge.cancelled_by.username == "boss2"
        assert db.session.get(Charge, paid_id).cancelled_at is None
        assert client_due(db.session.get(Charge, charge_id).client).charges == []
    # the same form again changes nothing more
    again = boss.submit(f"/charges/cancel/{charge_id}", {"reason": "пак"}, form_url=any_form, follow_redirects=True)
    assert "вече е анулирано" in visible_text(again.text)
    chosen = boss.submit(f"/payments/record/{client_id}", {"charge": str(charge_id), "currency": "EUR",
                                                              "request_key": "cc1"}, follow_redirects=True)
    assert "Избрано задължение е анулирано" in visible_text(chosen.text)


def test_a_payment_is_reversed_through_the_api_with_the_panels_right_and_rules(app, api):
    last_month_end = date(2026, 11, 30)
    client_id, subscription_id = client_with_subscription(app, paid_until=last_month_end)
    paid = api.post("/api/v1/payments/", json={"client": client_id, "periods": {str(subscription_id): 2}})
    assert paid.status_code == 201, paid.text
    payment_id = paid.json["id"]
    with app.app_context():
        make_operator(None, "каса", p.CASHIER, username="cashier")
    cashier = app.test_client()
    cashier.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(cashier, "cashier", PASSWORD)
    url = f"/api/v1/payments/{payment_id}/reverse"
    assert cashier.post(url, json={"reason": "опит"}).status_code == 403  # a cashier may not reverse

    refused = api.post(url, json={"reason": "  "})
    assert refused.status_code == 422 and refused.json["message"] == {"reason": ["Посочете защо плащането се сторнира."]}
    reversed_ = api.post(url, json={"reason": "Грешен клиент"})
    assert reversed_.status_code == 201, reversed_.text
    assert reversed_.json["result"]["amount"] == "-30.00" and reversed_.json["result"]["reversal_of"]["id"] == payment_id
    again = api.post(url, json={"reason": "Пак"})
    assert again.status_code == 422 and again.json["message"] == {"reason": ["Това плащане вече е сторнирано."]}
    assert api.post("/api/v1/payments/999999/reverse", json={"reason": "няма го"}).status_code == 404
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).paid_until == last_month_end
        assert db.session.query(Payment).filter(Payment.reversal_of_id == payment_id).count() == 1


def test_after_a_payment_the_receipt_is_at_the_top_and_the_reversal_apart_with_its_confirmation(app, admin):
    from app.invoices.models import Invoice

    client_id, subscription_id = client_with_subscription(app)
    admin.submit(f"/payments/record/{client_id}", {f"months_{subscription_id}": "1", "currency": "EUR",
                                                  "request_key": "top-1"})
    with app.app_context():
        payment_id = db.session.query(Payment.id).scalar()
        invoice_id = db.session.query(Invoice.id).filter_by(payment_id=payment_id).scalar()
    html = admin.get(f"/payments/show/{payment_id}").text
    receipt, table = html.index(f"/payments/receipt/{payment_id}"), html.index("Платено на")
    reverse = html.index(f"/payments/reverse/{payment_id}")
    # The receipt (and the invoice) come before the record's table; the reversal after the table, in its own panel.
    assert receipt < table < reverse
    assert html.index("Сторнирай плащането") > html.index("Какво плати")
    assert f'data-confirm="Да се сторнира ли плащане № {payment_id} за 15,00 EUR? Това не може да бъде отменено."' \
        in html
    top = visible_text(html[:table])
    assert "Разписка (PDF)" in top and "Към клиента" in top and "15,00 EUR" in top
    if invoice_id is None:
        issued = admin.submit(f"/payments/invoice/{payment_id}", {}, form_url=f"/payments/show/{payment_id}")
        invoice_id = int(issued.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    html = admin.get(f"/invoices/show/{invoice_id}").text
    table = html.index("Дата на издаване")
    assert html.index(f"/invoices/pdf/{invoice_id}") < table
    assert f"/payments/show/{payment_id}" in html[:table] and "Печат (PDF)" in visible_text(html[:table])
