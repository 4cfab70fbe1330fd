"""EasyPay's payment code: the portal registers the bill with ePay.bg's reg_bill.cgi (here a real HTTP server in a
thread standing in for it), shows the 10-digit IDN with how to pay, gives the same code to a second click without a
second registration, and ePay.bg's notification of the code's INVOICE records the payment as any other."""
import base64
import hashlib
import hmac
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import Payment
from app.clients.models import Client
from app.core.errors import FieldErrors
from app.epay.models import EpayRequest
from app.epay.services import easypay_code
from app.extensions import db
from app.portal.services import subscriber_actor
from tests.conftest import Browser, app_config, migrate_and_prepare, visible_text
from tests.core.test_migrations import fresh_postgres_database
from tests.epay.test_web_merchant import KIN, SECRET, configure, notification, notify, paid_line
from tests.factories import make_operator
from tests.portal.helpers import portal_login
from tests.portal.test_pay import debtor


class RegBill:
    """ePay.bg's reg_bill.cgi on 127.0.0.1: records every GET and answers `answer` (text/plain)."""

    def __init__(self):
        self.calls, self.answer, self.delay = [], "IDN=1234567890", 0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                registry.calls.append((parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}))
                time.sleep(registry.delay)
                body = registry.answer.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/ezp/reg_bill.cgi"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def reg_bill(app):
    server = RegBill()
    app.config["EASYPAY_URL"] = server.url
    app.config["EASYPAY_TIMEOUT"] = 5
    yield server
    server.close()


def decoded(params):
    """ENCODED as ePay.bg reads it, after checking CHECKSUM the way ePay.bg does (HMAC-SHA1 of the base64 text)."""
    assert params["CHECKSUM"] == hmac.new(SECRET.encode(), params["ENCODED"].encode(), hashlib.sha1).hexdigest()
    return dict(line.split("=", 1) for line in base64.b64decode(params["ENCODED"]).decode("utf-8").splitlines())


def ask_code(browser, what="due"):
    return browser.submit("/my/pay/easypay", {"what": what, "page": "paylogin"}, form_url="/my/pay")


def count(model, *conditions):
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_the_code_is_registered_once_shown_with_how_to_pay_and_its_payment_is_recorded(app, browser, reg_bill):
    with app.app_context():
        configure()
        client_id, number = debtor()
    portal_login(browser, number)
    assert "Код за плащане в EasyPay" in visible_text(browser.get("/my/pay").text)

    page = ask_code(browser)
    assert page.status_code == 200, page.text
    text = visible_text(page.text)
    assert "1234567890" in text and "Вашият код за плащане (IDN)" in text and "10,00 EUR" in text
    assert "Кажете, че плащате с код за плащане (IDN) през ePay.bg" in text and "Платете 10,00 EUR в брой" in text

    [(path, params)] = reg_bill.calls
    assert path == "/ezp/reg_bill.cgi" and set(params) == {"ENCODED", "CHECKSUM"}
    data = decoded(params)
    assert data["MIN"] == KIN and data["AMOUNT"] == "10.00" and data["DESCR"] == f"Плащане за абонат № {number}"
    assert data["INVOICE"].isdigit() and len(data["EXP_TIME"]) == 16
    with app.app_context():
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.client_id, request.invoice, request.idn, request.amount) == \
            (client_id, data["INVOICE"], "1234567890", Decimal("10.00"))

    # A second click (another code would be ePay.bg's answer now) gives the same code: no second registration.
    reg_bill.answer = "IDN=9999999999"
    again = ask_code(browser)
    assert again.status_code == 200 and "1234567890" in again.text and "9999999999" not in again.text
    assert len(reg_bill.calls) == 1
    listed = visible_text(browser.get("/my/pay").text)
    assert "Вашите кодове за плащане, които чакат плащане: 1234567890 · 10,00 EUR · валиден до" in listed
    with app.app_context():
        assert count(EpayRequest) == 1

    # Paid at an EasyPay desk: ePay.bg's usual notification of the INVOICE.
    assert notify(app, notification(paid_line(data["INVOICE"]))).strip() == f"INVOICE={data['INVOICE']}:STATUS=OK"
    with app.app_context():
        payment = db.session.scalars(select(Payment)).one()
        assert (payment.client_id, payment.amount) == (client_id, Decimal("10.00"))
    after = visible_text(browser.get("/my/pay").text)
    assert "1234567890" not in after and "Днес нищо не се дължи." in after


def test_another_client_s_code_is_neither_listed_nor_given(app, browser, reg_bill):
    with app.app_context():
        configure()
        _own_id, own_number = debtor("Свой Платец")
        _other_id, other_number = debtor("Чужд Платец")
    other = Browser(app, "192.0.2.61")
    portal_login(other, other_number)
    assert "1234567890" in ask_code(other).text
    portal_login(browser, own_number)
    assert "1234567890" not in browser.get("/my/pay").text
    reg_bill.answer = "IDN=4444444444"
    mine = ask_code(browser)  # the same amount, but another client's: a code of its own
    assert "4444444444" in mine.text and "1234567890" not in mine.text
    assert len(reg_bill.calls) == 2


def test_another_amount_gets_a_code_of_its_own(app, browser, reg_bill):
    with app.app_context():
        configure()
        _client_id, number = debtor()
    portal_login(browser, number)
    assert ask_code(browser, "due").status_code == 200
    reg_bill.answer = "IDN=2222222222"
    second = ask_code(browser, "next")
    assert second.status_code == 200 and "2222222222" in second.text
    assert [decoded(params)["AMOUNT"] for _path, params in reg_bill.calls] == ["10.00", "20.00"]


@pytest.mark.parametrize("answer", ["ERR=Invalid checksum", "ERR=Няма такъв търговец", "", "IDN=12345", "<html>"])
def test_a_refusal_shows_a_bulgarian_message_and_stores_nothing(app, browser, reg_bill, answer):
    with app.app_context():
        configure()
        _client_id, number = debtor()
        entries = count(LogEntry)
    portal_login(browser, number)
    reg_bill.answer = answer
    page = ask_code(browser)
    assert page.status_code == 503
    assert "ePay.bg не издаде код за плащане в момента. Опитайте отново по-късно или платете онлайн с карта." \
        in visible_text(page.text)
    assert len(reg_bill.calls) == 1
    with app.app_context():
        assert count(EpayRequest) == 0 and count(Payment) == 0
        assert count(LogEntry, LogEntry.operation == LogEntry.COLLECTOR) == 0
        assert count(LogEntry) == entries + 1  # the login only
    # Once ePay.bg answers again, the code comes, with no trace of the refused attempt.
    reg_bill.answer = "IDN=3333333333"
    assert "3333333333" in ask_code(browser).text


def test_no_answer_at_all_is_the_same_message(app, browser):
    with app.app_context():
        configure()
        _client_id, number = debtor()
    closed = RegBill()
    closed.close()  # nothing listens there any more
    app.config["EASYPAY_URL"], app.config["EASYPAY_TIMEOUT"] = closed.url, 2
    portal_login(browser, number)
    page = ask_code(browser)
    assert page.status_code == 503 and "ePay.bg не издаде код" in page.text
    with app.app_context():
        assert count(EpayRequest) == 0


def test_only_for_one_s_own_account_and_not_for_an_operator_without_the_right(app, reg_bill):
    with app.app_context():
        configure()
        own_id, _ = debtor("Свой Платец")
        other_id, _ = debtor("Чужд Платец")
        own, other = db.session.get(Client, own_id), db.session.get(Client, other_id)
        with pytest.raises(FieldErrors):
            easypay_code(subscriber_actor(own), other, "10.00")
        with pytest.raises(FieldErrors):
            easypay_code(make_operator(None, "tech", "Техник"), own, "10.00")
        assert reg_bill.calls == [] and count(EpayRequest) == 0
        assert easypay_code(subscriber_actor(own), own, "10.00").idn == "1234567890"


def test_the_office_card_marks_the_payments_started_and_paid_online(app, admin, browser, reg_bill):
    with app.app_context():
        configure()
        client_id, number = debtor()
    portal_login(browser, number)
    ask_code(browser)
    answer = browser.submit("/my/pay", {"what": "next", "page": "credit_paydirect"})
    invoice = decoded_invoice(answer.text)
    notify(app, notification(paid_line(invoice)))
    line = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "онлайн плащания (ePay.bg): започнати 2, платени 1, кодове за EasyPay: 1; последно започнато" in line


def decoded_invoice(html):
    from tests.portal.test_pay import hidden_fields
    fields = hidden_fields(html)
    return dict(line.split("=", 1) for line in base64.b64decode(fields["ENCODED"]).decode().splitlines())["INVOICE"]


@pytest.mark.once
def test_simultaneous_clicks_register_one_code_on_postgresql():
    """Five clicks at once (a phone's double tap, two tabs): one registration at ePay.bg, one code for all."""
    app = create_app(app_config(fresh_postgres_database("billing_easypay_test")))
    migrate_and_prepare(app)
    server = RegBill()
    server.delay = 0.5  # ePay.bg takes its time: the others arrive while the first waits for it
    app.config["EASYPAY_URL"] = server.url
    try:
        with app.app_context():
            configure()
            _client_id, number = debtor()
        browsers = [Browser(app, f"192.0.2.{40 + index}") for index in range(5)]
        tokens = []
        for browser in browsers:
            portal_login(browser, number)
            tokens.append(browser.csrf_token("/my/pay"))
        barrier, answers = threading.Barrier(len(browsers)), [None] * len(browsers)

        def click(index):
            barrier.wait()
            response = browsers[index].client.post("/my/pay/easypay", data={
                "csrf_token": tokens[index], "what": "due", "page": "paylogin"})
            answers[index] = (response.status_code, "1234567890" in response.text)

        threads = [threading.Thread(target=click, args=(index,)) for index in range(len(browsers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [(200, True)] * len(browsers)
        assert len(server.calls) == 1
        with app.app_context():
            assert count(EpayRequest) == 1
    finally:
        server.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
