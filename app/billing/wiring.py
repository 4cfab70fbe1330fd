"""What billing plugs into the application, panel or worker alike (app.create_app calls init).

Its receivers: a payment that makes a suspended subscription current
reactivates it (a job, after the commit); a sale owes its installation fee;
a sale ended before it started owes nothing; a subscription that becomes active is paid from the
client's advance at once. Its clock: the nightly cycle's
check (app.billing.schedule), queued by `python worker.py --cron`.
"""
from app.billing import handlers
from app.billing.schedule import CHECK_MINUTES, run_due_days
from app.core import events, queue


def init(app):
    """Connects billing's receivers (once per process, however many apps: blinker keeps one connection per
    function) and registers its periodic job with this app."""
    events.payment_recorded.connect(handlers.reactivate_when_paid)
    events.subscription_sold.connect(handlers.charge_installation)
    events.subscription_status_changed.connect(handlers.cancel_charges_of_sale_never_started)
    events.subscription_status_changed.connect(handlers.spend_advance_on_activation)
    queue.every(app, CHECK_MINUTES, run_due_days, name="billing-cycle-schedule")
