"""Sending queued e-mail, never twice, many messages per claim and per SMTP connection.

`send_batch` claims up to BATCH messages, sends them over one SMTP
connection and records every outcome with a few UPDATEs (the job commits
each batch: app.notifications.jobs.send_many). A message whose sending failed stays FAILED and is
tried again by app.notifications.jobs.retry_failed (the billing cycle's run
queues it) until MAX_ATTEMPTS.

Without MAIL_SERVER (the embedded default) a message is kept as an .eml
file instead of being sent, and named in the application log: in the
MAIL_OUTBOX folder when one is configured, otherwise in the database
(app.core.files, kind "outbox"), which every machine reads — written in the
same unit of work as the message's SENT status.

Never twice: the key is unique, and a message is claimed by moving it from
pending/failed to SENDING in one UPDATE (… RETURNING what is sent), committed
on a connection of its own before the SMTP conversation (the one write
outside the unit of work besides security events: the claim must hold even
if the worker dies while sending). Two workers never both send a message: a
row is claimed by the one UPDATE that finds it pending or failed. Messages
left SENDING by a killed worker — at most one batch — are not sent again on
their own: they may or may not have gone out, and the notifications page
shows them.
"""
import logging
import re
import smtplib
import ssl
from collections import defaultdict
from functools import lru_cache
from email.charset import Charset
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from app.core import files
from app.core.formatting import utcnow
from app.extensions import db
from app.notifications.models import FAILED, MAX_ATTEMPTS, PENDING, SENDING, SENT, Notification

log = logging.getLogger(__name__)

# Messages per claim, connection and commit: the bound on those left SENDING by a worker that dies.
BATCH = 50


def _claim(notification_ids):
    """Takes the messages for sending, committed at once: each row goes to exactly one caller."""
    with db.engine.begin() as connection:
        return connection.execute(
            update(Notification)
            .where(Notification.id.in_(notification_ids), Notification.status.in_((PENDING, FAILED)),
                   Notification.attempts < MAX_ATTEMPTS)
            .values(attempts=Notification.attempts + 1, status=SENDING)
            .returning(Notification.id, Notification.recipient, Notification.subject, Notification.body)
        ).all()


def send_batch(notification_ids):
    """Sends the queued messages among `notification_ids` (at most BATCH); {id: status} of those it claimed.

    A message another sender has (or had), or one sent already, is left
    out. The outcomes are written in the caller's unit of work, not committed.
    """
    claimed = sorted(_claim(notification_ids))
    if not claimed:
        return {}
    errors = {}
    with Postman() as postman:
        for notification in claimed:
            try:
                postman.deliver(notification)
            except (OSError, smtplib.SMTPException) as error:
                errors[notification.id] = str(error)[:500] or type(error).__name__
    sent = [notification.id for notification in claimed if notification.id not in errors]
    if sent:
        db.session.execute(update(Notification).where(Notification.id.in_(sent))
                           .values(status=SENT, error=None, sent_at=utcnow()))
    by_error = defaultdict(list)
    for notification_id, error in errors.items():
        by_error[error].append(notification_id)
    for error, ids in by_error.items():
        db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(status=FAILED, error=error))
    return {notification.id: FAILED if notification.id in errors else SENT for notification in claimed}


def as_email(notification):
    """The message to send: `notification` has id, recipient, subject and body.

    Built with the email package's compat32 classes: EmailMessage's header
    registry parses and refolds every header, about 5 ms a message here,
    which made composing the larger part of sending (this takes about 1 ms).
    """
    message = MIMEText(notification.body, "plain", _UTF8)
    message["From"] = _address(current_app.config["MAIL_FROM"])
    message["To"] = _address(notification.recipient)
    message["Subject"] = _subject(notification.subject) if not notification.subject.isascii() \
        else notification.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"n{notification.id}", domain="billing")
    return message


_UTF8 = Charset("utf-8")  # one for every message: building it is a good part of MIMEText's cost
# A header value the compat32 policy writes as it is: printable ASCII words, single spaces between them.
_AS_IS = re.compile(r"[!-~]+(?: [!-~]+)*")


def as_bytes(notification, linesep="\n"):
    """The message as sent: what `as_email` gives, flattened as the outbox file (`bytes(message)`, "\n") or
    smtplib's send_message ("\r\n") writes it, byte for byte (tests/notifications/test_sending.py compares
    them), without the email package's generator: the headers the messages share are folded once per
    process, the others only when they need folding; the body is the same base64 (the cycle's worst day
    writes tens of thousands of messages)."""
    policy = _policy(linesep)
    headers = [
        _folded(policy, "Content-Type", 'text/plain; charset="utf-8"'), _folded(policy, "MIME-Version", "1.0"),
        _folded(policy, "Content-Transfer-Encoding", "base64"),
        _folded(policy, "From", _address(current_app.config["MAIL_FROM"])),
        _fold(policy, "To", _address(notification.recipient)),
        _folded_subject(policy, notification.subject) if not notification.subject.isascii()
        else _fold(policy, "Subject", notification.subject),
        _fold(policy, "Date", formatdate(localtime=False)),
        _fold(policy, "Message-ID", make_msgid(idstring=f"n{notification.id}", domain="billing")),
    ]
    body = _UTF8.body_encode(notification.body.encode("utf-8")) if notification.body else ""
    if linesep != "\n":
        body = body.replace("\n", linesep)
    return "".join(headers).encode("ascii", "surrogateescape") + linesep.encode() + body.encode("ascii")


@lru_cache(maxsize=4)
def _policy(linesep):
    return compat32.clone(linesep=linesep)


def _fold(policy, name, value):
    if isinstance(value, str) and _AS_IS.fullmatch(value) and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}{policy.linesep}"
    return policy.fold_binary(name, value).decode("ascii", "surrogateescape")


@lru_cache(maxsize=64)
def _folded(policy, name, value):
    """A header every message has."""
    return _fold(policy, name, value)


@lru_cache(maxsize=256)
def _folded_subject(policy, text):
    """A subject in Cyrillic, encoded (RFC 2047) and folded once: the cycle's warnings share a handful."""
    return _fold(policy, "Subject", _subject(text))


class _Subject(Header):
    """A subject in UTF-8 whose encoded form is computed once: the cycle's warnings share a handful of subjects
    (seller, service, day), and encoding one (RFC 2047, folded) was a third of composing a message."""

    def encode(self, splitchars=";, \t", maxlinelen=None, linesep="\n"):
        encoded = self.__dict__.setdefault("_encoded", {})
        key = (splitchars, maxlinelen, linesep)
        if key not in encoded:
            encoded[key] = super().encode(splitchars, maxlinelen, linesep)
        return encoded[key]


@lru_cache(maxsize=256)
def _subject(text):
    return _Subject(text, _UTF8)


@lru_cache(maxsize=4096)
def _envelope(sender, recipient):
    """The SMTP envelope's sender and recipients of a message, as smtplib's send_message reads them from its
    From and To headers."""
    return getaddresses([_address(sender)])[0][1], [address for _name, address in getaddresses([_address(recipient)])]


@lru_cache(maxsize=256)  # the sender's, above all: the same on every message
def _address(value):
    """An address as a header holds it: a display name in Cyrillic ("Мрежа ЕООД <office@…>") encoded."""
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else value


class Postman:
    """Hands messages to the configured SMTP server over one connection, or writes them to the outbox folder.

    The connection opens at the first message. One the server dropped is
    opened again for the next message; one that cannot be opened fails the
    rest of the batch at once (each of them FAILED, tried again later),
    rather than waiting for the server's timeout once per message.
    """

    def __init__(self):
        self.config = current_app.config
        self.smtp = self.outbox = self.unreachable = None

    def __enter__(self):
        return self

    def __exit__(self, *_exception):
        self._close(quit=True)

    def deliver(self, notification):
        if not self.config.get("MAIL_SERVER"):
            self._write(notification, as_bytes(notification))
            return
        if self.unreachable is not None:
            raise self.unreachable
        if self.smtp is None:
            try:
                self.smtp = self._connect()
            except (OSError, smtplib.SMTPException) as error:
                self.unreachable = error
                raise
        try:
            sender, recipients = _envelope(self.config["MAIL_FROM"], notification.recipient)
            if "".join([sender, *recipients]).isascii():
                # What send_message would send (it flattens the message with the generator: as_bytes).
                self.smtp.sendmail(sender, recipients, as_bytes(notification, "\r\n"))
            else:
                self.smtp.send_message(as_email(notification))  # SMTPUTF8, when the server offers it
        except OSError as error:  # smtplib's errors are OSErrors too
            refused = isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
            if not refused or self.smtp.sock is None:
                # The connection broke, or the server hung up (smtplib closes on a 421): the next message opens
                # a new one. After a refusal of this message alone smtplib has reset it for the next.
                self._close(quit=False)
            raise

    def _connect(self):
        config = self.config
        smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
        try:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self, quit):
        if self.smtp is None:
            return
        smtp, self.smtp = self.smtp, None
        try:
            if quit:
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass  # every message of the batch was handed over already; the goodbye is not one of them
        finally:
            smtp.close()

    def _write(self, notification, message):
        name = f"{notification.id:08d}.eml"
        if self.config.get("MAIL_OUTBOX"):
            if self.outbox is None:
                self.outbox = Path(self.config["MAIL_OUTBOX"])
                self.outbox.mkdir(parents=True, exist_ok=True)
            (self.outbox / name).write_bytes(message)
        else:
            files.remove([f"outbox-{name}"])  # a message sent again after a failure replaces its copy
            files.save_bytes(message, f"outbox-{name}", files.OUTBOX)
        log.info("mail to %s kept as %s: %s", notification.recipient, name, notification.subject)
