"""Logging in to the portal: by client number or username, no account enumeration, the rate limit, a
session of its own (no panel or API rights; an operator's session is no subscriber's), and the LOG."""
import time

from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.clients.models import Client
from app.extensions import db
from app.organizer.models import Task
from app.portal.models import PortalAccess
from tests.conftest import Browser, CSRF_RE, app_config, visible_text
from tests.portal.helpers import PASSWORD, fault_type, portal_client, portal_login


def answer(response, typed=None):
    """What the page says, without its (random) CSRF token and what was typed in the login box."""
    text = CSRF_RE.sub("", response.text)
    if typed:
        text = text.replace(f'value="{typed}"', 'value=""')
    return response.status_code, text


def log(operation, username):
    return db.session.scalars(select(LogEntry).where(LogEntry.operation == operation,
                                                     LogEntry.username == username)).all()


def test_a_client_logs_in_with_the_client_number_or_a_username_and_the_log_has_it_with_the_address(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    response = portal_login(browser, a.number)
    assert response.status_code == 302 and response.headers["Location"].endswith("/my/")
    home = browser.get("/my/")
    assert "Алфа ООД" in home.text and "Дължимо днес" in home.text and "Интернет A" in home.text
    browser.submit("/my/logout", {}, form_url="/my/")
    assert browser.get("/my/").status_code == 302

    assert portal_login(browser, "USER-A").status_code == 302  # a subscription's username, any case
    assert portal_login(Browser(app, "192.0.2.77"), a.number, "wrong-password").status_code == 200
    with app.app_context():
        logins = log(LogEntry.LOGIN, f"абонат {a.number}")
        assert len(logins) == 2 and {entry.remote_addr for entry in logins} == {"192.0.2.10"}
        failed = log(LogEntry.LOGIN_FAILED, f"абонат {a.number}")
        assert len(failed) == 1 and failed[0].remote_addr == "192.0.2.77"
        access = db.session.scalar(select(PortalAccess).where(PortalAccess.client_id == a.client_id))
        assert access.last_login_addr == "192.0.2.10" and access.last_login_at is not None
        assert access.failed_logins == 1  # since the last login
        assert log(LogEntry.LOGOUT, f"абонат {a.number}")
    # The office reads it in the LOG and in the client card's history.
    office = Browser(app, "192.0.2.99")
    office.login()
    entries = visible_text(office.get("/log/list/?logins=1").text)  # logins are shown when asked for
    assert f"192.0.2.10 Достъп до портала № {a.number} Вход портал" in entries
    card = visible_text(office.get(f"/clients/show/{a.client_id}?tab=all").text)
    assert f"абонат {a.number} Вход Достъп до портала: № {a.number} портал" in card


def test_a_missing_client_gets_the_same_answer_as_a_wrong_password_in_the_same_time(app):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    browser = Browser(app)

    def timed(login):
        started = time.perf_counter()
        response = portal_login(browser, login, "not-the-password")
        return time.perf_counter() - started, answer(response, login)

    timed(a.number)  # the first hash of the process is made once
    existing = [timed(a.number) for _ in range(3)]
    missing = [timed("999999") for _ in range(3)]
    assert existing[0][1] == missing[0][1]
    assert "Грешен клиентски номер, потребителско име или парола." in missing[0][1][1]
    slow, fast = max(min(t for t, _ in existing), min(t for t, _ in missing)), \
        min(min(t for t, _ in existing), min(t for t, _ in missing))
    assert slow < fast * 3, (existing, missing)  # the password hash is checked either way

    # The link asked for: the same page for a client, a client without an e-mail and nobody.
    answers = {answer(browser.submit("/my/access", {"login": login})) for login in (a.number, "999999", "user-a")}
    assert len(answers) == 1 and "Проверете пощата си" in answers.pop()[1]


def test_failed_logins_are_limited_per_client_and_per_address(app, database_url):
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, PORTAL_RATE_LIMIT="3 per 15 minute",
                                    PORTAL_ADDRESS_RATE_LIMIT="5 per 15 minute"))
    with limited.app_context():
        a = portal_client("Алфа ООД", "A")
        b = portal_client("Бета ООД", "B")
    for number in range(3):
        assert portal_login(Browser(limited, f"198.51.100.{number}"), a.number, "wrong").status_code == 200
    # The client's limit, from any address, and even with the right password.
    refused = portal_login(Browser(limited, "198.51.100.50"), a.number)
    assert refused.status_code == 429 and "Твърде много опити" in refused.text
    # A missing client is limited the same way (no difference to tell it by).
    for _ in range(3):
        portal_login(Browser(limited, "203.0.113.1"), "999999", "wrong")
    assert portal_login(Browser(limited, "203.0.113.2"), "999999", "wrong").status_code == 429
    # Another client from a fresh address is not.
    assert portal_login(Browser(limited, "198.51.100.60"), b.number).status_code == 302

    # The address's limit, across client numbers and links asked.
    storm = Browser(limited, "192.0.2.200")
    for login in ("100", "101", "102", "103"):
        assert portal_login(storm, login, "wrong").status_code == 200
    assert storm.submit("/my/access", {"login": "104"}).status_code == 200
    assert portal_login(storm, b.number).status_code == 429
    assert storm.submit("/my/access", {"login": b.number}).status_code == 429
    with limited.app_context():
        assert db.session.scalar(select(LogEntry).where(LogEntry.operation == LogEntry.REFUSED,
                                                        LogEntry.remote_addr == "192.0.2.200")) is not None


def test_a_portal_session_has_no_panel_or_api_rights(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    portal_login(browser, a.number)
    assert browser.get("/my/").status_code == 200
    panel = browser.get("/clients/list/")
    assert panel.status_code in (302, 401, 403) and "/login" in panel.headers.get("Location", "/login")
    assert browser.get(f"/clients/show/{a.client_id}").status_code in (302, 401, 403)
    api = browser.get("/api/v1/clients/")
    assert api.status_code == 401
    assert browser.client.post("/api/v1/payments/", json={"client": a.client_id, "amount": "1.00"}).status_code == 401


def test_an_operator_s_session_is_no_subscriber_s(app, admin):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        fault_type()
    assert admin.get("/clients/list/").status_code == 200
    page = admin.get("/my/")
    assert page.status_code == 302 and "/my/login" in page.headers["Location"]
    token = admin.csrf_token("/my/login")
    sent = admin.client.post("/my/fault", data={"csrf_token": token, "note": "Няма интернет"})
    assert sent.status_code == 302 and "/my/login" in sent.headers["Location"]
    changed = admin.client.post("/my/profile", data={"csrf_token": token, "which": "contacts",
                                                     "contacts-phone": "1", "contacts-email": "x@example.bg"})
    assert changed.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Task)) is None
        assert db.session.get(Client, a.client_id).phone == "0888 123 456"
    assert admin.get(f"/my/invoices/{a.invoice_id}.pdf").status_code == 302
    code = admin.client.post("/my/pay/easypay", data={"csrf_token": token, "what": "due", "page": "paylogin"})
    assert code.status_code == 302 and "/my/login" in code.headers["Location"]


def test_the_forms_need_their_csrf_token(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    refused = browser.client.post("/my/login", data={"login": a.number, "password": PASSWORD})
    assert refused.status_code == 400 and "Формулярът е изтекъл" in refused.text
    assert browser.get("/my/").status_code == 302
    portal_login(browser, a.number)
    with app.app_context():
        fault_type()
    assert browser.client.post("/my/fault", data={"note": "Няма интернет"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Task)) is None


def test_a_logout_or_a_password_change_ends_the_other_sessions(app):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    phone, laptop = Browser(app), Browser(app, "192.0.2.11")
    portal_login(phone, a.number)
    portal_login(laptop, a.number)
    changed = phone.submit("/my/profile", {"which": "password", "password-current": PASSWORD,
                                           "password-password": "new-portal-pass", "password-repeated": "new-portal-pass"})
    assert changed.status_code == 200 and "Паролата ви е сменена." in changed.text
    assert phone.get("/my/").status_code == 200
    assert laptop.get("/my/").status_code == 302
    assert portal_login(laptop, a.number).status_code == 200  # the old password
    assert portal_login(laptop, a.number, "new-portal-pass").status_code == 302
    with app.app_context():
        assert [entry.note for entry in log(LogEntry.UPDATE, f"абонат {a.number}")] == ["портал: password changed"]
