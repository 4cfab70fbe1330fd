"""Queueing e-mail, once per key.

`queue_mail` stores the message (flushes, in the caller's unit of work) and
registers its sending after the commit, as a job (app.notifications.jobs);
how a message is sent, and never twice, is app.notifications.sending.
"""
from sqlalchemy import insert

from app.core.queue import enqueue
from app.core.transaction import after_commit
from app.extensions import db
from app.notifications.jobs import send, send_many
from app.notifications.models import Notification


def queue_mail(actor, key, recipient, subject, body, client=None, background=False):
    """The message with this key, queued now unless it was queued before (then the existing one). Flushes.

    Sending starts after the commit (a job), so a rolled-back unit sends nothing. `background`: without
    Redis the job runs in the process's background thread, not before the answer (a page that must answer
    alike whether it sent a mail or not: the portal's access links).
    """
    existing = db.session.scalar(db.select(Notification).where(Notification.key == key))
    if existing is not None:
        return existing
    notification = Notification(key=key, recipient=recipient, subject=subject, body=body, client=client)
    db.session.add(notification)
    db.session.flush()
    after_commit(enqueue, send, actor, notification.id, background=background)
    return notification


def queue_mails(actor, messages):
    """Many messages at once (the billing cycle's warnings of a chunk): one multi-row INSERT, one sending job.

    `messages`: dicts with key, recipient, subject, body and client_id. A
    key queued before is left out. Returns the ids of the messages queued.
    """
    keys = [message["key"] for message in messages]
    queued = set()
    for start in range(0, len(keys), 500):
        queued.update(db.session.scalars(db.select(Notification.key).where(
            Notification.key.in_(keys[start:start + 500]))))
    messages = [message for message in messages if message["key"] not in queued]
    if not messages:
        return []
    ids = list(db.session.scalars(insert(Notification).returning(Notification.id), messages))
    # At the front of the queue: a cycle's chunk's warnings go out as the chunk commits, while the run's later
    # chunks wait their turn, rather than all after the last chunk (RQ takes jobs in order).
    after_commit(enqueue, send_many, actor, ids, first=True)
    return ids
