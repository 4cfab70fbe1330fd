"""Background entry points of RADIUS: take the actor and ids, call the operations."""
from app.radius.disconnect import disconnect as disconnect_sessions


def disconnect(actor, subscription_ids, reason):
    """Disconnect-Requests for the open sessions of these subscriptions; returns how many were answered."""
    outcomes = disconnect_sessions(subscription_ids, reason)
    return sum(1 for outcome in outcomes if outcome.answered_at is not None)
