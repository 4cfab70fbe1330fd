"""Two-factor login: a role can require a one-time code; a stolen password alone then opens nothing."""
import re
import time
from datetime import datetime
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import select, text

from app.audit.models import LogEntry
from app.extensions import db
from app.notifications.models import Notification
from app.security.models import Operator
from app.security import permissions as p
from tests.conftest import ADMIN_USERNAME, CSRF_RE, Browser, visible_text
from tests.factories import make_operator

PASSWORD = "operator-pass-123"


def set_code_requirement(app, role_name, required):
    """Grant or take back the duty of a one-time code, as an administrator does in the rights matrix."""
    with app.app_context():
        security = app.appbuilder.sm
        duty = security.find_permission_view_menu(*p.RIGHTS[p.TWO_FACTOR_LOGIN])
        role = security.find_role(role_name)
        if required:
            role.permissions.append(duty)
        else:
            role.permissions.remove(duty)
        db.session.commit()


def send_code(browser, code):
    page = browser.get("/login/code/")
    token = CSRF_RE.search(page.text).group(1)
    return browser.client.post("/login/code/", data={"csrf_token": token, "code": code})


def mails_to(app, recipient):
    with app.app_context():
        return db.session.scalars(select(Notification).where(Notification.recipient == recipient)
                                  .order_by(Notification.id)).all()


def enrolment_link_in(notification):
    return re.search(r"https?://[^\s]+/login/enrol/[^\s]+", notification.body).group(0)


def enrol_through(browser, link, password=PASSWORD):
    """Open the link, give the password; returns the key the next page shows."""
    path = urlsplit(link).path
    answer = browser.submit(path, {"password": password, "username": "ignored"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/code/"), answer.text
    page = browser.get("/login/code/")
    return re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1), page


def operations_on(app, username):
    with app.app_context():
        entries = db.session.scalars(select(LogEntry).where(LogEntry.username == username)
                                     .order_by(LogEntry.id)).all()
        return [(entry.operation, entry.note) for entry in entries]


def test_a_role_that_requires_a_code_enrols_its_operators_through_an_emailed_link_and_then_asks_every_time(app):
    with app.app_context():
        make_operator(None, "каса", p.CASHIER, username="cashier")
    set_code_requirement(app, p.CASHIER, True)
    try:
        browser = Browser(app)
        # The password alone shows no key: whoever knows it must not enrol first.
        answer = browser.submit("/login/", {"username": "cashier", "password": PASSWORD})
        assert answer.status_code == 302 and "/login/code/" not in answer.headers["Location"]
        page = browser.get(answer.headers["Location"])
        assert 'id="totp-secret"' not in page.text
        assert "изпратихме връзка" in visible_text(page.text).lower() and "администратора" in visible_text(page.text)
        assert 'id="totp-secret"' not in browser.get("/login/code/", follow_redirects=True).text
        assert browser.get("/clients/list/").status_code == 302  # no login
        # Another login with the password sends no second link while the first one works.
        Browser(app).submit("/login/", {"username": "cashier", "password": PASSWORD})
        mails = mails_to(app, "cashier@example.bg")
        assert len(mails) == 1
        link = enrolment_link_in(mails[0])

        # The link, then the password, then the key.
        assert browser.submit(urlsplit(link).path, {"password": "wrong", "username": "cashier"}).status_code == 200
        secret, enrolment = enrol_through(browser, link)
        assert "Добавете този ключ" in visible_text(enrolment.text)
        wrong = send_code(browser, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        assert wrong.status_code == 200 and "Кодът не е верен" in visible_text(wrong.text)
        # Each code logs in once: the enrolment takes the previous step's, the logins below the next ones.
        assert send_code(browser, pyotp.TOTP(secret).at(time.time() - 30)).status_code == 302
        assert browser.get("/clients/list/").status_code == 200
        browser.logout()

        # The link worked once.
        used = Browser(app).get(urlsplit(link).path)
        assert used.status_code == 404 and "тази връзка" in visible_text(used.text).lower()
        # The enrolment is in the LOG and mailed to the operator.
        assert [note for operation, note in operations_on(app, "cashier") if operation == "second_factor"] == [
            "Издадена връзка за включване", "Включен вход с еднократен код"]
        assert "Включено е приложение за еднократни кодове" in mails_to(app, "cashier@example.bg")[-1].body

        # Enrolled: the next login asks for the code, and shows no key.
        again = Browser(app)
        assert again.submit("/login/", {"username": "cashier", "password": PASSWORD}).headers[
            "Location"].endswith("/login/code/")
        assert 'id="totp-secret"' not in again.get("/login/code/").text
        assert send_code(again, pyotp.TOTP(secret).now()).status_code == 302
        assert again.get("/clients/list/").status_code == 200

        # The API's login takes the code beside the password.
        api = app.test_client()
        without = api.post("/api/v1/security/login", json={"username": "cashier", "password": PASSWORD})
        assert without.status_code == 401
        with_code = api.post("/api/v1/security/login", json={"username": "cashier", "password": PASSWORD,
                                                             "totp": pyotp.TOTP(secret).at(time.time() + 30)})
        assert with_code.status_code == 200 and with_code.json["access_token"]
        operations = [operation for operation, _note in operations_on(app, "cashier")]
        assert operations.count("login_failed") == 3  # the wrong password, the wrong code, the API without a code
        assert operations.count("login") == 3  # after the code only: two in the panel, one through the API
        with app.app_context():
            entries = db.session.scalars(select(LogEntry).where(LogEntry.username == "cashier")).all()
            assert "totp_secret" not in str([entry.changes for entry in entries])
    finally:
        set_code_requirement(app, p.CASHIER, False)


def test_an_administrator_issues_an_enrolment_link_once_and_resets_a_lost_phone(app, admin):
    with app.app_context():
        operator_id = make_operator(None, "каса", p.CASHIER, username="cashier").id
    set_code_requirement(app, p.CASHIER, True)
    try:
        show = admin.get(f"/operators/show/{operator_id}")
        assert "Няма включено приложение" in visible_text(show.text)
        first = admin.submit(f"/operators/second-factor/{operator_id}/link", {}, form_url=f"/operators/show/{operator_id}")
        assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
        first_link = re.search(r'<code id="enrolment-link"[^>]*>([^<]+)</code>', first.text).group(1)
        second = admin.submit(f"/operators/second-factor/{operator_id}/link", {}, form_url=f"/operators/show/{operator_id}")
        link = re.search(r'<code id="enrolment-link"[^>]*>([^<]+)</code>', second.text).group(1)
        assert link != first_link and link == enrolment_link_in(mails_to(app, "cashier@example.bg")[-1])
        assert Browser(app).get(urlsplit(first_link).path).status_code == 404  # the newer link replaces it
        assert "Връзка за включване важи до" in visible_text(admin.get(f"/operators/show/{operator_id}").text)

        browser = Browser(app)
        secret, _page = enrol_through(browser, link)
        assert send_code(browser, pyotp.TOTP(secret).now()).status_code == 302

        # A lost phone: the administrator resets it; the operator enrols again with a new link.
        reset = admin.submit(f"/operators/second-factor/{operator_id}/reset", {},
                             form_url=f"/operators/show/{operator_id}", follow_redirects=True)
        assert "беше нулиран" in visible_text(reset.text)
        with app.app_context():
            assert db.session.get(Operator, operator_id).totp_secret is None
        assert "нулирано" in mails_to(app, "cashier@example.bg")[-1].body
        notes = [note for operation, note in operations_on(app, ADMIN_USERNAME) if operation == "second_factor"]
        assert notes == ["Издадена връзка за включване"] * 2 + ["Нулиран вход с еднократен код"]
        fresh = Browser(app).submit("/login/", {"username": "cashier", "password": PASSWORD}, follow_redirects=True)
        assert 'id="totp-secret"' not in fresh.text and "изпратихме връзка" in visible_text(fresh.text).lower()

        # An expired link does not work.
        expired = enrolment_link_in(mails_to(app, "cashier@example.bg")[-1])
        with app.app_context():
            db.session.execute(text("UPDATE one_time_link SET expires_at = :t WHERE subject = :s"),
                               {"t": datetime(2020, 1, 1), "s": f"operator:{operator_id}"})
            db.session.commit()
        assert Browser(app).get(urlsplit(expired).path).status_code == 404

        # An operator without the right to edit operators issues no link.
        with app.app_context():
            make_operator(None, "техник", p.TECHNICIAN, username="technician")
        technician = Browser(app)
        technician.login("technician", PASSWORD)
        refused = technician.submit(f"/operators/second-factor/{operator_id}/link", {}, form_url="/resetmypassword/form")
        assert refused.status_code == 403
        assert len([m for m in mails_to(app, "cashier@example.bg") if "/login/enrol/" in m.body]) == 3
    finally:
        set_code_requirement(app, p.CASHIER, False)


def test_operators_whose_roles_require_no_code_log_in_with_their_password(app):
    with app.app_context():
        make_operator(None, "техник", p.TECHNICIAN, username="technician")
    browser = Browser(app)
    answer = browser.submit("/login/", {"username": "technician", "password": PASSWORD})
    assert answer.status_code == 302 and "/login/code/" not in answer.headers["Location"]


def test_a_one_time_code_logs_in_once_in_the_panel_and_the_api(app):
    secret = pyotp.random_base32()
    with app.app_context():
        operator = make_operator(None, "каса", p.CASHIER, username="cashier")
        operator.totp_secret = secret
        db.session.commit()
    code = pyotp.TOTP(secret).now()
    first = Browser(app)
    first.submit("/login/", {"username": "cashier", "password": PASSWORD})
    assert send_code(first, code).status_code == 302 and first.get("/clients/list/").status_code == 200

    # Someone who saw the code type it in too, in the panel or the API: refused.
    second = Browser(app, remote_addr="192.0.2.11")
    second.submit("/login/", {"username": "cashier", "password": PASSWORD})
    replay = send_code(second, code)
    assert replay.status_code == 200 and "Кодът не е верен" in visible_text(replay.text)
    assert second.get("/clients/list/").status_code == 302
    api = app.test_client()
    login = {"username": "cashier", "password": PASSWORD}
    assert api.post("/api/v1/security/login", json={**login, "totp": code}).status_code == 401
    # An older code than the one used is refused too; the next one works, once.
    earlier = pyotp.TOTP(secret).at(time.time() - 30)
    assert api.post("/api/v1/security/login", json={**login, "totp": earlier}).status_code == 401
    later = pyotp.TOTP(secret).at(time.time() + 30)
    assert api.post("/api/v1/security/login", json={**login, "totp": later}).status_code == 200
    assert api.post("/api/v1/security/login", json={**login, "totp": later}).status_code == 401
