"""The import's money rows: opening balances and the old payment history, through billing's own operations.

A balance row (kind "balances") is the client's balance in the old system,
keyed by the client's number: a debt becomes an open charge "Задължение от
предишната система", a credit an advance (app.billing.opening). A corrected
balance changes what the first one made: a debt's amount is corrected while
it is open, a credit is withdrawn (by a carried reversal) and carried again
while unspent; a row whose balance is now zero cancels what the first made.

A payment row (kind "payments") is history: dated in the past, paying
nothing now, with no receipt or invoice; the same row again changes
nothing, and a changed one is refused (a payment is never edited: reverse
it in the panel).
"""
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from app.billing.models import Charge, Payment, PaymentMethod
from app.billing.opening import (
    cancel_debt,
    carry_credit,
    carry_debt,
    change_debt,
    record_past_payment,
    withdraw_credit,
)
from app.core.formatting import local_today
from app.core.money import check_amount, check_currency, format_money
from app.core.validators import InvalidValue, parse_day
from app.extensions import db
from app.imports.columns import HEADERS
from app.imports.models import BALANCES, PAYMENTS

CREATED, CHANGED, UNCHANGED = "created", "changed", "unchanged"
NO_RECORD, CHARGE, PAYMENT = "none", "charge", "payment"


class Refused(Exception):
    """A row the import will not take; the message says why, in Bulgarian."""


def _amount(values, field, kind):
    text = str(values.get(field) or "").strip()
    if not text:
        return None
    try:
        amount = check_amount(text)
    except InvalidValue as error:
        raise Refused(f"{HEADERS[kind][field]}: {error.message}") from None
    return amount if amount > 0 else None


def _currency(values, kind):
    text = str(values.get("currency") or "").strip().upper() or "EUR"
    try:
        return check_currency(text)
    except InvalidValue as error:
        raise Refused(f"{HEADERS[kind]['currency']}: {error.message}") from None


def _day(value, kind, required=False):
    """A day (or, from a database, a moment) of the old system, not in the future."""
    if isinstance(value, datetime):
        day = value
    else:
        try:
            day = parse_day(value or "", **({} if required else {"default": None}))
        except InvalidValue as error:
            raise Refused(f"{HEADERS[kind]['day']}: {error.message}") from None
    if day is not None and (day.date() if isinstance(day, datetime) else day) > local_today():
        raise Refused(gettext("%(column)s: a day of the previous system is today or earlier.",
                              column=HEADERS[kind]["day"]))
    return day


class MoneyRows:
    """RowImporter's balance and payment rows (it gives actor, note, keep, changed, labels, client_by_key)."""

    # Opening balances

    def balance_row(self, number, key, values, existing):
        client = self.client_by_key(key)
        fields = self.balance_fields(values)
        if existing is None:
            if fields["debt"] is None and fields["credit"] is None:
                return UNCHANGED, client.name, gettext("No balance: nothing owed, no advance.")
            record, what = self.carry(client, fields, number)
            self.keep(None, key, record, number, fields | {"record": what})
            return CREATED, client.name, self.balance_words(fields)
        changed = self.changed(existing, fields)
        if not changed:
            return UNCHANGED, client.name, ""
        record, what = self.correct(client, existing.imported_values.get("record"), existing.record_id, fields,
                                    number)
        self.keep(existing, key, record or client, number, fields | {"record": what})
        return CHANGED, client.name, self.labels(changed)

    def balance_fields(self, values):
        debt, credit = _amount(values, "debt", BALANCES), _amount(values, "credit", BALANCES)
        if debt is not None and credit is not None:
            raise Refused(gettext("Fill in either %(debt)s or %(credit)s, not both.",
                                  debt=HEADERS[BALANCES]["debt"], credit=HEADERS[BALANCES]["credit"]))
        return {"debt": str(debt) if debt is not None else None, "credit": str(credit) if credit is not None else None,
                "day": _day(values.get("day"), BALANCES), "currency": _currency(values, BALANCES)}

    @staticmethod
    def balance_words(fields):
        if fields["debt"] is not None:
            return gettext("owes %(amount)s", amount=format_money(fields["debt"], fields["currency"]))
        return gettext("advance %(amount)s", amount=format_money(fields["credit"], fields["currency"]))

    def carry(self, client, fields, number):
        """What the balance makes: (the charge, CHARGE), (the payment, PAYMENT) or (None, NO_RECORD)."""
        day = fields["day"] or local_today()
        if fields["debt"] is not None:
            return carry_debt(self.actor, client, fields["debt"], day, fields["currency"]), CHARGE
        if fields["credit"] is not None:
            return carry_credit(self.actor, client, fields["credit"], day, self.note(number), fields["currency"]), \
                PAYMENT
        return None, NO_RECORD

    def correct(self, client, what, record_id, fields, number):
        """A corrected balance: the debt's charge corrected in place while open; else what the first import
        made is undone (charge cancelled, credit withdrawn) and the new balance carried."""
        if what == CHARGE:
            charge = db.session.get(Charge, record_id)
            if charge is None:
                raise Refused(gettext("The balance imported from this row earlier has been deleted."))
            if fields["debt"] is not None:
                change_debt(self.actor, charge, fields["debt"], fields["currency"], day=fields["day"])
                return charge, CHARGE
            cancel_debt(self.actor, charge, self.note(number))
        elif what == PAYMENT:
            payment = db.session.get(Payment, record_id)
            if payment is None:
                raise Refused(gettext("The balance imported from this row earlier has been deleted."))
            withdraw_credit(self.actor, payment, self.note(number))
        return self.carry(client, fields, number)

    # The payment history

    def payment_row(self, number, key, values, existing):
        client_key = str(values.get("client_key") or "").strip()
        if not client_key:
            raise Refused(gettext("The row has no %(column)s.", column=HEADERS[PAYMENTS]["client_key"]))
        client = self.client_by_key(client_key)
        amount = _amount(values, "amount", PAYMENTS)
        if amount is None:
            raise Refused(gettext("%(column)s: the amount must be more than zero.", column=HEADERS[PAYMENTS]["amount"]))
        method = self.payment_method(str(values.get("method") or "").strip())
        fields = {"client_key": client_key, "day": _day(values.get("day"), PAYMENTS, required=True),
                  "amount": str(amount), "currency": _currency(values, PAYMENTS),
                  "method": method.code or method.name if method is not None else None,
                  "note": str(values.get("note") or "").strip()[:500] or None}
        label = f"{client.name}: {format_money(amount, fields['currency'])}"
        if existing is not None:
            if db.session.get(Payment, existing.record_id) is None:
                raise Refused(gettext("The payment imported from this row earlier has been deleted."))
            changed = self.changed(existing, fields)
            if not changed:
                return UNCHANGED, label, ""
            raise Refused(gettext("An imported payment is not changed by an import (%(columns)s); reverse it in "
                                  "the panel if it is wrong.", columns=self.labels(changed)))
        payment = record_past_payment(self.actor, client, amount, fields["day"], self.note(number),
                                      currency=fields["currency"], method=method, note=fields["note"])
        self.keep(None, key, payment, number, fields)
        return CREATED, label, ""

    @staticmethod
    def payment_method(text):
        """A payment method by its code or name (any letter case); None for an empty cell."""
        if not text:
            return None
        methods = db.session.scalars(select(PaymentMethod)).all()
        found = next((method for method in methods
                      if text.casefold() in ((method.code or "").casefold(), method.name.casefold())), None)
        if found is None:
            raise Refused(gettext("Unknown payment method \"%(method)s\".", method=text))
        return found

