"""Conversion to and from the euro, the base currency since 01.01.2026.

BGN is fixed by law at 1,95583 per euro; USD follows the rate table at
/currencies/ (the latest rate dated on or before the day). Results are
rounded half up to the cent, once, here.
"""
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext

from app.billing.models import CurrencyRate
from app.core.errors import FieldErrors
from app.core.formatting import format_date
from app.core.money import CENT
from app.extensions import db

BGN_PER_EUR = Decimal("1.95583")


def units_per_euro(currency, day):
    """How many units of `currency` one euro is worth on `day`."""
    if currency == "EUR":
        return Decimal(1)
    if currency == "BGN":
        return BGN_PER_EUR
    rate = db.session.scalar(
        db.select(CurrencyRate.rate)
        .where(CurrencyRate.currency == currency, CurrencyRate.valid_from <= day)
        .order_by(CurrencyRate.valid_from.desc())
        .limit(1)
    )
    if rate is None:
        raise FieldErrors({"currency": [gettext("There is no %(currency)s rate for %(day)s; add it under Currencies.",
                                                currency=currency, day=format_date(day))]})
    return Decimal(rate)


def to_eur(amount, currency, day):
    """`amount` of `currency` in euro on `day`, to the cent (100 BGN → 51,13 EUR)."""
    return (Decimal(amount) / units_per_euro(currency, day)).quantize(CENT, rounding=ROUND_HALF_UP)


def from_eur(amount_eur, currency, day):
    """`amount_eur` in `currency` on `day`, to the cent (what a cashier asks for in leva)."""
    return (Decimal(amount_eur) * units_per_euro(currency, day)).quantize(CENT, rounding=ROUND_HALF_UP)


def rate_errors(record):
    """The rate table's rules, as {field: [message]}: USD only, one rate per currency and day."""
    errors = {}
    if record.currency not in ("USD",):
        errors["currency"] = [gettext("Only USD has a rate table; BGN is fixed at 1,95583 per euro.")]
    duplicate = db.session.scalar(db.select(CurrencyRate.id).where(
        CurrencyRate.currency == record.currency, CurrencyRate.valid_from == record.valid_from,
        CurrencyRate.id != (record.id or 0)))
    if duplicate:
        errors["valid_from"] = [gettext("There is already a rate for this currency and day.")]
    return errors
