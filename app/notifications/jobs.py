"""Background entry points of notifications: sending queued messages, and another try for the failed."""
from app.core.queue import enqueue
from app.core.transaction import after_commit, unit_of_work
from app.extensions import db
from app.notifications.models import FAILED, MAX_ATTEMPTS, Notification
from app.notifications.sending import send_notification


def send(actor, notification_id):
    """Sends one queued message (at most once: see app.notifications.sending)."""
    return send_notification(notification_id)


def send_many(actor, notification_ids):
    """Sends queued messages one after another, each outcome committed before the next message.

    Each message is claimed on its own, so a retried job sends none twice,
    and a worker dying halfway leaves the sent ones recorded as sent.
    """
    statuses = []
    for notification_id in notification_ids:
        with unit_of_work():
            statuses.append(send_notification(notification_id))
    return statuses


def retry_failed(actor):
    """Queues another try of each message the server refused or could not be reached for, up to MAX_ATTEMPTS."""
    ids = db.session.scalars(
        db.select(Notification.id).where(Notification.status == FAILED, Notification.attempts < MAX_ATTEMPTS)
        .order_by(Notification.id)
    ).all()
    for notification_id in ids:
        after_commit(enqueue, send, actor, notification_id)
    return len(ids)
