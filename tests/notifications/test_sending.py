"""Sending queued e-mail in batches: one claim, one SMTP connection and a few UPDATEs per batch, never twice."""
import email
import email.generator
import email.policy
import io
import socket
import threading
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core.actors import SystemActor
from app.core.transaction import unit_of_work
from app.extensions import db
from app.notifications import jobs, sending
from app.notifications.models import FAILED, MAX_ATTEMPTS, Notification
from app.notifications.sending import BATCH
from tests.conftest import Statements

ACTOR = SystemActor("тест")
COUNT = 2 * BATCH + 7  # three batches, the last one short


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """The SMTP server's side: what it received, over how many connections; refuses or hangs up on cue."""

    def __init__(self, refuse=(), hang_up=()):
        self.messages, self.sessions = [], []
        self.refuse, self.hang_up = set(refuse), set(hang_up)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if not any(seen is session for seen in self.sessions):
                self.sessions.append(session)  # one per connection (kept, so that no two share an id)
        if set(envelope.rcpt_tos) & self.hang_up:
            return "421 4.3.2 closing the connection"
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def recipients(self):
        return sorted(message["To"] for message in self.messages)


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on localhost (aiosmtpd) the application sends to; its Mailbox."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_FROM", "billing@example.bg")
    yield mailbox
    controller.stop()


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


def address(number):
    return f"client{number:03d}@example.bg"


def queued(app, count=COUNT):
    """`count` messages waiting to be sent (as the billing cycle leaves them before its job runs); their ids."""
    with app.app_context():
        rows = [Notification(key=f"test:{number}", recipient=address(number), subject=f"Писмо {number}",
                             body=f"Текст на писмо {number}.") for number in range(count)]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def statuses(app):
    with app.app_context():
        return dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())


def data_statement(statement):
    """A statement that reads or writes rows (not BEGIN, SAVEPOINT or the like)."""
    return statement.split(None, 1)[0].upper() in ("SELECT", "UPDATE", "INSERT", "DELETE")


def test_a_batch_costs_one_claim_and_one_update_and_one_smtp_connection(app, smtp):
    ids = queued(app)
    with Statements(app, keep=data_statement) as statements, app.app_context():
        sent = jobs.send_many(ACTOR, ids)
    assert list(sent.values()) == ["sent"] * COUNT
    assert smtp.recipients() == [address(number) for number in range(COUNT)]
    assert len(smtp.sessions) == 3  # one per batch, not one per message
    # Per batch: the claim (UPDATE … RETURNING) and the outcome (one UPDATE): 6, where one message cost 5.
    assert len(statements) == 6, statements
    assert statuses(app) == {"sent": COUNT}


def test_the_outbox_gets_one_file_per_message(app, outbox):
    ids = queued(app, 3)
    with app.app_context():
        jobs.send_many(ACTOR, ids)
    written = sorted(path.name for path in outbox.glob("*.eml"))
    assert written == [f"{notification_id:08d}.eml" for notification_id in ids]
    message = email.message_from_bytes((outbox / written[0]).read_bytes(), policy=email.policy.default)
    assert message["To"] == address(0) and message.get_content().strip() == "Текст на писмо 0."


def test_a_retried_job_sends_nothing_twice(app, smtp):
    ids = queued(app)
    with app.app_context():
        jobs.send_many(ACTOR, ids)
        assert jobs.send_many(ACTOR, ids) == {}  # RQ ran the job again: every message is claimed already
        assert jobs.send(ACTOR, ids[0]) is None
    assert smtp.recipients() == [address(number) for number in range(COUNT)]


def test_two_workers_on_the_same_messages_send_each_once(app, smtp):
    ids = queued(app)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                results.append(jobs.send_many(ACTOR, ids))
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert smtp.recipients() == [address(number) for number in range(COUNT)]
    assert sorted(key for result in results for key in result) == ids
    assert statuses(app) == {"sent": COUNT}


def test_a_refused_recipient_fails_alone_and_is_tried_again_up_to_the_limit(app, smtp):
    smtp.refuse.add(address(5))
    ids = queued(app)
    with app.app_context():
        outcome = jobs.send_many(ACTOR, ids)
    assert outcome[ids[5]] == FAILED and list(outcome.values()).count("sent") == COUNT - 1
    assert len(smtp.sessions) == 3  # the refusal did not cost the batch its connection
    with app.app_context():
        refused = db.session.get(Notification, ids[5])
        assert refused.attempts == 1 and "no such mailbox" in refused.error
    for _retry in range(MAX_ATTEMPTS + 1):
        with app.app_context(), unit_of_work():
            jobs.retry_failed(ACTOR)
    with app.app_context():
        refused = db.session.get(Notification, ids[5])
        assert refused.status == FAILED and refused.attempts == MAX_ATTEMPTS
    # The others were sent once, whatever the retries.
    assert smtp.recipients() == [address(number) for number in range(COUNT) if number != 5]

    smtp.refuse.clear()
    with app.app_context():
        db.session.execute(sa.update(Notification).where(Notification.id == ids[5]).values(attempts=1))
        db.session.commit()
        with unit_of_work():
            assert jobs.retry_failed(ACTOR) == 1
    assert statuses(app) == {"sent": COUNT}
    assert smtp.recipients() == sorted(address(number) for number in range(COUNT))


def test_a_server_that_hangs_up_costs_one_message_and_a_new_connection(app, smtp):
    smtp.hang_up.add(address(3))
    ids = queued(app, 10)
    with app.app_context():
        outcome = jobs.send_many(ACTOR, ids)
    assert [status for status in outcome.values()].count(FAILED) == 1 and outcome[ids[3]] == FAILED
    assert smtp.recipients() == [address(number) for number in range(10) if number != 3]
    assert len(smtp.sessions) == 2


def test_an_unreachable_server_fails_the_batch_at_once_and_a_later_try_sends_it(app, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens
    ids = queued(app, 5)
    with app.app_context():
        assert set(jobs.send_many(ACTOR, ids).values()) == {FAILED}
        failed = db.session.scalars(select(Notification)).all()
        assert {(row.status, row.attempts) for row in failed} == {(FAILED, 1)} and all(row.error for row in failed)
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)  # the office switched to the outbox, say
    with app.app_context(), unit_of_work():
        assert jobs.retry_failed(ACTOR) == 5
    assert statuses(app) == {"sent": 5}
    assert len(list(outbox.glob("*.eml"))) == 5


# as_bytes writes the message without the email package's generator: it must be the generator's bytes — the
# outbox file (bytes(message), "\n") and what smtplib's send_message sends ("\r\n") — for any subject, address
# and text. Date and Message-ID are the moment's: both ways get the same.
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)
_address = st.one_of(st.emails(), st.builds(lambda name, mail: f"{name} <{mail}>", _text, st.emails()),
                     st.from_regex(r"[!-~]{1,90}( [!-~]{1,20}){0,3}", fullmatch=True))


def generator_bytes(message, linesep):
    with io.BytesIO() as flat:
        email.generator.BytesGenerator(flat, mangle_from_=linesep == "\r\n").flatten(message, linesep=linesep)
        return flat.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recipient=_address, subject=st.one_of(_text, st.from_regex(r"[ -~]{0,200}", fullmatch=True)), body=_text,
       sender=st.sampled_from(["billing@example.bg", "Мрежа ЕООД <office@example.bg>", "Net Ltd <o@example.bg>"]))
def test_a_message_written_directly_is_the_generators_message(app, monkeypatch, recipient, subject, body, sender):
    monkeypatch.setattr(sending, "formatdate", lambda localtime=False: "Mon, 07 Dec 2026 22:34:23 -0000")
    monkeypatch.setattr(sending, "make_msgid", lambda idstring, domain: f"<1765.{idstring}@{domain}>")
    monkeypatch.setitem(app.config, "MAIL_FROM", sender)
    notification = SimpleNamespace(id=17, recipient=recipient, subject=subject, body=body)
    with app.app_context():
        try:
            message = sending.as_email(notification)
        except UnicodeError:  # an address the email package refuses ("x <\x80>") is refused alike
            with pytest.raises(UnicodeError):
                sending.as_bytes(notification)
            return
        assert sending.as_bytes(notification) == bytes(message)
        assert sending.as_bytes(notification, "\r\n") == generator_bytes(message, "\r\n")


def test_smtp_gets_the_message_as_send_message_sent_it(app, smtp):
    ids = queued(app, 2)
    with app.app_context():
        db.session.execute(sa.update(Notification).where(Notification.id == ids[1])
                           .values(recipient="Иван Петров <ivan@example.bg>", subject="Платено до 31.01.2027"))
        db.session.commit()
        jobs.send_many(ACTOR, ids)
    received = sorted(smtp.messages, key=lambda message: message["To"])
    assert [message["To"] for message in received] == ["client000@example.bg", "Иван Петров <ivan@example.bg>"]
    assert received[1]["Subject"] == "Платено до 31.01.2027"
    assert received[1].get_content() == "Текст на писмо 1."
