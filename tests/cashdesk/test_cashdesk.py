"""The cash desk page: a day's takings per operator, who may see whose, and closing the day."""
import json
import re
from datetime import timedelta

import pytest

from app.billing.charges import payment_method
from app.billing.services import reverse_payment
from app.cashdesk.models import CashDeskClosing
from app.collectors.models import PaymentCollector
from app.collectors.services import collector_actor
from app.core.formatting import local_today
from app.dealers.models import Dealer
from app.extensions import db
from app.security import permissions
from app.security.models import Operator
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_payment

PASSWORD = "operator-pass-123"
CASHIER = permissions.CASHIER
DEALER_ADMINISTRATOR = permissions.DEALER_ADMINISTRATOR
TECHNICAL_SUPPORT = permissions.TECHNICAL_SUPPORT


@pytest.fixture
def grant(app):
    """Gives a role a permission for one test; takes back only what the role did not have."""
    added = []

    def give(role_name, permission, view_menu):
        with app.app_context():
            security = app.appbuilder.sm
            permission_view = security.add_permission_view_menu(permission, view_menu)
            role = security.find_role(role_name)
            if permission_view not in role.permissions:
                security.add_permission_role(role, permission_view)
                added.append((role_name, permission, view_menu))

    yield give
    with app.app_context():
        security = app.appbuilder.sm
        for role_name, permission, view_menu in added:
            security.del_permission_role(security.find_role(role_name),
                                         security.find_permission_view_menu(permission, view_menu))


@pytest.fixture
def desk_roles(grant):
    """What ROLE_DEFAULTS gives: the page to cashiers and dealer administrators, all desks to the latter."""
    for role_name in (CASHIER, DEALER_ADMINISTRATOR):
        grant(role_name, "can_list", "CashDesk")
    grant(DEALER_ADMINISTRATOR, *permissions.RIGHTS[permissions.SEE_ALL_CASH_DESKS])


def today(app):
    with app.app_context():
        return local_today()


def logged_in(app, operator):
    browser = Browser(app)
    browser.login(operator.username, PASSWORD)
    return browser


def page_text(browser, url):
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return visible_text(response.text)


def test_totals_by_method_and_currency(app, admin, desk_roles):
    with app.app_context():
        dealer = make_dealer("Алфа")
        operator = make_operator(dealer, "каса", DEALER_ADMINISTRATOR)
        client = make_client(dealer, "Иван Петров")
        make_payment(client, operator=operator, amount="10.00")
        make_payment(client, operator=operator, amount="20.50")
        make_payment(client, operator=operator, amount="19.56", currency="BGN")
        make_payment(client, operator=operator, amount="100.00", method=payment_method("bank"))
        wrong = make_payment(client, operator=operator, amount="5.00")
        reverse_payment(operator, wrong, "Грешна сума")
        yesterday = make_payment(client, operator=operator, amount="777.00")
        yesterday.paid_at -= timedelta(days=1)
        db.session.commit()
        operator_id, reversed_id = operator.id, wrong.id

    text = page_text(admin, f"/cashdesk/?operator={operator_id}")
    assert f"Оператор-каса Дилър Алфа — {today(app):%d.%m.%Y}" in text
    # cash EUR: 10 + 20,50 + 5 − 5 in four payments
    assert "В брой EUR 4 30,50 EUR" in text
    assert "В брой BGN 1 19,56 BGN" in text
    assert "Банков превод EUR 1 100,00 EUR" in text
    assert "Общо в евро: 140,50 EUR" in text  # 30,50 + 10,00 (the leva) + 100
    assert f"Сторно на плащане № {reversed_id}" in text and "-5,00 EUR" in text
    assert "777,00" not in text

    earlier = (today(app) - timedelta(days=1)).isoformat()
    text = page_text(admin, f"/cashdesk/?operator={operator_id}&day={earlier}")
    assert "В брой EUR 1 777,00 EUR" in text and "20,50" not in text


def test_a_cashier_sees_only_their_own_desk(app, desk_roles):
    with app.app_context():
        dealer = make_dealer("Алфа")
        own = make_operator(dealer, "своя", CASHIER)
        other = make_operator(dealer, "чужда", CASHIER)
        make_payment(make_client(dealer, "Мария Своя"), operator=own, amount="11.00")
        make_payment(make_client(dealer, "Георги Чужд"), operator=other, amount="22.00")
        other_id = other.id
        browser = logged_in(app, own)

    text = page_text(browser, f"/cashdesk/?operator={other_id}")
    assert "Мария Своя" in text and "11,00 EUR" in text
    assert "Георги Чужд" not in text and "22,00" not in text
    assert "Оператор-чужда" not in text  # no operator choice either

    # Nor can the cashier close the other desk by a forged form.
    response = browser.submit("/cashdesk/close", {"operator": other_id, "day": today(app).isoformat()},
                              form_url="/cashdesk/")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.query(CashDeskClosing).count() == 0


def test_without_the_cash_balance_right_the_page_is_forbidden(app, grant):
    grant(TECHNICAL_SUPPORT, "can_list", "CashDesk")  # the page is open; the right is what is missing
    with app.app_context():
        browser = logged_in(app, make_operator(make_dealer("Алфа"), "техника", TECHNICAL_SUPPORT))
    assert browser.get("/cashdesk/").status_code == 403


def test_a_dealer_sees_its_own_operators_and_no_other_dealers(app, desk_roles):
    with app.app_context():
        alfa, beta = make_dealer("Алфа"), make_dealer("Бета")
        manager = make_operator(alfa, "шеф", DEALER_ADMINISTRATOR)
        colleague = make_operator(alfa, "колега", CASHIER)
        stranger = make_operator(beta, "външен", CASHIER)
        make_payment(make_client(alfa, "Клиент Алфа"), operator=colleague, amount="12.00")
        make_payment(make_client(beta, "Клиент Бета"), operator=stranger, amount="34.00")
        colleague_id, stranger_id = colleague.id, stranger.id
        browser = logged_in(app, manager)

    text = page_text(browser, f"/cashdesk/?operator={colleague_id}")
    assert "Клиент Алфа" in text and "12,00 EUR" in text
    assert "Оператор-колега" in text and "Оператор-външен" not in text
    assert browser.get(f"/cashdesk/?operator={stranger_id}").status_code == 404
    response = browser.submit("/cashdesk/close", {"operator": stranger_id, "day": today(app).isoformat()},
                              form_url="/cashdesk/")
    assert response.status_code == 404


def test_collector_payments_form_a_desk_of_their_own(app, admin):
    with app.app_context():
        collector = PaymentCollector(code="epay", name="еПей", secret="s", method=payment_method("epay"))
        db.session.add(collector)
        db.session.commit()
        make_payment(make_client(None, "Платил онлайн"), collector_actor(collector), amount="15.00",
                     method=payment_method("epay"))
        collector_id = collector.id

    assert "Платил онлайн" not in page_text(admin, "/cashdesk/")
    text = page_text(admin, f"/cashdesk/?collector={collector_id}")
    assert "Платил онлайн" in text and "15,00 EUR" in text and "Приключи деня" not in text


def closings(app):
    with app.app_context():
        return [(c.day, json.loads(c.totals)) for c in db.session.query(CashDeskClosing)]


def test_closing_the_day_keeps_a_snapshot_once(app, desk_roles):
    with app.app_context():
        dealer = make_dealer("Алфа")
        cashier = make_operator(dealer, "каса", CASHIER)
        client = make_client(dealer, "Иван Петров")
        make_payment(client, operator=cashier, amount="10.00")
        make_payment(client, operator=cashier, amount="19.56", currency="BGN")
        cashier_id = cashier.id
        browser = logged_in(app, cashier)
    day = today(app)
    form = {"operator": cashier_id, "day": day.isoformat()}

    assert "Приключи деня" in page_text(browser, "/cashdesk/")
    response = browser.submit("/cashdesk/close", form, form_url="/cashdesk/", follow_redirects=True)
    text = visible_text(response.text)
    assert "Денят е приключен." in text
    assert re.search(r"Денят е приключен от Оператор-каса Дилър Алфа на \d\d\.\d\d\.\d{4} \d\d:\d\d", text)
    assert closings(app) == [(day, [
        {"method": "В брой", "currency": "BGN", "count": 1, "total": "19.56"},
        {"method": "В брой", "currency": "EUR", "count": 1, "total": "10.00"},
    ])]

    # The close button is gone; a second close from a stale page says so and stores nothing.
    assert "Приключи деня" not in page_text(browser, "/cashdesk/")
    yesterday_page = f"/cashdesk/?day={day - timedelta(days=1):%Y-%m-%d}"
    response = browser.submit("/cashdesk/close", form, form_url=yesterday_page, follow_redirects=True)
    assert "Този ден вече е приключен." in visible_text(response.text)
    assert len(closings(app)) == 1

    tomorrow = {"operator": cashier_id, "day": (day + timedelta(days=1)).isoformat()}
    response = browser.submit("/cashdesk/close", tomorrow, form_url=yesterday_page, follow_redirects=True)
    assert "Ден, който още не е настъпил, не може да бъде приключен." in visible_text(response.text)
    assert len(closings(app)) == 1


def test_payments_after_closing_are_shown_with_the_difference(app, desk_roles):
    with app.app_context():
        dealer = make_dealer("Алфа")
        cashier = make_operator(dealer, "каса", CASHIER)
        client = make_client(dealer, "Иван Петров")
        make_payment(client, operator=cashier, amount="10.00")
        browser = logged_in(app, cashier)
        dealer_id, cashier_id = dealer.id, cashier.id
    browser.submit("/cashdesk/close", {"operator": cashier_id, "day": today(app).isoformat()},
                   form_url="/cashdesk/")
    assert "след приключването" not in page_text(browser, "/cashdesk/")

    with app.app_context():
        late = make_client(db.session.get(Dealer, dealer_id), "Закъснял Клиент")
        make_payment(late, operator=db.session.get(Operator, cashier_id), amount="7.25")
    text = page_text(browser, "/cashdesk/")
    assert "Плащания са записани след приключването на деня." in text
    assert "В брой, EUR: +1 (7,25 EUR)" in text
    assert "В брой EUR 2 17,25 EUR" in text  # now
    assert "В брой EUR 1 10,00 EUR" in text  # at closing


def test_the_page_is_bulgarian(app, admin):
    from tests.core.test_i18n import latin_words

    with app.app_context():
        client = make_client(None, "Иван Петров")
        wrong = make_payment(client, amount="5.00", currency="BGN")
        reverse_payment(db.session.get(Operator, wrong.operator_id), wrong, "Грешка")
        db.session.commit()
        admin_id = wrong.operator_id
    admin.submit("/cashdesk/close", {"operator": admin_id, "day": today(app).isoformat()}, form_url="/cashdesk/")
    with app.app_context():
        make_payment(make_client(None, "Късен Клиент"), amount="3.00")
    text = page_text(admin, "/cashdesk/")
    assert "Плащания са записани след приключването на деня." in text and "Сторно на плащане" in text
    # Currency codes are how amounts are written in Bulgarian too; a PDF is a PDF.
    assert latin_words(text) - {"EUR", "BGN", "PDF"} == set(), text


def test_the_closed_days_handover_record_prints_as_a_pdf(app, desk_roles, tmp_path):
    import shutil
    import subprocess

    with app.app_context():
        dealer = make_dealer("Алфа")
        cashier = make_operator(dealer, "каса", CASHIER)
        client = make_client(dealer, "Иван Петров")
        make_payment(client, operator=cashier, amount="10.00")
        make_payment(client, operator=cashier, amount="19.56", currency="BGN")
        cashier_id = cashier.id
        browser = logged_in(app, cashier)
    day = today(app)
    handover = f"/cashdesk/handover?operator={cashier_id}&day={day:%d.%m.%Y}"
    # Not closed yet: nothing to sign, and the page says why.
    response = browser.get(handover, follow_redirects=True)
    assert "Първо приключете деня" in visible_text(response.text)
    page = browser.get("/cashdesk/").text
    assert 'data-confirm="Да се приключи ли денят на Оператор-каса Дилър Алфа' in page  # asked before closing
    browser.submit("/cashdesk/close", {"operator": cashier_id, "day": day.isoformat(), "note": "Предадено на Мария"},
                   form_url="/cashdesk/")
    assert "Протокол за предаване (PDF)" in page_text(browser, "/cashdesk/")
    # A payment after the closing does not change the signed paper.
    with app.app_context():
        late_cashier = db.session.get(Operator, cashier_id)
        make_payment(make_client(db.session.get(Dealer, late_cashier.dealer_id), "Късен"), operator=late_cashier,
                     amount="5.00")
    response = browser.get(handover)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is needed to read the PDF back")
    pdf = tmp_path / "handover.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "ПРОТОКОЛ ЗА ПРЕДАВАНЕ НА КАСАТА" in text and f"за {day:%d.%m.%Y}" in text
    assert "Оператор-каса Дилър Алфа" in text and "Предадено на Мария" in text
    assert "19,56 BGN" in text and "10,00 EUR" in text and "5,00 EUR" not in text
    assert "Общо: 19,56 BGN + 10,00 EUR (2 плащания)" in text and "Предал:" in text and "Приел:" in text
    # Another dealer's operator gets nothing.
    with app.app_context():
        stranger = make_operator(make_dealer("Бета"), "каса", CASHIER)
        stranger_browser = logged_in(app, stranger)
    assert stranger_browser.get(handover).status_code == 404


def test_each_row_of_the_desk_and_of_my_latest_actions_opens_its_payment_and_reprints_its_receipt(app, desk_roles):
    with app.app_context():
        alfa, beta = make_dealer("Алфа"), make_dealer("Бета")
        cashier = make_operator(alfa, "своя", CASHIER)
        stranger = make_operator(beta, "външен", CASHIER)
        own = make_payment(make_client(alfa, "Мария Своя"), operator=cashier, amount="11.00")
        other = make_payment(make_client(beta, "Георги Чужд"), operator=stranger, amount="22.00")
        own_id, other_id, client_id = own.id, other.id, own.client_id
        browser = logged_in(app, cashier)

    desk = browser.get("/cashdesk/").text
    for address in (f'href="/payments/show/{own_id}"', f'href="/payments/receipt/{own_id}"'):
        assert address in desk
    assert "Разписка" in visible_text(desk)
    receipt = browser.get(f"/payments/receipt/{own_id}")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert f"/payments/receipt/{own_id}" in browser.get(f"/payments/show/{own_id}").text
    # Another dealer's payment is not reached by changing the number.
    assert browser.get(f"/payments/show/{other_id}").status_code == 404
    assert browser.get(f"/payments/receipt/{other_id}").status_code == 404

    # The payment recorded from the panel is among "my latest actions" on the home page, as a link to it.
    answer = browser.submit(f"/payments/record/{client_id}", {"amount": "7.00", "currency": "EUR",
                                                              "request_key": "latest-1"})
    assert answer.status_code == 302
    home = browser.get("/").text
    latest = home[home.index("Последните ми действия"):]
    assert re.search(r'href="/payments/show/\d+"', latest), visible_text(latest)[:400]
    assert "/payments/show/" + str(other_id) + '"' not in latest
