"""Two-factor login: a role can require a one-time code; a stolen password alone then opens nothing."""
import re

import pyotp
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.security import permissions as p
from tests.conftest import CSRF_RE, Browser, visible_text
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


def test_a_role_that_requires_a_code_enrols_its_operators_and_then_asks_every_time(app):
    with app.app_context():
        make_operator(None, "каса", p.CASHIER, username="cashier")
    set_code_requirement(app, p.CASHIER, True)
    try:
        browser = Browser(app)
        answer = browser.submit("/login/", {"username": "cashier", "password": PASSWORD})
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/code/")
        assert browser.get("/clients/list/").status_code == 302  # the password alone is no login
        enrolment = browser.get("/login/code/")
        secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', enrolment.text).group(1)
        assert "Добавете този ключ" in visible_text(enrolment.text)

        wrong = send_code(browser, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        assert wrong.status_code == 200 and "Кодът не е верен" in visible_text(wrong.text)
        assert send_code(browser, pyotp.TOTP(secret).now()).status_code == 302
        assert browser.get("/clients/list/").status_code == 200
        browser.logout()

        # Enrolled: the next login asks for the code, and shows no key.
        again = Browser(app)
        again.submit("/login/", {"username": "cashier", "password": PASSWORD})
        assert 'id="totp-secret"' not in again.get("/login/code/").text
        assert send_code(again, pyotp.TOTP(secret).now()).status_code == 302
        assert again.get("/clients/list/").status_code == 200

        # The API's login takes the code beside the password.
        api = app.test_client()
        without = api.post("/api/v1/security/login", json={"username": "cashier", "password": PASSWORD})
        assert without.status_code == 401
        with_code = api.post("/api/v1/security/login", json={"username": "cashier", "password": PASSWORD,
                                                             "totp": pyotp.TOTP(secret).now()})
        assert with_code.status_code == 200 and with_code.json["access_token"]
        with app.app_context():
            entries = db.session.scalars(select(LogEntry).where(LogEntry.username == "cashier")).all()
            operations = [entry.operation for entry in sorted(entries, key=lambda entry: entry.id)]
            assert operations.count("login_failed") == 2  # the wrong code, the API without a code
            assert operations.count("login") == 3  # after the code only: two in the panel, one through the API
            assert "totp_secret" not in str([entry.changes for entry in entries])
    finally:
        set_code_requirement(app, p.CASHIER, False)


def test_operators_whose_roles_require_no_code_log_in_with_their_password(app):
    with app.app_context():
        make_operator(None, "техник", p.TECHNICIAN, username="technician")
    browser = Browser(app)
    answer = browser.submit("/login/", {"username": "technician", "password": PASSWORD})
    assert answer.status_code == 302 and "/login/code/" not in answer.headers["Location"]
