"""Domain events: how one module reacts to another's operation without importing it.

The module that performs an operation sends the event from its services.py,
inside the unit of work, with the acting actor as sender; modules that care
connect a receiver in their wiring.py's init(app), called by create_app for
the panel and the worker alike (receivers live in the module's handlers.py). Receivers run at once, in the same transaction: what they
write is committed or rolled back with the operation. An effect outside the
database (a job, a mail, a RADIUS disconnect) is registered by the receiver
with app.core.transaction.after_commit, so it happens only once the
operation is committed.

A receiver may return a message for the operator (e.g. why no invoice was
issued); the sender collects them as warnings.
"""
from blinker import Namespace

_events = Namespace()

# payment=Payment (just recorded and flushed, allocations included)
payment_recorded = _events.signal("payment-recorded")
# payment=the reversed Payment, reversal=the new reversal Payment
payment_reversed = _events.signal("payment-reversed")
# subscription=Subscription (flushed, addresses allocated)
subscription_sold = _events.signal("subscription-sold")
# subscription=Subscription, old_status, new_status, reason
subscription_status_changed = _events.signal("subscription-status-changed")
# subscription=Subscription, freeze=SubscriptionFreeze that starts today (flushed)
subscription_frozen = _events.signal("subscription-frozen")
# service=Service whose download/upload speed changed, old=(down, up), new=(down, up)
speed_changed = _events.signal("speed-changed")
service_ipv6_changed = _events.signal("service-ipv6-changed")
# parameter=ServiceParameter about to be stored (panel or API); a receiver returns {field: [message]} of what it
# refuses (RADIUS: an attribute its dictionary does not know, a second speed), or nothing
service_parameter_checked = _events.signal("service-parameter-checked")
# operator=Operator, link=the enrolment address (works once), expires_at=its end (UTC)
second_factor_link_issued = _events.signal("second-factor-link-issued")
# operator=Operator, change="enrolled" or "reset"
second_factor_changed = _events.signal("second-factor-changed")


def send(event, actor, **details):
    """Send `event` as `actor`; returns the messages receivers returned for the operator."""
    return [message for _receiver, message in event.send(actor, **details) if message]
