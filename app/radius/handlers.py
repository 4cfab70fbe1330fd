"""What RADIUS does when other modules act: a subscription that may no longer be online is disconnected,
one that paid leaves the walled garden, and a new speed reaches the subscribers online."""
from flask_babel import gettext

from app.clients.models import ACTIVE, SUSPENDED, TERMINATED
from app.core.queue import enqueue
from app.core.transaction import after_commit, unit_cache
from app.radius import attributes
from app.radius.jobs import change_speed, disconnect, lift_walled_garden

CUT_OFF = (SUSPENDED, TERMINATED)


def disconnect_when_cut_off(actor, subscription, old_status, new_status, reason=None, **_details):
    """Suspended or terminated: its sessions are disconnected after the commit, one job for the whole unit.
    Active again after a suspension (it paid): its walled-garden sessions are disconnected, so it logs in."""
    if old_status == ACTIVE and new_status in CUT_OFF:
        _after_commit(disconnect, actor, subscription,
                      gettext("Suspended") if new_status == SUSPENDED else gettext("Terminated"))
    elif old_status == SUSPENDED and new_status == ACTIVE:
        _after_commit(lift_walled_garden, actor, subscription, gettext("Active again: out of the walled garden"))
    return None


def disconnect_when_frozen(actor, subscription, freeze, **_details):
    """A freeze that starts today ends the subscription's sessions (later logins are refused while frozen;
    a freeze that starts later is enforced on its first day by app.radius.disconnect.enforce)."""
    _after_commit(disconnect, actor, subscription, gettext("Frozen"))


def change_speed_online(actor, service, old, new, **_details):
    """A service's new speed: a CoA-Request to each of its subscribers online, after the commit."""
    after_commit(enqueue, change_speed, actor, service.id,
                 gettext("New speed %(down)s/%(up)s kbit/s", down=new[0] or 0, up=new[1] or 0), background=True)


def check_service_parameter(_actor, parameter, **_details):
    """A RADIUS service's extra parameter: a dictionary attribute for makes that know it, never a second speed."""
    return attributes.parameter_errors(parameter)


def _after_commit(job, actor, subscription, reason):
    # One job per unit of work, job and reason, however many subscriptions it concerns (the billing cycle's
    # chunk suspends hundreds): the list is filled until the commit, then the job gets it whole. In the
    # embedded default it runs in the background thread: a NAS that does not answer keeps no operator waiting.
    waiting = unit_cache().setdefault(("radius", job.__name__, reason), [])
    if not waiting:
        after_commit(enqueue, job, actor, waiting, reason, background=True)
    waiting.append(subscription.id)
