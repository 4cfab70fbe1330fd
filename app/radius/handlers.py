"""What RADIUS does when other modules act: a subscription that may no longer be online is disconnected."""
from flask_babel import gettext

from app.clients.models import ACTIVE, SUSPENDED, TERMINATED
from app.core.events import subscription_frozen, subscription_status_changed
from app.core.queue import enqueue
from app.core.transaction import after_commit, unit_cache

CUT_OFF = (SUSPENDED, TERMINATED)


def disconnect_when_cut_off(actor, subscription, old_status, new_status, reason=None, **_details):
    """Suspended or terminated: its sessions are disconnected after the commit, one job for the whole unit."""
    if old_status != ACTIVE or new_status not in CUT_OFF:
        return None
    _disconnect_after_commit(actor, subscription, gettext("Suspended") if new_status == SUSPENDED
                             else gettext("Terminated"))
    return None


def disconnect_when_frozen(actor, subscription, freeze, **_details):
    """A freeze that starts today ends the subscription's sessions (later logins are refused while frozen)."""
    _disconnect_after_commit(actor, subscription, gettext("Frozen"))


def _disconnect_after_commit(actor, subscription, reason):
    # One job per unit of work and reason, however many subscriptions it cuts off (the billing cycle's
    # chunk suspends hundreds): the list is filled until the commit, then the job gets it whole.
    waiting = unit_cache().setdefault(("radius_disconnects", reason), [])
    if not waiting:
        after_commit(enqueue, "app.radius.jobs.disconnect", actor, waiting, reason)
    waiting.append(subscription.id)


def connect():
    subscription_status_changed.connect(disconnect_when_cut_off)
    subscription_frozen.connect(disconnect_when_frozen)
