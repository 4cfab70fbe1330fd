"""The first password and a forgotten one: a one-time link by e-mail to the client's e-mail on record, sent
through a real SMTP server (aiosmtpd), asked on the portal or sent by the office from the card."""
import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.core.queue import wait_for_background_jobs
from app.extensions import db
from app.portal.models import PortalAccess
from tests.billing.test_cycle import Mailbox, free_port
from tests.conftest import Browser, app_config
from tests.portal.helpers import portal_client, portal_login

LINK = re.compile(r"http://localhost(/my/password/\S+)")


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mailing_app(app, database_url, mailbox):  # app: the migrated database
    return create_app(app_config(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=mailbox.port,
                                 MAIL_FROM="office@example.bg"))


def link_in(message):
    return LINK.search(message.get_content()).group(1)


def test_a_forgotten_password_by_a_link_that_works_once(mailing_app, mailbox):
    with mailing_app.app_context():
        a = portal_client("Алфа ООД", "A", email="alfa@example.bg")
        portal_client("Бета ООД", "B", email=None, password=None)
    browser = Browser(mailing_app)
    answer = browser.submit("/my/access", {"login": "user-a"})
    assert answer.status_code == 200 and "Проверете пощата си" in answer.text
    wait_for_background_jobs(mailing_app)
    assert [message["To"] for message in mailbox.messages] == ["alfa@example.bg"]
    message = mailbox.messages[0]
    assert message["Subject"] == "Нова парола за абонатния портал" and a.number in message.get_content()
    link = link_in(message)

    form = browser.get(link)
    assert form.status_code == 200 and a.number in form.text
    short = browser.submit(link, {"password": "short", "repeated": "short"})
    assert "Поне 8 знака." in short.text
    done = browser.submit(link, {"password": "brand-new-pass", "repeated": "brand-new-pass"})
    assert "Паролата е зададена" in done.text
    assert portal_login(browser, a.number, "brand-new-pass").status_code == 302
    assert portal_login(Browser(mailing_app), a.number).status_code == 200  # the old one no more
    used = browser.get(link)
    assert used.status_code == 404 and "само веднъж" in used.text

    # A client without an e-mail, and nobody: the same answer, no mail.
    for login in ("user-b", "555555"):
        assert "Проверете пощата си" in browser.submit("/my/access", {"login": login}).text
    wait_for_background_jobs(mailing_app)
    assert len(mailbox.messages) == 1
    with mailing_app.app_context():
        notes = db.session.scalars(select(LogEntry.note).where(LogEntry.operation == LogEntry.PORTAL_LINK)
                                   .order_by(LogEntry.id)).all()
        assert notes == ["портал: link sent by e-mail", "портал: link asked, no e-mail on record",
                         "портал: link asked, no such client"]
        assert db.session.scalar(select(LogEntry.username).where(
            LogEntry.note == "портал: password set by the e-mailed link")) == f"абонат {a.number}"


def test_the_office_sends_access_from_the_card_and_a_newer_link_replaces_the_older(mailing_app, mailbox):
    with mailing_app.app_context():
        c = portal_client("Гама ООД", "C", email="gama@example.bg", password=None)
    office = Browser(mailing_app)
    office.login()
    card = office.get(f"/clients/show/{c.client_id}")
    assert "Абонатен портал" in card.text and "няма достъп" in card.text and "Изпрати достъп до портала" in card.text
    sent = office.submit(f"/portal-access/send/{c.client_id}", {}, form_url=f"/clients/show/{c.client_id}")
    assert sent.status_code == 302
    wait_for_background_jobs(mailing_app)
    first = mailbox.messages[-1]
    assert first["To"] == "gama@example.bg" and first["Subject"] == "Вашият достъп до абонатния портал"
    card = office.get(f"/clients/show/{c.client_id}")
    assert "изпратена е връзка, паролата още не е зададена" in card.text

    Browser(mailing_app).submit("/my/access", {"login": c.number})
    wait_for_background_jobs(mailing_app)
    second = mailbox.messages[-1]
    subscriber = Browser(mailing_app)
    replaced = subscriber.get(link_in(first))
    assert replaced.status_code == 404 and "по-нова" in replaced.text
    subscriber.submit(link_in(second), {"password": "gama-portal-1", "repeated": "gama-portal-1"})
    assert portal_login(subscriber, c.number, "gama-portal-1").status_code == 302

    card = office.get(f"/clients/show/{c.client_id}")
    assert "има достъп" in card.text and "последен вход" in card.text and "192.0.2.10" in card.text
    with mailing_app.app_context():
        access = db.session.scalar(select(PortalAccess).where(PortalAccess.client_id == c.client_id))
        assert access.last_login_at is not None
        sent_by = db.session.scalar(select(LogEntry).where(LogEntry.operation == LogEntry.PORTAL_LINK,
                                                           LogEntry.user_id.is_not(None)))
        assert sent_by.username == "admin" and "gama@example.bg" in sent_by.note


def test_access_cannot_be_sent_without_an_e_mail_or_the_right(app, admin):
    with app.app_context():
        c = portal_client("Гама ООД", "C", email=None, password=None)
    refused = admin.submit(f"/portal-access/send/{c.client_id}", {}, form_url=f"/clients/show/{c.client_id}",
                           follow_redirects=True)
    assert "Клиентът няма имейл" in refused.text
    assert admin.submit("/portal-access/send/999999", {}, form_url="/clients/list/").status_code == 404
