"""The subscribers' portal in Chromium, on a phone (360 × 740) and a desktop (1366 × 768): log in with the
demo client's number and portal password, see the invoices and download one, book a vacation, report a
fault. Screenshots go to SCREENSHOTS_DIR (portal-<width>-<step>.png)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.billing.models import DailyTraffic, SubscriptionFreeze
from app.billing.services import record_payment
from app.clients.models import Client
from app.core.formatting import local_today, utcnow
from app.demo.services import DEMO_PORTAL_CLIENT, DEMO_PORTAL_PASSWORD
from app.epay.models import EpaySettings
from app.extensions import db
from app.notifications.models import Notification
from app.invoices.services import issue_invoice
from app.organizer.models import Task
from app.security.models import Operator
from tests.browser.test_walk import SCREENS, browser, live_server  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.epay.test_easypay import RegBill


def shot(page, width, name):
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"portal-{width}-{name}.png"), full_page=True)


def fits(page):
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.once  # the portal's rules are tested on both databases in tests/portal/
@pytest.mark.parametrize("width,height", [(360, 740), (1366, 768)])
def test_a_subscriber_logs_in_downloads_an_invoice_books_a_vacation_and_reports_a_fault(
        live_server, browser, app, width, height):  # noqa: F811
    reg_bill = RegBill()
    reg_bill.answer = "IDN=7301234567"
    app.config["EASYPAY_URL"] = reg_bill.url
    try:
        walk(live_server, browser, app, width, height, reg_bill)
    finally:
        reg_bill.close()


def walk(live_server, browser, app, width, height, reg_bill):  # noqa: F811
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.name == DEMO_PORTAL_CLIENT))
        subscription = client.subscriptions[0]
        cashier = db.session.scalar(select(Operator).where(Operator.username == "m.ivanova"))
        # Paid through this month (a freeze needs the days before it paid), with an invoice asked for.
        payment = record_payment(cashier, client, periods={subscription.id: 2}).payment
        invoice = issue_invoice(cashier, payment)
        if db.session.get(EpaySettings, 1) is None:  # the merchant's settings, as the office sets them
            db.session.add(EpaySettings(id=1, kin="D476235845", secret="S" * 64, environment="demo", valid_hours=48))
        db.session.commit()
        # Traffic on most of the last 30 days, and a notice sent (the cycle's warning).
        for days_ago in range(30):
            if days_ago % 4 != 2:
                db.session.add(DailyTraffic(subscription_id=subscription.id, day=local_today() - timedelta(days=days_ago),
                                            bytes_in=(days_ago * 37 % 11 + 1) * 180_000_000, bytes_out=40_000_000))
        db.session.add(Notification(key="warning:browser", client_id=client.id, recipient=client.email or "demo@example.bg",
                                    subject="Напомняне: абонаментът изтича", body="Платете до края на месеца.",
                                    status="sent", sent_at=utcnow()))
        db.session.commit()
        number, invoice_number, service = client.client_number, invoice.number, subscription.service.name
        client_id, subscription_id = client.id, subscription.id
        start = local_today() + timedelta(days=3)
        end = start + timedelta(days=6)

    context = browser.new_context(viewport={"width": width, "height": height}, locale="bg-BG")
    page = context.new_page()
    page.goto(f"{live_server}/my/")
    page.wait_for_url("**/my/login**")
    shot(page, width, "1-login")
    page.fill("input[name=login]", number)
    page.fill("input[name=password]", DEMO_PORTAL_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/my/")
    body = page.inner_text("body")
    assert DEMO_PORTAL_CLIENT in body and "Дължимо днес" in body and "Следващо плащане" in body and service in body
    assert page.is_visible(f"#traffic-{subscription_id}") and page.locator(f"#traffic-{subscription_id} .bar").count() == 30
    assert fits(page)
    shot(page, width, "2-overview")

    page.click("nav >> text=Документи")
    page.wait_for_url("**/my/documents")
    assert invoice_number in page.inner_text("#invoices")
    assert "Напомняне: абонаментът изтича" in page.inner_text("#notices")
    assert fits(page)
    shot(page, width, "3-documents")
    href = page.locator("#invoices a.invoice-pdf").first.get_attribute("href")
    pdf = context.request.get(f"{live_server}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"

    page.click("nav >> text=Плати")
    page.wait_for_url("**/my/pay")
    assert "Плащане онлайн през ePay.bg" in page.inner_text("#online-payment")
    shot(page, width, "4-pay")
    # Paid through this month: what is offered is the next payment; up to the form that goes to ePay.bg.
    assert "следващото плащане" in page.inner_text("#what")
    page.click("#pay-online")
    page.wait_for_selector("#epay-form")
    assert page.get_attribute("#epay-form", "action") == "https://demo.epay.bg/"
    assert page.is_visible("#to-epay") and fits(page)
    shot(page, width, "4b-to-epay")
    # The browser really sends the form to ePay.bg (the page's security policy lets it): caught on its way.
    sent = []

    def at_epay(route):
        sent.append((route.request.method, route.request.post_data or ""))
        route.fulfill(status=200, content_type="text/html", body="<p>ePay.bg</p>")

    page.route("https://demo.epay.bg/**", at_epay)
    page.click("#to-epay")
    page.wait_for_url("https://demo.epay.bg/**")
    assert sent and sent[0][0] == "POST" and "ENCODED=" in sent[0][1] and "CHECKSUM=" in sent[0][1]

    # Cash at an EasyPay desk: the 10-digit code, and how to pay it.
    page.goto(f"{live_server}/my/pay")
    page.click("#easypay-code")
    page.wait_for_url("**/my/pay/easypay")
    assert page.inner_text("#idn") == "7301234567" and "Как да платите" in page.inner_text("main")
    assert fits(page)
    shot(page, width, "4c-easypay")
    page.goto(f"{live_server}/my/pay")
    assert "7301234567" in page.inner_text("#easypay-codes")
    shot(page, width, "4d-pay-with-code")
    assert len(reg_bill.calls) == 1

    page.click("nav >> text=Начало")
    page.click("text=Ваканция (замразяване)")
    page.wait_for_url("**/my/freeze/**")
    page.fill("input[name=starts_on]", start.strftime("%d.%m.%Y"))
    page.fill("input[name=ends_on]", end.strftime("%d.%m.%Y"))
    page.fill("input[name=reason]", "Почивка на морето")
    assert fits(page)
    shot(page, width, "5-freeze")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Ваканцията е записана" in page.inner_text("body")
    shot(page, width, "6-freeze-booked")

    page.click("nav >> text=Подай повреда")
    page.wait_for_url("**/my/fault")
    page.fill("textarea[name=note]", "Интернетът прекъсва вечер.")
    assert fits(page)
    shot(page, width, "7-fault")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Повредата е подадена" in page.inner_text("body")
    shot(page, width, "8-fault-sent")

    page.click("nav >> text=Профил")
    page.wait_for_url("**/my/profile")
    assert page.input_value("input[name=contacts-phone]") == "0888 123 456"
    assert page.get_attribute("input[name=password-current]", "placeholder") is None
    assert fits(page)
    shot(page, width, "9-profile")
    context.close()

    if width > 1000:  # the office sees it on the client's card: access, and the login just made
        office = browser.new_context(viewport={"width": width, "height": height}, locale="bg-BG").new_page()
        office.goto(f"{live_server}/login/")
        office.fill("input[name=username]", ADMIN_USERNAME)
        office.fill("input[name=password]", ADMIN_PASSWORD)
        office.click("input[type=submit], button[type=submit]")
        office.wait_for_load_state("networkidle")
        office.goto(f"{live_server}/clients/show/{client_id}")
        line = office.inner_text("#card-portal")
        assert "има достъп" in line and "последен вход" in line and "127.0.0.1" in line
        assert "Изпрати достъп до портала" in line
        assert "онлайн плащания (ePay.bg): започнати 2, платени 0, кодове за EasyPay: 1; последно започнато" in line
        office.locator("#card-portal").scroll_into_view_if_needed()
        shot(office, width, "10-office-card")
    with app.app_context():
        freeze = db.session.scalar(select(SubscriptionFreeze))
        assert (freeze.starts_on, freeze.ends_on) == (start, end)
        task = db.session.scalar(select(Task).where(Task.description.like("От портала:%")))
        assert task.client_id == client_id and task.description == "От портала: Интернетът прекъсва вечер."
