"""Background entry points of billing: take the actor and ids, call services."""
from flask_babel import gettext

from app.billing.services import payment_references, record_payment
from app.clients.models import ACTIVE, SUSPENDED, Subscription
from app.clients.subscriptions import change_status_as_consequence
from app.core.formatting import format_date, local_today, office_language
from app.extensions import db
from app.security.permissions import RECORD_PAYMENT
from app.core.scoping import scope


def reactivate(actor, subscription_id):
    """Reactivate a suspended subscription that is paid again, as `actor`. Running it twice changes nothing twice.

    The subscription is looked up within the actor's dealer scope: a job
    acting for a dealer's operator never touches another dealer's clients.
    """
    query = scope(db.select(Subscription).where(Subscription.id == subscription_id), actor)
    subscription = db.session.scalar(query.with_for_update(of=Subscription))
    if subscription is None or subscription.status != SUSPENDED:
        return False
    if subscription.paid_until is None or subscription.paid_until < local_today():
        return False
    with office_language():
        reason = gettext("Paid until %(day)s", day=format_date(subscription.paid_until))
    # A payment made it current: the payment's actor (who may record payments) reactivates it.
    change_status_as_consequence(actor, subscription, ACTIVE, reason, right=RECORD_PAYMENT)
    return True


def record_payment_job(actor, client_id, *, amount, currency="EUR", method_code=None, note=None, request_key=None):
    """A payment that arrives outside the panel (a bank statement line, an import), as `actor`.

    Retried safely: a request key already recorded records nothing new.
    Returns the payment's id.
    """
    client, method, _type = payment_references(actor, client_id, method=method_code)
    return record_payment(actor, client, amount=amount, currency=currency, method=method, note=note,
                          request_key=request_key).payment.id
