"""The payment form: what it offers for a client, and reading what was sent back."""
from app.billing import periods as period_rules
from app.billing.models import PaymentMethod, PaymentType
from app.billing.charges import (
    LIVE,
    ZERO,
    advance_total,
    open_charges,
    period_fee_eur,
    periods_for,
    subscription_due,
)
from app.core.formatting import local_today
from app.core.money import CURRENCY_CHOICES
from app.extensions import db

MONTH_CHOICES = (1, 2, 3, 4, 5, 6, 12)


def month_options(subscription, due_periods, day):
    """(months, price in EUR, paid until afterwards) for each count the form offers (and the count due)."""
    counts = sorted(set(MONTH_CHOICES) | {due_periods})
    fee = period_fee_eur(subscription, day)
    options = []
    for count in counts:
        paid = periods_for(subscription, count, day)
        options.append((count, period_rules.periods_price(paid, fee), paid[-1].end))
    return options


def payment_form_context(client, args, values):
    """Everything the form shows: subscriptions with month choices, open charges, methods, types.

    Opened from the card, it preselects what the card says is due today:
    the months of every subscription not paid through today, and the open
    charges; the client's advance is subtracted from the total, as
    record_payment does. ?subscription=<id> (a subscription's "pay" button)
    preselects what that subscription needs to be paid through today, at
    least its next month. A form sent back with errors keeps what was sent.
    """
    day = local_today()
    preselected = args.get("subscription", type=int)
    rows = []
    for subscription in client.subscriptions:
        if subscription.status not in LIVE or not subscription.service.monthly_fee:
            continue
        due = subscription_due(subscription, day)
        chosen = (values.get("periods") or {}).get(str(subscription.id))
        overdue = subscription.owes_periods(day)
        if chosen is None and not values and (preselected == subscription.id or (preselected is None and overdue)):
            chosen = due.periods
        rows.append({"subscription": subscription, "options": month_options(subscription, due.periods, day),
                     "chosen": chosen or 0, "due": due, "overdue": overdue})
    charges = open_charges(client.id)
    chosen_charges = values.get("charge_ids")
    return {
        "rows": rows,
        "charges": charges,
        "chosen_charges": {int(charge_id) for charge_id in chosen_charges} if chosen_charges is not None
        else {charge.id for charge in charges},
        "methods": db.session.scalars(db.select(PaymentMethod).where(PaymentMethod.active).order_by(
            PaymentMethod.id)).all(),
        "types": db.session.scalars(db.select(PaymentType).where(PaymentType.active).order_by(PaymentType.id)).all(),
        "currencies": CURRENCY_CHOICES,
        "values": values,
        "zero": ZERO,
        "advance": advance_total(client.id),
    }


def read_payment_form(form):
    """The form's fields as record_payment's arguments (it checks them)."""
    periods = {}
    for key, value in form.items():
        if key.startswith("months_") and value.strip() not in ("", "0"):
            periods[key[len("months_"):]] = value.strip()
    method_id = form.get("method", type=int)
    type_id = form.get("payment_type", type=int)
    return {
        "periods": periods,
        "charge_ids": [value for value in form.getlist("charge") if value.isdigit()],
        "amount": form.get("amount", "").strip() or None,
        "currency": form.get("currency", "EUR"),
        "method": db.session.get(PaymentMethod, method_id) if method_id else None,
        "chosen_type": db.session.get(PaymentType, type_id) if type_id else None,
        "note": form.get("note"),
        "request_key": (form.get("request_key") or "")[:64] or None,
    }
