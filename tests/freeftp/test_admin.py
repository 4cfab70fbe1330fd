"""FREEFTP in the panel: the settings page, the accounts, the registration attempts; their rights and the LOG."""
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.freeftp.models import FreeFtpAccount, FreeFtpSettings
from tests.conftest import Browser, visible_text
from tests.factories import make_operator
from tests.freeftp.test_registration import _register_and_confirm

PETAR = {"username": "petar", "password": "парола-123456", "email": "p@example.bg"}

FORM = {"enabled": "y", "allowed_networks": "10.0.0.0/8\n192.0.2.0/24", "email_pattern": "*@example.bg",
        "confirm_email": "y", "download_kbps": "512", "max_sessions": "3", "home_quota_mb": "2048",
        "page_text": "Добре дошли"}


def test_the_settings_are_saved_checked_and_in_the_log(app, admin, folders):
    public, homes = folders
    page = admin.get("/freeftp/settings/")
    assert page.status_code == 200 and "Разрешени мрежи" in visible_text(page.text)
    wrong = admin.submit("/freeftp/settings/", {**FORM, "allowed_networks": "10.0.0.0/8\nне-мрежа",
                                                "ftp_root": "/no/such/folder"})
    text = visible_text(wrong.text)
    assert wrong.status_code == 200 and "Не е мрежа: не-мрежа" in text and "На сървъра няма такава папка" in text
    with app.app_context():
        assert db.session.get(FreeFtpSettings, 1) is None
    saved = admin.submit("/freeftp/settings/", {**FORM, "ftp_root": str(public), "homes_root": str(homes)})
    assert saved.status_code == 302
    with app.app_context():
        settings = db.session.get(FreeFtpSettings, 1)
        assert settings.enabled and settings.download_kbps == 512 and settings.ftp_root == str(public)
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "FreeFtpSettings"))
        assert entry.user.username == "admin"
    history = visible_text(admin.get("/freeftp/settings/").text)
    assert "Разрешени мрежи" in history and "10.0.0.0/8" in history


def test_the_accounts_and_the_refused_registrations_are_listed_in_bulgarian(app, admin, settings):
    browser = Browser(app, remote_addr="198.51.100.20")
    browser.submit("/freeftp/register", {"username": "petar", "password": "парола-123456", "email": "p@example.bg"})
    _register_and_confirm(app, **PETAR)
    attempts = visible_text(admin.get("/freeftp/registrations/list/").text)
    assert "198.51.100.20" in attempts and "адрес извън разрешените мрежи" in attempts and "отказана" in attempts
    assert "приета" in attempts
    accounts = visible_text(admin.get("/freeftp/accounts/list/").text)
    assert "petar" in accounts and "p@example.bg" in accounts
    with app.app_context():
        account_id = db.session.scalar(select(FreeFtpAccount.id))
    card = visible_text(admin.get(f"/freeftp/accounts/show/{account_id}").text)
    assert "Спри" in card and "Изпрати връзка за нова парола" in card and "История" in card


def test_an_operator_without_the_right_cannot_open_or_change_freeftp(app, settings):
    with app.app_context():
        make_operator(None, "касиер-ftp", "Касиер", username="kasier.ftp")
    cashier = Browser(app)
    cashier.login("kasier.ftp", "operator-pass-123")
    for url in ("/freeftp/settings/", "/freeftp/accounts/list/", "/freeftp/registrations/list/", "/freeftp/index/"):
        assert cashier.get(url).status_code in (302, 403), url
    with app.app_context():
        assert db.session.get(FreeFtpSettings, 1).page_text is None


def test_the_office_sends_a_new_password_link_and_never_sees_the_password(app, admin, settings, outbox):
    from tests.freeftp.conftest import mails

    _register_and_confirm(app, **PETAR)
    with app.app_context():
        account_id = db.session.scalar(select(FreeFtpAccount.id))
    sent = admin.submit(f"/freeftp/accounts/reset/{account_id}", {}, form_url=f"/freeftp/accounts/show/{account_id}")
    assert sent.status_code == 302
    card = visible_text(admin.get(f"/freeftp/accounts/show/{account_id}").text)
    assert "Изпратена е връзка за нова парола до p@example.bg" in card
    assert "парола-123456" not in card and "scrypt" not in card
    mail = mails(outbox)[-1]
    assert mail["To"] == "p@example.bg" and "/freeftp/reset/" in mail.get_content()


def test_the_account_lists_search_takes_percent_and_underscore_as_typed(app, admin):
    """The panel's filters on the accounts and the registrations: "ivan_p" finds ivan_p only, not ivanxp."""
    from app.freeftp.models import FreeFtpAttempt
    from werkzeug.security import generate_password_hash

    with app.app_context():
        for username in ("ivan_p", "ivanxp", "ivan100", "ivan_1"):
            db.session.add(FreeFtpAccount(username=username, password_hash=generate_password_hash("x"),
                                          email=f"{username}@example.bg", active=True, email_confirmed=True))
            db.session.add(FreeFtpAttempt(remote_addr="198.51.100.7", kind="register", outcome="refused",
                                          username=username, email=f"{username}%@example.bg"))
        db.session.commit()

    def listed(url, column, operator, value):
        # FAB's text filters in its order: starts with 0, ends with 1, contains 2 … not contains 6.
        page = visible_text(admin.get(url, query_string={f"_flt_{operator}_{column}": value}).text)
        assert "Грешка" not in page
        return {username for username in ("ivan_p", "ivanxp", "ivan100", "ivan_1")
                if f"{username}@" in page or f"{username}%@" in page}

    accounts = "/freeftp/accounts/list/"
    assert listed(accounts, "username", 2, "n_p") == {"ivan_p"}
    assert listed(accounts, "username", 0, "ivan_") == {"ivan_p", "ivan_1"}
    assert listed(accounts, "username", 1, "_1") == {"ivan_1"}
    assert listed(accounts, "username", 6, "_") == {"ivanxp", "ivan100"}
    assert listed(accounts, "email", 2, "%") == set()
    registrations = "/freeftp/registrations/list/"
    assert listed(registrations, "email", 2, "p%@") == {"ivan_p", "ivanxp"}
    assert listed(registrations, "username", 2, "n_") == {"ivan_p", "ivan_1"}
