"""Background entry points of billing: take ids, call services, commit."""
from flask_babel import gettext

from app.clients.models import ACTIVE, SUSPENDED, Subscription
from app.clients.subscriptions import change_status
from app.core.formatting import format_date, local_today
from app.extensions import db


def reactivate(subscription_id):
    """Reactivate a suspended subscription that is paid again. Running it twice changes nothing twice."""
    subscription = db.session.get(Subscription, subscription_id, with_for_update=True)
    if subscription is None or subscription.status != SUSPENDED:
        return False
    if subscription.paid_until is None or subscription.paid_until < local_today():
        return False
    change_status(subscription, ACTIVE, gettext("Paid until %(day)s", day=format_date(subscription.paid_until)))
    db.session.commit()
    return True
