"""What a subscriber does on the portal goes through the office's own operations, as the subscriber's actor
("абонат <number>" in the LOG), with only the rights the portal needs: a vacation freeze within the
service's rules, a fault task, their phone and e-mail."""
from datetime import timedelta

from sqlalchemy import select

from app.audit.models import LogEntry
from app.billing.models import SubscriptionFreeze
from app.clients.models import Client, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import HIGH, PURPOSE_FAULT, Task
from app.portal.services import subscriber_actor
from app.security import permissions
from app.security.rights import may, may_access
from tests.conftest import visible_text
from tests.portal.helpers import fault_type, portal_client, portal_login


def test_a_vacation_is_booked_within_the_service_s_rules(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        today = local_today()
        paid_until = db.session.get(Subscription, a.subscription_id).paid_until
    portal_login(browser, a.number)
    assert "Ваканция (замразяване)" in browser.get("/my/").text
    start, end = today + timedelta(days=5), today + timedelta(days=14)
    too_long = browser.submit(f"/my/freeze/{a.subscription_id}", {
        "starts_on": start.strftime("%d.%m.%Y"), "ends_on": (start + timedelta(days=70)).strftime("%d.%m.%Y"),
        "reason": "Почивка"})
    assert too_long.status_code == 422 and "30 дни" in visible_text(too_long.text)
    wrong_day = browser.submit(f"/my/freeze/{a.subscription_id}", {"starts_on": "31.11.2026", "ends_on": "",
                                                                    "reason": "Почивка"})
    assert wrong_day.status_code == 422 and "Няма такава дата: 31.11.2026." in wrong_day.text
    booked = browser.submit(f"/my/freeze/{a.subscription_id}", {
        "starts_on": start.strftime("%d.%m.%Y"), "ends_on": end.strftime("%d.%m.%Y"), "reason": "Почивка"})
    assert booked.status_code == 200 and "Ваканцията е записана" in booked.text
    with app.app_context():
        freeze = db.session.scalar(select(SubscriptionFreeze))
        assert (freeze.starts_on, freeze.ends_on, freeze.reason) == (start, end, "От портала: Почивка")
        assert db.session.get(Subscription, a.subscription_id).paid_until == paid_until + timedelta(days=10)
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "SubscriptionFreeze"))
        assert entry.username == f"абонат {a.number}" and entry.user_id is None


def test_a_fault_opens_a_task_of_the_fault_type_marked_as_from_the_portal(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        fault_type()
    portal_login(browser, a.number)
    empty = browser.submit("/my/fault", {"subscription": "", "note": "  "})
    assert empty.status_code == 422 and "Опишете повредата." in empty.text
    sent = browser.submit("/my/fault", {"subscription": str(a.subscription_id), "note": "Няма интернет от сутринта"})
    assert sent.status_code == 200 and "Повредата е подадена" in sent.text
    with app.app_context():
        task = db.session.scalar(select(Task))
        assert task.task_type.purpose == PURPOSE_FAULT and task.priority == HIGH
        assert (task.client_id, task.subscription_id) == (a.client_id, a.subscription_id)
        assert task.description == "От портала: Няма интернет от сутринта"
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "Task"))
        assert entry.username == f"абонат {a.number}"


def test_phone_and_e_mail_are_changed_in_the_log_as_the_subscriber(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    portal_login(browser, a.number)
    bad = browser.submit("/my/profile", {"which": "contacts", "contacts-phone": "0899 111 222",
                                         "contacts-email": "не-е-имейл"})
    assert bad.status_code == 422 and "Не е адрес на електронна поща." in bad.text
    saved = browser.submit("/my/profile", {"which": "contacts", "contacts-phone": "0899 111 222",
                                           "contacts-email": "alfa-nov@example.bg"})
    assert saved.status_code == 200 and "Телефонът и имейлът ви са записани." in saved.text
    with app.app_context():
        client = db.session.get(Client, a.client_id)
        assert (client.phone, client.email) == ("0899 111 222", "alfa-nov@example.bg")
        entry = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Client",
                                                          LogEntry.operation == LogEntry.UPDATE)).all()[-1]
        assert entry.username == f"абонат {a.number}" and entry.remote_addr == "192.0.2.10"
        assert set(entry.changes) >= {"phone", "email"}


def test_the_subscriber_holds_only_the_rights_the_portal_needs(app):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        actor = subscriber_actor(db.session.get(Client, a.client_id))
        assert str(actor) == f"абонат {a.number}"
        assert [right for right in permissions.BUSINESS_RIGHTS if may(actor, right)] == [permissions.REPORT_FAULTS]
        assert may_access(actor, "can_add", "SubscriptionFreeze") and not may_access(actor, "can_add", "Task")
        for permission, view in (("can_list", "Client"), ("can_add", "Payment"), ("can_delete", "Client"),
                                 ("can_edit", "Subscription"), ("can_list", "LogEntry")):
            assert not may_access(actor, permission, view)
