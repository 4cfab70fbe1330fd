"""Background entry points of notifications: sending queued messages, and another try for the failed."""
from app.core.queue import enqueue
from app.core.transaction import after_commit, unit_of_work
from app.extensions import db
from app.notifications.models import FAILED, MAX_ATTEMPTS, Notification
from app.notifications.sending import BATCH, send_batch

# Messages per retry job: a few batches each, so that two workers share a long list.
RETRY_JOB = 10 * BATCH


def send(actor, notification_id):
    """Sends one queued message (at most once: see app.notifications.sending); its status, or None when
    another sender has it (or had it)."""
    return send_many(actor, [notification_id]).get(notification_id)


def send_many(actor, notification_ids):
    """Sends queued messages a batch at a time, each batch's outcome committed before the next is claimed.

    Each batch is claimed on its own, so a retried job sends none twice, and
    a worker dying halfway leaves the sent batches recorded as sent (and at
    most one batch SENDING, for a person to look at). {id: status}.
    """
    statuses = {}
    for start in range(0, len(notification_ids), BATCH):
        with unit_of_work():
            statuses.update(send_batch(notification_ids[start:start + BATCH]))
    return statuses


def retry_failed(actor):
    """Queues another try of each message the server refused or could not be reached for, up to MAX_ATTEMPTS."""
    ids = db.session.scalars(
        db.select(Notification.id).where(Notification.status == FAILED, Notification.attempts < MAX_ATTEMPTS)
        .order_by(Notification.id)
    ).all()
    for start in range(0, len(ids), RETRY_JOB):
        after_commit(enqueue, send_many, actor, ids[start:start + RETRY_JOB])
    return len(ids)
