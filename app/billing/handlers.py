"""What billing does when other operations happen (connected in app.billing.wiring.init)."""
from app.billing.advance import spend_advance
from app.billing.charges import add_installation_charge, cancel_sale_charges
from app.billing.jobs import reactivate
from app.billing.models import PAID_PERIODS
from app.clients.models import ACTIVE, PENDING, SUSPENDED, TERMINATED
from app.core.formatting import local_today
from app.core.queue import enqueue
from app.core.transaction import after_commit


def reactivate_when_paid(actor, payment, **_details):
    """A payment that makes a suspended subscription current reactivates it, once the payment is committed."""
    today = local_today()
    for allocation in payment.allocations:
        subscription = allocation.subscription
        if allocation.kind == PAID_PERIODS and subscription.status == SUSPENDED and subscription.paid_until >= today:
            after_commit(enqueue, reactivate, actor, subscription.id)


def charge_installation(actor, subscription, **_details):
    """A sold service owes its installation fee from the day of the sale."""
    add_installation_charge(subscription, actor)


def cancel_charges_of_sale_never_started(actor, subscription, old_status, new_status, reason=None, **_details):
    """A sale ended before the service started (its installation cancelled) owes nothing: its open charges go."""
    if old_status == PENDING and new_status == TERMINATED:
        cancel_sale_charges(actor, subscription, reason or "")


def spend_advance_on_activation(actor, subscription, old_status, new_status, **_details):
    """A subscription that becomes active (installation completed, sale without installation, its activation
    day come, reactivation by hand) is paid from the client's advance at once, by the cycle's rule: the card,
    the home page, the debtors report and the collectors agree from the activation on."""
    if new_status == ACTIVE and old_status in (PENDING, SUSPENDED):
        spend_advance(actor, subscription)

