"""Registration on the public page: the filters, the rate limit, the confirmation link, the password reset."""
import json
import re

from sqlalchemy import select

from app.extensions import db
from app.freeftp.models import FreeFtpAccount, FreeFtpAttempt
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_network
from tests.freeftp.conftest import configure, mails

GOOD = {"username": "ivan.petrov", "password": "тайна-парола-1", "email": "ivan@example.bg"}


def _register(app, address="192.0.2.10", **values):
    browser = Browser(app, remote_addr=address)
    return browser, browser.submit("/freeftp/register", {**GOOD, **values})


def _accounts(app):
    with app.app_context():
        return db.session.scalars(select(FreeFtpAccount.username)).all()


def _attempts(app):
    with app.app_context():
        return [(a.outcome, a.reason, a.remote_addr) for a in
                db.session.scalars(select(FreeFtpAttempt).order_by(FreeFtpAttempt.id))]


def test_the_public_page_needs_no_login_and_speaks_bulgarian_on_a_phone(app, settings):
    configure(app, ftp_root=str(settings[0]), page_text="Добре дошли на нашия FTP сървър!")
    response = Browser(app, remote_addr="203.0.113.5").get("/freeftp/")
    assert response.status_code == 200
    assert 'name="viewport"' in response.text and 'lang="bg"' in response.text
    text = visible_text(response.text)
    assert "Добре дошли на нашия FTP сървър!" in text and "Регистрация" in text and "Търсене" in text
    form = visible_text(Browser(app).get("/freeftp/register").text)
    assert "Потребителско име" in form and "Парола" in form


def test_an_address_in_the_allowed_network_registers_and_one_outside_is_refused(app, settings):
    _browser, response = _register(app, "192.0.2.77")
    assert response.status_code == 200
    assert "Регистриран" in visible_text(response.text)
    assert _accounts(app) == ["ivan.petrov"]

    _browser, refused = _register(app, "198.51.100.9", username="other.user", email="other@example.bg")
    assert refused.status_code == 200
    assert "само от нашата мрежа" in visible_text(refused.text) and "198.51.100.9" in visible_text(refused.text)
    assert _accounts(app) == ["ivan.petrov"]
    assert _attempts(app) == [("accepted", None, "192.0.2.77"), ("refused", "network", "198.51.100.9")]


def test_without_listed_networks_the_networks_modules_networks_are_allowed(app, settings):
    configure(app, ftp_root=str(settings[0]), allowed_networks=None)
    with app.app_context():
        make_network("10.20.0.0/22", "Квартал Лозенец")
    _browser, outside = _register(app, "192.0.2.10")
    assert "само от нашата мрежа" in visible_text(outside.text)
    _browser, inside = _register(app, "10.20.1.7")
    assert "Регистриран" in visible_text(inside.text)
    assert _accounts(app) == ["ivan.petrov"]


def test_the_email_rule_pattern_and_existing_client(app, settings):
    configure(app, ftp_root=str(settings[0]), email_pattern="*@example.bg, *@abv.bg")
    _browser, wrong = _register(app, email="ivan@gmail.com")
    assert "не се приема" in visible_text(wrong.text)
    _browser, right = _register(app, email="Ivan@ABV.bg")
    assert "Регистриран" in visible_text(right.text)

    configure(app, ftp_root=str(settings[0]), email_must_be_client=True)
    with app.app_context():
        make_client(None, "Мария Колева", email="maria@example.bg")
    _browser, stranger = _register(app, username="stranger", email="nobody@example.bg")
    assert "като наш клиент" in visible_text(stranger.text)
    _browser, client = _register(app, username="maria", email="MARIA@example.bg")
    assert "Регистриран" in visible_text(client.text)
    assert sorted(_accounts(app)) == ["ivan.petrov", "maria"]
    reasons = [reason for outcome, reason, _address in _attempts(app) if outcome == "refused"]
    assert reasons == ["email", "email"]


def test_bad_input_gets_bulgarian_messages_and_stores_no_account(app, settings):
    _browser, response = _register(app, username="Иван!", password="кратка", email="не-е-поща")
    assert response.status_code == 200
    text = visible_text(response.text)
    assert "малки латински букви" in text and "Поне 8 знака" in text and "Не е адрес на електронна поща" in text
    assert _accounts(app) == []
    _register(app)
    _browser, taken = _register(app, email="druga@example.bg")
    assert "Това потребителско име е заето" in visible_text(taken.text)
    assert _accounts(app) == ["ivan.petrov"]


def test_registration_is_closed_when_freeftp_is_off(app, settings):
    configure(app, ftp_root=str(settings[0]), enabled=False)
    _browser, response = _register(app)
    assert "Регистрацията е затворена" in visible_text(response.text)
    assert _accounts(app) == []


def test_too_many_attempts_from_one_address_are_refused_for_a_while(app, settings, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "FREEFTP_RATE_LIMIT", "3 per 1 hour")
    for number in range(3):
        _browser, response = _register(app, username=f"user{number}", password="x")  # refused: short password
        assert response.status_code == 200
    _browser, limited = _register(app)
    assert limited.status_code == 429
    assert "Твърде много опити от вашия адрес" in visible_text(limited.text)
    assert _accounts(app) == []
    # Another address is not affected.
    _browser, other = _register(app, "192.0.2.11")
    assert other.status_code == 200 and _accounts(app) == ["ivan.petrov"]
    assert ("refused", "rate_limited", "192.0.2.10") in _attempts(app)


def test_with_confirmation_the_account_waits_for_the_link(app, settings, outbox):
    configure(app, ftp_root=str(settings[0]), confirm_email=True)
    browser, response = _register(app)
    assert "Изпратихме връзка до ivan@example.bg" in visible_text(response.text)
    with app.app_context():
        assert db.session.scalar(select(FreeFtpAccount.email_confirmed)) is False
    [mail] = mails(outbox)
    assert mail["To"] == "ivan@example.bg"
    link = re.search(r"http://localhost(/freeftp/confirm/\S+)", mail.get_content()).group(1)
    confirmed = browser.get(link)
    assert confirmed.status_code == 200 and "готов" in visible_text(confirmed.text)
    with app.app_context():
        assert db.session.scalar(select(FreeFtpAccount.email_confirmed)) is True
    assert browser.get(link).status_code == 404  # used once
    assert browser.get("/freeftp/confirm/wrong-token").status_code == 404


def test_a_forgotten_password_is_reset_by_the_link_in_the_mail(app, settings, outbox):
    browser, _response = _register(app)
    asked = browser.submit("/freeftp/reset", {"email": "IVAN@example.bg"})
    assert "Ако има профил с този адрес" in visible_text(asked.text)
    unknown = browser.submit("/freeftp/reset", {"email": "nobody@example.bg"})
    assert "Ако има профил с този адрес" in visible_text(unknown.text)  # the same: nobody learns who is registered
    [mail] = mails(outbox)
    link = re.search(r"http://localhost(/freeftp/reset/\S+)", mail.get_content()).group(1)
    differ = browser.submit(link, {"password": "нова-парола-123", "repeated": "друга-парола-123"})
    assert "Двете пароли се различават" in visible_text(differ.text)
    done = browser.submit(link, {"password": "нова-парола-123", "repeated": "нова-парола-123"})
    assert "новата парола" in visible_text(done.text)
    with app.app_context():
        from werkzeug.security import check_password_hash

        account = db.session.scalar(select(FreeFtpAccount))
        assert check_password_hash(account.password_hash, "нова-парола-123")
    assert browser.get(link).status_code == 404


def test_the_log_has_the_registration_but_never_the_password(app, settings):
    from app.audit.models import LogEntry

    _register(app)
    with app.app_context():
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "FreeFtpAccount"))
        assert entry is not None and entry.username == "FREEFTP"
        changes = json.dumps(entry.changes, ensure_ascii=False)
        assert "ivan.petrov" in changes
        assert GOOD["password"] not in changes and "scrypt" not in changes and "pbkdf2" not in changes


def test_password_reset_requests_are_rate_limited_per_address_too(app, settings, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "FREEFTP_RATE_LIMIT", "2 per 1 hour")
    _register(app)
    browser = Browser(app, remote_addr="192.0.2.50")
    for _number in range(2):
        assert browser.submit("/freeftp/reset", {"email": "ivan@example.bg"}).status_code == 200
    limited = browser.submit("/freeftp/reset", {"email": "ivan@example.bg"})
    assert limited.status_code == 429 and "Твърде много опити" in visible_text(limited.text)
    assert len(mails(outbox)) == 2


def test_a_newer_reset_link_replaces_the_older_and_each_works_once(app, settings, outbox):
    browser, _response = _register(app)
    for _time in range(2):
        browser.submit("/freeftp/reset", {"email": "ivan@example.bg"})
    first, second = [re.search(r"http://localhost(/freeftp/reset/\S+)", mail.get_content()).group(1)
                     for mail in mails(outbox)]
    older = browser.get(first)
    assert older.status_code == 404
    assert "След тази връзка е изпратена по-нова" in visible_text(older.text)
    assert browser.submit(first, {"password": "нова-парола-123", "repeated": "нова-парола-123"},
                          form_url="/freeftp/reset").status_code == 404

    assert browser.get(second).status_code == 200
    done = browser.submit(second, {"password": "нова-парола-123", "repeated": "нова-парола-123"})
    assert "новата парола" in visible_text(done.text)
    again = browser.get(second)
    assert again.status_code == 404 and "Връзката вече е използвана" in visible_text(again.text)
    with app.app_context():
        from werkzeug.security import check_password_hash

        account = db.session.scalar(select(FreeFtpAccount))
        assert check_password_hash(account.password_hash, "нова-парола-123")
