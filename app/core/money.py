"""Money: exact decimals with their currency. Never float.

Amounts are Decimal quantized to the cent (ROUND_HALF_UP) and stored as
NUMERIC(12,2) beside an ISO currency code. EUR is the base currency since
2026-01-01; BGN converts at the fixed rate (see the billing module).
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from app.core.validators import InvalidValue

CENT = Decimal("0.01")
CURRENCIES = ("EUR", "BGN", "USD")
CURRENCY_CHOICES = [("EUR", "EUR (евро)"), ("BGN", "BGN (лев)"), ("USD", "USD (щатски долар)")]
MAX_AMOUNT = Decimal("9999999999.99")  # NUMERIC(12,2)


def quantize(amount):
    """Round to the cent, half up."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def check_amount(value):
    """A non-negative amount with at most two decimals, as Decimal.

    Accepts the Bulgarian decimal comma ("12,50").
    """
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(_l("Not an amount, e.g. 12,50.")) from None
    if not amount.is_finite():
        raise InvalidValue(_l("Not an amount, e.g. 12,50."))
    if amount < 0:
        raise InvalidValue(_l("The amount cannot be negative."))
    if amount > MAX_AMOUNT:  # before quantize: a huge number has no cents to round to
        raise InvalidValue(_l("The amount is too large."))
    if amount != amount.quantize(CENT):
        raise InvalidValue(_l("At most two decimals (cents)."))
    return amount.quantize(CENT)


def check_currency(value):
    code = str(value or "").strip().upper()
    if code not in CURRENCIES:
        raise InvalidValue(_l("Currency must be EUR, BGN or USD."))
    return code


def format_money(amount, currency=None):
    """"1 234,50 EUR": Bulgarian decimal comma, space between thousands."""
    if amount is None:
        return ""
    text = f"{quantize(amount):,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} {currency}" if currency else text
