"""Bulgarian and banking identifiers: check, normalise, explain in Bulgarian.

Each check takes the raw value and returns it normalised, or raises
InvalidValue with a message for the user. `FieldCheck` (forms) and
`BillingModelApi.raw_checks` (REST API) apply the same checks, so the panel and the API
refuse exactly the same values with the same words.
"""
import datetime
import re

from flask_babel import lazy_gettext as _l
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.bg import vat as stdnum_bg_vat
from stdnum.exceptions import ValidationError as StdnumError
from wtforms.validators import StopValidation


class InvalidValue(ValueError):
    """A value the user typed that is not valid; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _compact(value):
    return re.sub(r"[\s\-.]", "", str(value or "")).upper()


def _eik13_check_digit(digits):
    """Check digit of a 13-digit ЕИК (BULSTAT of a branch) over digits 9–12."""
    tail = [int(d) for d in digits[8:12]]
    remainder = sum(w * d for w, d in zip((2, 7, 3, 5), tail)) % 11
    if remainder == 10:
        remainder = sum(w * d for w, d in zip((4, 9, 5, 7), tail)) % 11
        if remainder == 10:
            remainder = 0
    return remainder


def check_eik(value):
    """ЕИК/Булстат: 9 digits (a legal entity) or 13 digits (its branch)."""
    digits = _compact(value)
    if not digits.isdigit() or len(digits) not in (9, 13):
        raise InvalidValue(_l("EIK/BULSTAT must have 9 or 13 digits."))
    if not stdnum_bg_vat.is_valid(digits[:9]):
        raise InvalidValue(_l("Invalid EIK/BULSTAT: the check digit does not match."))
    if len(digits) == 13 and int(digits[12]) != _eik13_check_digit(digits):
        raise InvalidValue(_l("Invalid EIK/BULSTAT: the check digit does not match."))
    return digits


def check_vat_number(value):
    """Bulgarian VAT number: BG and a valid 9-digit ЕИК or 10-digit personal number."""
    compact = _compact(value)
    digits = compact[2:] if compact.startswith("BG") else compact
    if not digits.isdigit() or len(digits) not in (9, 10) or not stdnum_bg_vat.is_valid(digits):
        raise InvalidValue(
            _l("Invalid VAT number: BG followed by 9 or 10 digits with a valid check digit.")
        )
    return "BG" + digits


def check_iban(value):
    """IBAN of any country, with its check digits."""
    try:
        return stdnum_iban.validate(value)
    except StdnumError:
        raise InvalidValue(_l("Invalid IBAN: check the account number.")) from None


def check_bic(value):
    """BIC (SWIFT) code of a bank: 8 or 11 characters."""
    try:
        return stdnum_bic.validate(value)
    except StdnumError:
        raise InvalidValue(_l("Invalid BIC: 8 or 11 characters, e.g. UNCRBGSF.")) from None


# What an id column holds (BIGINT on PostgreSQL, SQLite's 64-bit INTEGER): a
# larger number in a URL or a body is not an id of anything.
MAX_ID = 2**63 - 1


# Days and times as the office types them. The one reading of a typed day, time or moment in the
# panel, its forms, its lists' filters, its reports and its API: FAB's and the browser's own readings
# (dateutil, <input type=date>) take 01.12.2026 for the 12th of January or the browser's locale for
# the format, and a day that does not exist (31.11.2026) must be refused, not dropped.
_DAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?")
_REQUIRED = object()


def parse_day(value, default=_REQUIRED):
    """A day typed dd.mm.yyyy (also d.m.yyyy) or linked yyyy-mm-dd, as a date.

    Empty: `default` when one is given, else refused. Anything else that is
    not such a day — another form, or a day the calendar has not
    (31.11.2026, 29.02.2027) — raises InvalidValue with the words to show.
    """
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value or "").strip()
    if not text:
        if default is _REQUIRED:
            raise InvalidValue(_l("Enter the day as dd.mm.yyyy, e.g. 01.12.2026."))
        return default
    match = _DAY.fullmatch(text)
    if match is None:
        raise InvalidValue(_l("Enter the day as dd.mm.yyyy, e.g. 01.12.2026."))
    day, month, year = match.group(1, 2, 3) if match.group(1) else reversed(match.group(4, 5, 6))
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise InvalidValue(_l("There is no such day: %(day)s.", day=text)) from None


def parse_time(value, default=_REQUIRED):
    """A time of day typed 24-hour: 15:30 (also 9:05, 15.30, 15:30:00), as a time."""
    if isinstance(value, datetime.time):
        return value
    text = str(value or "").strip()
    if not text:
        if default is _REQUIRED:
            raise InvalidValue(_l("Enter the time as hh:mm (24 hours), e.g. 15:30."))
        return default
    match = _TIME.fullmatch(text)
    if match is None:
        raise InvalidValue(_l("Enter the time as hh:mm (24 hours), e.g. 15:30."))
    try:
        return datetime.time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    except ValueError:
        raise InvalidValue(_l("There is no such time: %(time)s.", time=text)) from None


def parse_moment(value, default=_REQUIRED):
    """A moment typed "dd.mm.yyyy hh:mm" (the time may be left out: midnight) in the office's time zone
    (Europe/Sofia), as the naive UTC datetime moments are stored in."""
    from app.core.formatting import utc_moment

    if isinstance(value, datetime.datetime):
        return value
    text = str(value or "").strip()
    if not text:
        if default is _REQUIRED:
            raise InvalidValue(_l("Enter the day as dd.mm.yyyy, e.g. 01.12.2026."))
        return default
    day_text, _, time_text = text.replace("T", " ").partition(" ")
    return utc_moment(parse_day(day_text), parse_time(time_text, datetime.time()))


def as_id(value):
    """A record id from a URL or a body, or None when it cannot be one (text, too large, a bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


_EGN_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6)


def egn_birth_date(egn):
    """Birth date encoded in an ЕГН (month +20 for the 1800s, +40 for the 2000s)."""
    year, month, day = int(egn[0:2]), int(egn[2:4]), int(egn[4:6])
    if month > 40:
        year, month = 2000 + year, month - 40
    elif month > 20:
        year, month = 1800 + year, month - 20
    else:
        year += 1900
    return datetime.date(year, month, day)


# The oldest a living person is taken to be: an older birth date is a typing error.
MAX_AGE_YEARS = 120


def check_egn(value, today=None):
    """ЕГН: 10 digits, a real birth date of a living person (not after `today`), and the weighted check digit."""
    digits = _compact(value)
    if not digits.isdigit() or len(digits) != 10:
        raise InvalidValue(_l("EGN must have 10 digits."))
    try:
        born = egn_birth_date(digits)
    except ValueError:
        raise InvalidValue(_l("Invalid EGN: it does not contain a valid birth date.")) from None
    today = today or datetime.date.today()
    if born > today:
        raise InvalidValue(_l("Invalid EGN: its birth date is in the future."))
    if born.year < today.year - MAX_AGE_YEARS:
        raise InvalidValue(_l("Invalid EGN: its birth date is more than %(years)d years ago.", years=MAX_AGE_YEARS))
    check = sum(w * int(d) for w, d in zip(_EGN_WEIGHTS, digits)) % 11 % 10
    if check != int(digits[9]):
        raise InvalidValue(_l("Invalid EGN: the check digit does not match."))
    return digits


IDENTIFIER_CHECKS = {
    "eik": check_eik,
    "vat_number": check_vat_number,
    "iban": check_iban,
    "bic": check_bic,
    "egn": check_egn,
}


def normalise_identifier(column, value):
    """For a model's @validates on identifier columns named as in IDENTIFIER_CHECKS.

    A value set directly (services, seed, API) is checked and normalised
    too, so no path can store a malformed identifier.
    """
    return IDENTIFIER_CHECKS[column](value) if value else None


class FieldCheck:
    """WTForms validator running a check and storing the normalised value."""

    def __init__(self, check):
        self.check = check

    def __call__(self, form, field):
        if field.data in (None, ""):
            return
        try:
            field.data = self.check(field.data)
        except InvalidValue as error:
            raise StopValidation(str(error.message)) from None


class ModelRules:
    """WTForms validator applying a services rule `(record) -> {field: [message]}`.

    The rule sees the form's values as attributes, so a module states a
    cross-field rule once in services.py for its forms and its REST API.
    """

    def __init__(self, rules):
        self.rules = rules

    def __call__(self, form, field):
        from types import SimpleNamespace

        from flask import request

        # The record being edited is the one in the URL (/edit/<pk>); a rule
        # such as "does not overlap another network" must not compare it
        # with itself.
        record_id = (request.view_args or {}).get("pk")
        record = SimpleNamespace(**{"id": int(record_id) if record_id else None, **form.data})
        errors = self.rules(record)
        if field.name in errors:
            # StopValidation: the generated Optional() that follows would wipe a
            # plain ValidationError on an empty field.
            raise StopValidation(errors[field.name][0])


class OfferedChoicesOnly:
    """WTForms validator: refuse ids that were not among a multi-select's choices.

    FAB's QuerySelectMultipleField drops such ids silently (its pre_validate
    looks before the data is parsed); a forged choice must be refused aloud.
    """

    def __call__(self, form, field):
        if getattr(field, "_invalid_formdata", False):
            raise StopValidation(field.gettext("Not a valid choice"))
