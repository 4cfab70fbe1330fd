"""Background entry points of notifications."""
from app.notifications.services import send_notification


def send(actor, notification_id):
    """Sends one queued message (at most once: see app.notifications.services)."""
    return send_notification(notification_id)
