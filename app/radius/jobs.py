"""Background entry points of RADIUS: take the actor and ids, call the operations; each returns how many
requests the NASes answered."""
from app.radius import disconnect as requests


def _answered(outcomes):
    return sum(1 for outcome in outcomes if outcome.answered_at is not None)


def disconnect(actor, subscription_ids, reason):
    """Disconnect-Requests for the open sessions of these subscriptions."""
    return _answered(requests.disconnect(subscription_ids, reason))


def lift_walled_garden(actor, subscription_ids, reason):
    """Disconnect-Requests for these subscriptions' sessions in a walled garden: they dial again, let in."""
    return _answered(requests.disconnect(subscription_ids, reason, walled_garden_only=True))


def change_speed(actor, service_id, reason):
    """CoA-Requests with the service's new speed for its subscribers online."""
    return _answered(requests.change_speed(service_id, reason))


def enforce(actor):
    """Disconnect-Requests again for the sessions still online that may not be."""
    return _answered(requests.enforce())
