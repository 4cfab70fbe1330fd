"""Paying online from the portal: the subscriber picks an amount the page shows, the portal makes the ePay.bg
payment request for that client (app.epay) and hands the browser the form for ePay.bg; ePay.bg's
notification then records the payment, and the portal shows nothing owed."""
import base64
import hashlib
import hmac
import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.billing.models import Payment
from app.billing.periods import add_months, month_end
from app.clients.models import Client
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.epay.models import EpayRequest
from app.epay.services import start_online_payment
from app.extensions import db
from app.portal.services import demo_password, subscriber_actor
from tests.conftest import visible_text
from tests.epay.test_web_merchant import KIN, SECRET, configure, notification, notify, paid_line
from tests.factories import make_client, make_service, make_subscription
from tests.portal.helpers import PASSWORD, portal_login


def debtor(name="Платец Онлайн"):
    """An individual owing one month (10,00 EUR) of a service suspended at the end of last month."""
    client = make_client(None, name, email="payer@example.bg")
    make_subscription(client, make_service(f"Интернет {name}", monthly_fee="10.00"), status="suspended",
                      activation_date=date(2026, 1, 1), paid_until=month_end(add_months(local_today(), -1)))
    demo_password(client, PASSWORD)
    db.session.commit()
    return client.id, client.client_number


def hidden_fields(html):
    return {name: unescape(value) for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)}


def test_the_subscriber_pays_what_is_due_through_epay_and_the_portal_shows_it_paid(app, browser):
    with app.app_context():
        configure()
        client_id, number = debtor()
    portal_login(browser, number)
    page = browser.get("/my/pay")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Дължимото днес: 10,00 EUR" in text and "Продължи към ePay.bg" in text

    answer = browser.submit("/my/pay", {"what": "due", "page": "credit_paydirect"})
    assert answer.status_code == 200, answer.text
    assert 'action="https://demo.epay.bg/"' in answer.text
    fields = hidden_fields(answer.text)
    assert fields["PAGE"] == "credit_paydirect"
    # The checksum as ePay.bg checks it, computed here from the secret word and the ENCODED text.
    assert fields["CHECKSUM"] == hmac.new(SECRET.encode(), fields["ENCODED"].encode(), hashlib.sha1).hexdigest()
    data = dict(line.split("=", 1) for line in base64.b64decode(fields["ENCODED"]).decode().splitlines())
    assert data["MIN"] == KIN and data["AMOUNT"] == "10.00" and data["CURRENCY"] == "EUR"
    assert fields["URL_OK"].endswith("/my/pay?result=ok")
    with app.app_context():
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.client_id, request.amount, request.invoice) == (client_id, Decimal("10.00"), data["INVOICE"])
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0  # a request records nothing

    assert notify(app, notification(paid_line(data["INVOICE"]))).strip() == f"INVOICE={data['INVOICE']}:STATUS=OK"
    with app.app_context():
        payment = db.session.scalars(select(Payment)).one()
        assert (payment.client_id, payment.amount) == (client_id, Decimal("10.00"))
    back = visible_text(browser.get("/my/pay?result=ok").text)
    assert "ePay.bg ще ни извести" in back and "Днес нищо не се дължи." in back
    assert "Дължимото днес:" not in back  # only the next payment is offered now


def test_an_amount_the_page_does_not_offer_is_refused_and_no_request_is_made(app, browser):
    with app.app_context():
        configure()
        _client_id, number = debtor()
    portal_login(browser, number)
    for what in ("1000", "", "next-but-wrong"):
        refused = browser.submit("/my/pay", {"what": what, "page": "credit_paydirect"})
        assert refused.status_code == 422 and "Изберете какво да платите." in refused.text
    refused = browser.submit("/my/pay", {"what": "due", "page": "somewhere-else"})
    assert refused.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EpayRequest)) == 0


def test_a_subscriber_may_ask_to_pay_for_their_own_account_only(app):
    with app.app_context():
        configure()
        own_id, _ = debtor("Свой Платец")
        other_id, _ = debtor("Чужд Платец")
        own, other = db.session.get(Client, own_id), db.session.get(Client, other_id)
        actor = subscriber_actor(own)
        assert start_online_payment(actor, own, "10.00").request.client_id == own_id
        with pytest.raises(FieldErrors):
            start_online_payment(actor, other, "10.00")
        assert db.session.scalar(select(func.count()).select_from(EpayRequest).where(
            EpayRequest.client_id == other_id)) == 0


def test_the_page_that_goes_to_epay_lets_its_form_leave_for_epay_only(app, browser):
    """The security policy's form-action is the site's own everywhere; a browser would not send the payment form to
    ePay.bg unless the page that holds it lets it go there."""
    with app.app_context():
        configure()
        _client_id, number = debtor()
    portal_login(browser, number)
    assert "form-action 'self';" in browser.get("/my/pay").headers["Content-Security-Policy"]
    answer = browser.submit("/my/pay", {"what": "due", "page": "credit_paydirect"})
    policy = answer.headers["Content-Security-Policy"]
    assert "form-action 'self' https://demo.epay.bg;" in policy and "frame-ancestors 'none'" in policy
