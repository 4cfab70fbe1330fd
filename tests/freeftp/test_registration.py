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


def _links(app, kind):
    """The /freeftp/<kind>/… links of the mails sent so far, oldest first."""
    return [found.group(1) for mail in mails(app.config["MAIL_OUTBOX"])
            for found in re.finditer(rf"http://localhost(/freeftp/{kind}/\S+)", mail.get_content())]


def _confirm(app, browser):
    """Opens the newest confirmation link: the account is made."""
    response = browser.get(_links(app, "confirm")[-1])
    assert response.status_code == 200, visible_text(response.text)
    return response


def _register_and_confirm(app, address="192.0.2.10", **values):
    browser, response = _register(app, address, **values)
    _confirm(app, browser)
    return browser, response


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
    _browser, response = _register_and_confirm(app, "192.0.2.77")
    assert response.status_code == 200
    assert "Проверете пощата си" in visible_text(response.text)
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
    _browser, inside = _register_and_confirm(app, "10.20.1.7")
    assert "Проверете пощата си" in visible_text(inside.text)
    assert _accounts(app) == ["ivan.petrov"]


def test_the_email_rule_pattern_and_existing_client(app, settings):
    configure(app, ftp_root=str(settings[0]), email_pattern="*@example.bg, *@abv.bg")
    _browser, wrong = _register(app, email="ivan@gmail.com")
    assert "не се приема" in visible_text(wrong.text)
    _browser, right = _register_and_confirm(app, email="Ivan@ABV.bg")
    assert "Проверете пощата си" in visible_text(right.text)

    configure(app, ftp_root=str(settings[0]), email_must_be_client=True)
    with app.app_context():
        make_client(None, "Мария Колева", email="maria@example.bg")
    _browser, stranger = _register(app, username="stranger", email="nobody@example.bg")
    assert "Проверете пощата си" in visible_text(stranger.text)  # the page does not tell; the mail does
    assert "не е сред тях" in mails(app.config["MAIL_OUTBOX"])[-1].get_content()
    _browser, client = _register_and_confirm(app, username="maria", email="MARIA@example.bg")
    assert "Проверете пощата си" in visible_text(client.text)
    assert sorted(_accounts(app)) == ["ivan.petrov", "maria"]
    reasons = [reason for outcome, reason, _address in _attempts(app) if outcome == "refused"]
    assert reasons == ["email", "email"]


def test_bad_input_gets_bulgarian_messages_and_stores_no_account(app, settings):
    _browser, response = _register(app, username="Иван!", password="кратка", email="не-е-поща")
    assert response.status_code == 200
    text = visible_text(response.text)
    assert "малки латински букви" in text and "Поне 8 знака" in text and "Не е адрес на електронна поща" in text
    assert _accounts(app) == []
    _register_and_confirm(app)
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
    _browser, other = _register_and_confirm(app, "192.0.2.11")
    assert other.status_code == 200 and _accounts(app) == ["ivan.petrov"]
    assert ("refused", "rate_limited", "192.0.2.10") in _attempts(app)


def test_the_account_is_made_when_the_link_in_the_mail_is_opened(app, settings, outbox):
    browser, response = _register(app)
    assert "Проверете пощата си" in visible_text(response.text)
    assert _accounts(app) == []  # the registration waits inside the link: the username is not even taken yet
    [mail] = mails(outbox)
    assert mail["To"] == "ivan@example.bg"
    link = re.search(r"http://localhost(/freeftp/confirm/\S+)", mail.get_content()).group(1)
    confirmed = browser.get(link)
    assert confirmed.status_code == 200 and "готов" in visible_text(confirmed.text)
    with app.app_context():
        account = db.session.scalar(select(FreeFtpAccount))
        assert (account.username, account.email, account.email_confirmed) == ("ivan.petrov", "ivan@example.bg", True)
    used = browser.get(link)
    assert used.status_code == 404 and "Връзката вече е използвана" in visible_text(used.text)
    wrong = browser.get("/freeftp/confirm/wrong-token")
    assert wrong.status_code == 404 and "Връзката е грешна" in visible_text(wrong.text)


def test_a_username_taken_while_the_link_waited_is_said_on_opening_it(app, settings):
    first, _response = _register(app, email="first@example.bg")
    _register_and_confirm(app, email="second@example.bg")
    late = first.get(_links(app, "confirm")[0])
    assert late.status_code == 409 and "ivan.petrov е заето" in visible_text(late.text)
    with app.app_context():
        assert db.session.scalars(select(FreeFtpAccount.email)).all() == ["second@example.bg"]


def test_a_forgotten_password_is_reset_by_the_link_in_the_mail(app, settings, outbox):
    browser, _response = _register_and_confirm(app)
    asked = browser.submit("/freeftp/reset", {"email": "IVAN@example.bg"})
    assert "Ако има профил с този адрес" in visible_text(asked.text)
    unknown = browser.submit("/freeftp/reset", {"email": "nobody@example.bg"})
    assert "Ако има профил с този адрес" in visible_text(unknown.text)  # the same: nobody learns who is registered
    [link] = _links(app, "reset")
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

    _register_and_confirm(app)
    with app.app_context():
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "FreeFtpAccount"))
        assert entry is not None and entry.username == "FREEFTP"
        changes = json.dumps(entry.changes, ensure_ascii=False)
        assert "ivan.petrov" in changes
        assert GOOD["password"] not in changes and "scrypt" not in changes and "pbkdf2" not in changes


def test_password_reset_requests_are_rate_limited_per_address_too(app, settings, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    monkeypatch.setitem(app.config, "FREEFTP_RATE_LIMIT", "2 per 1 hour")
    _register_and_confirm(app)
    browser = Browser(app, remote_addr="192.0.2.50")
    for _number in range(2):
        assert browser.submit("/freeftp/reset", {"email": "ivan@example.bg"}).status_code == 200
    limited = browser.submit("/freeftp/reset", {"email": "ivan@example.bg"})
    assert limited.status_code == 429 and "Твърде много опити" in visible_text(limited.text)
    assert len(_links(app, "reset")) == 2


def test_a_newer_reset_link_replaces_the_older_and_each_works_once(app, settings, outbox):
    browser, _response = _register_and_confirm(app)
    for _time in range(2):
        browser.submit("/freeftp/reset", {"email": "ivan@example.bg"})
    first, second = _links(app, "reset")
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


def test_the_pages_answer_the_same_whoever_owns_the_address_and_only_the_mail_tells(app, settings, outbox):
    """A new address, an account's and a client's: one answer on the page, the truth in the mail to each."""
    configure(app, ftp_root=str(settings[0]), email_must_be_client=True)
    with app.app_context():
        make_client(None, "Мария Колева", email="maria@example.bg")
        make_client(None, "Иван Петров", email="ivan@example.bg")
        db.session.add(FreeFtpAccount(username="ivan.petrov", password_hash="x", email="ivan@example.bg",
                                      active=True, email_confirmed=True))  # a client's address with an account
        db.session.commit()
    sent_before = len(mails(outbox))
    addresses = {"new": "nobody@example.bg", "account": "ivan@example.bg", "client": "maria@example.bg"}

    registered = {who: _register(app, username="new.user", email=email)[1] for who, email in addresses.items()}
    reset = {who: Browser(app).submit("/freeftp/reset", {"email": email}) for who, email in addresses.items()}
    for answers in (registered, reset):
        assert len({(answer.status_code, visible_text(answer.text)) for answer in answers.values()}) == 1
        assert all(answer.status_code == 200 for answer in answers.values())
    assert "Ако този адрес може да се регистрира, изпратихме му съобщение" in visible_text(registered["new"].text)

    sent = mails(outbox)[sent_before:]
    to = {who: [mail.get_content() for mail in sent if mail["To"] == email] for who, email in addresses.items()}
    assert all(len(texts) == 2 for texts in to.values())  # one for the registration, one for the reset
    (new_registration, new_reset), (account_registration, account_reset), (client_registration, client_reset) = \
        to["new"], to["account"], to["client"]
    assert "не е сред тях" in new_registration and "/freeftp/" not in new_registration
    assert "вече има профил: ivan.petrov" in account_registration and "/freeftp/reset/" in account_registration
    assert "new.user" in client_registration and "/freeftp/confirm/" in client_registration
    assert "няма профил с него" in new_reset and "няма профил с него" in client_reset
    assert "/freeftp/reset/" in account_reset
    assert _accounts(app) == ["ivan.petrov"]  # nothing is made before the address is proven
