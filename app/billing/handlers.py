"""What billing does when other operations happen (connected in app.billing.views.register)."""
from app.billing.charges import add_installation_charge
from app.billing.models import PAID_PERIODS
from app.clients.models import SUSPENDED
from app.core import events
from app.core.formatting import local_today
from app.core.queue import enqueue
from app.core.transaction import after_commit


def reactivate_when_paid(actor, payment, **_details):
    """A payment that makes a suspended subscription current reactivates it, once the payment is committed."""
    today = local_today()
    for allocation in payment.allocations:
        subscription = allocation.subscription
        if allocation.kind == PAID_PERIODS and subscription.status == SUSPENDED and subscription.paid_until >= today:
            after_commit(enqueue, "app.billing.jobs.reactivate", actor, subscription.id)


def charge_installation(actor, subscription, **_details):
    """A sold service owes its installation fee from the day of the sale."""
    add_installation_charge(subscription, actor)


def connect():
    events.payment_recorded.connect(reactivate_when_paid)
    events.subscription_sold.connect(charge_installation)
