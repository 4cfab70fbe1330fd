"""Background entry points of notifications."""
from app.core.transaction import unit_of_work
from app.notifications.services import send_notification


def send(actor, notification_id):
    """Sends one queued message (at most once: see app.notifications.services)."""
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
