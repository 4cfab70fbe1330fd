"""Only their own, by construction: every portal route walked as client A with client B's ids is a 404, and
nothing of B's changes."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.billing.models import SubscriptionFreeze
from app.clients.models import Client, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import Task
from tests.portal.helpers import fault_type, portal_client, portal_login


def b_state(b):
    client = db.session.get(Client, b.client_id)
    subscription = db.session.get(Subscription, b.subscription_id)
    return (client.phone, client.email, subscription.paid_until, subscription.status,
            db.session.scalar(select(func.count()).select_from(SubscriptionFreeze)),
            db.session.scalar(select(func.count()).select_from(Task)),
            db.session.scalar(select(func.count()).select_from(LogEntry).where(
                LogEntry.entity_type == "Client", LogEntry.entity_id == str(b.client_id))))


def test_every_portal_route_with_another_client_s_ids_is_not_found_and_changes_nothing(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        b = portal_client("Бета ООД", "B")
        fault_type()
        before = b_state(b)
        day = (local_today() + timedelta(days=3)).strftime("%d.%m.%Y")
    assert portal_login(browser, a.number).status_code == 302

    ids = {"invoice_id": b.invoice_id, "payment_id": b.payment_id, "contract_id": b.contract_id,
           "subscription_id": b.subscription_id}
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/my/") and rule.arguments]
    walked = set()
    for rule in routes:
        if rule.arguments == {"token"}:
            continue  # a link's token names no record of the client's: tested with the links
        values = {name: ids[name] for name in rule.arguments}
        url = rule.rule
        for name, value in values.items():
            url = re.sub(rf"<(?:int:)?{name}>", str(value), url)
        response = browser.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert "Бета" not in response.text
        if "POST" in rule.methods:
            posted = browser.submit(url, {"starts_on": day, "ends_on": day, "reason": "чужда"}, form_url="/my/fault")
            assert posted.status_code == 404, url
        walked.add(rule.endpoint)
    assert walked == {"portal.invoice", "portal.receipt", "portal.contract", "portal.freeze"}

    # The fault form takes a subscription by id too: B's is refused, no task is opened.
    response = browser.submit("/my/fault", {"subscription": str(b.subscription_id), "note": "Няма интернет"})
    assert response.status_code == 404
    # The profile changes only the logged-in client, whatever the form carries.
    browser.submit("/my/profile", {"which": "contacts", "contacts-phone": "0899 000 000",
                                   "contacts-email": "nov@example.bg", "client_id": str(b.client_id)},
                   form_url="/my/profile")
    with app.app_context():
        assert b_state(b) == before
        assert db.session.get(Client, a.client_id).email == "nov@example.bg"

    # And A's own records open.
    for url in (f"/my/invoices/{a.invoice_id}.pdf", f"/my/receipts/{a.payment_id}.pdf",
                f"/my/contracts/{a.contract_id}.pdf", f"/my/freeze/{a.subscription_id}"):
        assert browser.get(url).status_code == 200, url


def test_the_pages_list_only_the_client_s_own_records(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        b = portal_client("Бета ООД", "B")
    portal_login(browser, a.number)
    for url in ("/my/", "/my/payments", "/my/documents", "/my/pay", "/my/profile", "/my/fault"):
        page = browser.get(url)
        assert page.status_code == 200, url
        assert "Бета" not in page.text and "user-b" not in page.text, url
        assert f"/{b.invoice_id}.pdf" not in page.text or b.invoice_id == a.invoice_id
    documents = browser.get("/my/documents").text
    assert f"/my/invoices/{a.invoice_id}.pdf" in documents and f"/my/invoices/{b.invoice_id}.pdf" not in documents
    payments = browser.get("/my/payments").text
    assert f"/my/receipts/{a.payment_id}.pdf" in payments and f"/my/receipts/{b.payment_id}.pdf" not in payments
