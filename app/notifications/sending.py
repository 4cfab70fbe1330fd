"""Sending a queued e-mail, never twice.

`send_notification` claims the message, sends it and records the outcome; a
message whose sending failed stays FAILED and is tried again by
app.notifications.jobs.retry_failed (the billing cycle's run queues it)
until MAX_ATTEMPTS.

Without MAIL_SERVER (the embedded default) a message is kept as an .eml
file instead of being sent, and named in the application log: in the
MAIL_OUTBOX folder when one is configured, otherwise in the database
(app.core.files, kind "outbox"), which every machine reads — written in the
same unit of work as the message's SENT status.

Never twice: the key is unique, and a message is claimed by moving it from
pending/failed to SENDING in one UPDATE, committed on a connection of its
own before the SMTP conversation (the one write outside the unit of work
besides security events: the claim must hold even if the worker dies while
sending). Two workers never both send it; a message left SENDING by a
killed worker is not sent again on its own — the notifications page shows it.
"""
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from app.core import files
from app.core.formatting import utcnow
from app.extensions import db
from app.notifications.models import FAILED, MAX_ATTEMPTS, PENDING, SENDING, SENT, Notification

log = logging.getLogger(__name__)


def _claim(notification_id):
    """Takes the message for sending, committed at once: True for exactly one caller."""
    with db.engine.begin() as connection:
        claimed = connection.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status.in_((PENDING, FAILED)),
                   Notification.attempts < MAX_ATTEMPTS)
            .values(attempts=Notification.attempts + 1, status=SENDING)
        )
    return claimed.rowcount == 1


def send_notification(notification_id):
    """Sends one queued message; returns its status, or None when another sender has it (or had it)."""
    if not _claim(notification_id):
        return None
    notification = db.session.get(Notification, notification_id)
    db.session.refresh(notification)
    try:
        deliver(notification)
    except (OSError, smtplib.SMTPException) as error:
        notification.status = FAILED
        notification.error = str(error)[:500] or type(error).__name__
    else:
        notification.status = SENT
        notification.error = None
        notification.sent_at = utcnow()
    db.session.flush()
    return notification.status


def as_email(notification):
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = notification.recipient
    message["Subject"] = notification.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"n{notification.id}", domain="billing")
    message.set_content(notification.body)
    return message


def deliver(notification):
    """Hands the message to the configured SMTP server, or writes it to the outbox folder without one."""
    config = current_app.config
    message = as_email(notification)
    if not config.get("MAIL_SERVER"):
        name = f"{notification.id:08d}.eml"
        if config.get("MAIL_OUTBOX"):
            outbox = Path(config["MAIL_OUTBOX"])
            outbox.mkdir(parents=True, exist_ok=True)
            (outbox / name).write_bytes(bytes(message))
        else:
            files.remove([f"outbox-{name}"])  # a message sent again after a failure replaces its copy
            files.save_bytes(bytes(message), f"outbox-{name}", files.OUTBOX)
        log.info("mail to %s kept as %s: %s", notification.recipient, name, notification.subject)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
