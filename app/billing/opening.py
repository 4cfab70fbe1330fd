"""Money carried over from the previous system: opening debts and credits, and the old payment history.

The import (app.imports) moves an ISP in; what the old system says a client
owes or has paid ahead comes in here, through billing's own records:

- a debt is an open charge "Задължение от предишната система", dated the
  day of the balance (the debtors report ages it from then), paid at the
  desk like any charge;
- a credit is an advance: a payment that holds its amount as advance
  (kind ADVANCE), which the billing cycle spends on the periods as they
  end, like any advance (app.billing.advance);
- a past payment is history only: it pays nothing (no allocation), moves
  no "paid until", and issues no receipt or invoice (payment_recorded is
  not sent).

Carried payments name no operator (no cashier received them: no cash desk
counts them) and say where they came from in `imported_from`. A correction
never edits a payment: a credit is withdrawn by a reversal (also carried)
and carried again. Functions check the actor's right, flush, and leave the
commit to the unit of work.
"""
from datetime import datetime, time

from flask_babel import gettext

from app.billing.charges import ZERO, add_charge, advance_total, cancel_charge, payment_method, payment_type
from app.billing.currency import to_eur
from app.billing.models import ADVANCE, CARRIED, DEPOSIT, OTHER, Charge, Payment, PaymentAllocation
from app.clients.models import Client
from app.core.errors import FieldErrors
from app.core.formatting import format_date, local_today, office_language
from app.core.money import check_amount, check_currency
from app.core.scoping import in_scope
from app.core.validators import InvalidValue
from app.extensions import db
from app.security import permissions
from app.security.rights import may

MAX_IMPORTED_FROM = 200  # Payment.imported_from


def debt_description():
    with office_language():
        return gettext("Debt from the previous system")


def moment_of(day):
    """A day of the old system as a stored moment (UTC): 10:00 UTC is the same day in Sofia, winter and summer."""
    return day if isinstance(day, datetime) else datetime.combine(day, time(10, 0))


def _check(actor, client, right, message):
    if not may(actor, right):
        raise FieldErrors({"amount": [message]})
    if not in_scope(client, actor):
        raise FieldErrors({"client": [gettext("This record belongs to another dealer.")]})


def _amount(amount, currency):
    try:
        amount, currency = check_amount(amount), check_currency(currency)
    except InvalidValue as error:
        raise FieldErrors({"amount": [str(error)]}) from None
    if amount <= 0:
        raise FieldErrors({"amount": [gettext("The amount must be more than zero.")]})
    return amount, currency


def _day(day):
    the_day = day.date() if isinstance(day, datetime) else day
    if the_day > local_today():
        raise FieldErrors({"day": [gettext("A balance or payment of the previous system is dated today or "
                                           "earlier, not %(day)s.", day=format_date(the_day))]})
    return day


def carry_debt(actor, client, amount, day, currency="EUR"):
    """The client's debt in the previous system, as an open charge dated `day`. Needs the right to add charges."""
    _check(actor, client, permissions.ADD_CHARGES, gettext("You do not have the right to add charges."))
    amount, currency = _amount(amount, currency)
    day = _day(day)
    charge = add_charge(client, debt_description(), amount, currency, type_code=OTHER, operator=actor,
                        day=day.date() if isinstance(day, datetime) else day)
    charge.created_at = moment_of(day)
    db.session.flush()
    return charge


def change_debt(actor, charge, amount, currency="EUR", day=None):
    """A corrected opening debt: the open charge's amount (and day, when given) change; the LOG keeps both.
    A paid or cancelled one is not changed: its payment is reversed first."""
    _check(actor, charge.client, permissions.ADD_CHARGES, gettext("You do not have the right to add charges."))
    amount, currency = _amount(amount, currency)
    db.session.scalar(db.select(Charge.id).where(Charge.id == charge.id).with_for_update())
    db.session.refresh(charge)
    if not charge.is_open:
        raise FieldErrors({"amount": [gettext(
            "The debt from the previous system is already paid or cancelled; reverse the payment first.")]})
    if day is not None:
        charge.created_at = moment_of(_day(day))
    charge.amount = to_eur(amount, currency, charge.created_at.date())
    db.session.flush()
    return charge


def cancel_debt(actor, charge, reason):
    """An opening debt the corrected balance no longer has: cancelled with the reason (never deleted)."""
    if not charge.is_open:
        raise FieldErrors({"amount": [gettext(
            "The debt from the previous system is already paid or cancelled; reverse the payment first.")]})
    cancel_charge(actor, charge, reason)


def _carried_payment(actor, client, amount, currency, day, imported_from, *, note=None, method=None,
                     type_code=DEPOSIT, reversal_of=None):
    method = method or payment_method(CARRIED)
    if method is None:
        raise FieldErrors({"method": [gettext("Unknown payment method %(code)s.", code=CARRIED)]})
    when = moment_of(day)
    amount_eur = to_eur(amount, currency, when.date())
    sign = -1 if reversal_of is not None else 1
    payment = Payment(
        client=client, dealer_id=client.dealer_id, operator=None, method=method, payment_type=payment_type(type_code),
        amount=sign * amount, currency=currency, amount_eur=sign * amount_eur, paid_at=when,
        note=(note or "").strip()[:500] or None, imported_from=(imported_from or "")[:MAX_IMPORTED_FROM] or None,
        reversal_of_id=reversal_of.id if reversal_of is not None else None,
    )
    db.session.add(payment)
    db.session.flush()
    return payment, amount_eur


def carry_credit(actor, client, amount, day, imported_from, currency="EUR"):
    """The client's credit in the previous system, as an advance dated `day` (the cycle spends it on the
    periods as they end). Needs the right to record payments."""
    _check(actor, client, permissions.RECORD_PAYMENT, gettext("You do not have the right to record payments."))
    amount, currency = _amount(amount, currency)
    day = _day(day)
    with office_language():
        note = gettext("Credit from the previous system")
    payment, amount_eur = _carried_payment(actor, client, amount, currency, day, imported_from, note=note)
    db.session.add(PaymentAllocation(payment=payment, kind=ADVANCE, amount_eur=amount_eur))
    db.session.flush()
    return payment


def withdraw_credit(actor, payment, imported_from):
    """A carried credit the corrected balance changes: its reversal (carried too, in no cash desk), once no
    later payment or the cycle has spent it. Raises FieldErrors when spent."""
    client = payment.client
    _check(actor, client, permissions.RECORD_PAYMENT, gettext("You do not have the right to record payments."))
    # The client locked, as the desk and the cycle lock it before they spend an advance.
    db.session.scalar(db.select(Client.id).where(Client.id == client.id).with_for_update())
    if db.session.scalar(db.select(Payment.id).where(Payment.reversal_of_id == payment.id)) is not None:
        return None
    held = sum((allocation.amount_eur for allocation in payment.allocations if allocation.kind == ADVANCE), ZERO)
    if held < payment.amount_eur or advance_total(client.id) < held:
        raise FieldErrors({"amount": [gettext(
            "The credit from the previous system has been spent already; it is no longer changed by an import.")]})
    with office_language():
        note = gettext("Corrected balance from the previous system")
    reversal, _eur = _carried_payment(actor, client, payment.amount, payment.currency, payment.paid_at,
                                      imported_from, note=note, method=payment.method,
                                      type_code=payment.payment_type.code or DEPOSIT, reversal_of=payment)
    return reversal


def record_past_payment(actor, client, amount, day, imported_from, *, currency="EUR", method=None, note=None):
    """A payment of the old system's history: dated in the past, paying nothing now (no allocation, "paid
    until" unmoved), with no receipt or invoice. Needs the right to record payments."""
    _check(actor, client, permissions.RECORD_PAYMENT, gettext("You do not have the right to record payments."))
    amount, currency = _amount(amount, currency)
    day = _day(day)
    payment, _eur = _carried_payment(actor, client, amount, currency, day, imported_from, note=note,
                                     method=method, type_code=OTHER)
    return payment
