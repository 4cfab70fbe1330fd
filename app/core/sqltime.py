"""Calendar arithmetic on dates in SQL, on PostgreSQL and SQLite alike.

Moments are stored as naive UTC; a report groups by the office's calendar
day (Europe/Sofia: a payment at 23:30 UTC on 31 March belongs to 1 April).
Where there are many rows the day is stored when the row is written (a
payment's paid_on); local_day converts the moments of the few others (the
status changes of subscriptions). PostgreSQL converts with its own
time-zone data; SQLite has none, so each connection gets a
`local_day(moment, zone)` function that does it in Python
(app.extensions). The rest turn a date into the keys a report groups by
and count days and months between dates; each database spells them its
own way.
"""
from flask import current_app
from sqlalchemy import Date, DateTime, Integer, cast, func, literal, literal_column

from app.extensions import db


def is_sqlite():
    return db.engine.dialect.name == "sqlite"


def local_day(moment):
    """The office's calendar day (a date) of a stored UTC moment column."""
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Sofia")
    if is_sqlite():
        return func.local_day(moment, literal(zone))
    return cast(func.timezone(zone, func.timezone("UTC", moment)), Date)


def month_key(day):
    """'YYYY-MM' of a date expression: what a report groups a month by."""
    if is_sqlite():
        return func.strftime("%Y-%m", day)
    return func.to_char(day, "YYYY-MM")


def year_key(day):
    if is_sqlite():
        return func.strftime("%Y", day)
    return func.to_char(day, "YYYY")


def day_key(day):
    if is_sqlite():
        return func.strftime("%Y-%m-%d", day)
    return func.to_char(day, "YYYY-MM-DD")


def days_since(day, today):
    """Whole days from the date expression `day` to the Python date `today`."""
    if is_sqlite():
        return cast(func.julianday(literal(today.isoformat())) - func.julianday(day), Integer)
    return literal(today) - day


# On PostgreSQL the fields are read with date_part of the day as a timestamp without time zone: EXTRACT
# gives a numeric (slower to compute and to cast), and a date given to date_trunc becomes a timestamp with
# time zone, converted in the session's zone. The same integers (checked for every day of 2000–2136), at half
# the cost (the debtors compute a few of them for each of 50,000 subscriptions).
def _field(name, day):
    return cast(func.date_part(name, cast(day, DateTime)), Integer)


def month_number(day):
    """year × 12 + month of a date expression: months between two days are a subtraction."""
    if is_sqlite():
        return cast(func.strftime("%Y", day), Integer) * 12 + cast(func.strftime("%m", day), Integer)
    return _field("year", day) * 12 + _field("month", day)


def day_of_month(day):
    if is_sqlite():
        return cast(func.strftime("%d", day), Integer)
    return _field("day", day)


def next_day(day):
    """The day after a date expression."""
    if is_sqlite():
        return func.date(day, "+1 day")
    return cast(day + literal(1), Date)


def days_in_month(day):
    """How many days the month of a date expression has."""
    if is_sqlite():
        return cast(func.strftime("%d", func.date(day, "start of month", "+1 month", "-1 day")), Integer)
    return _field("day", func.date_trunc("month", cast(day, DateTime)) + literal_column("interval '1 month - 1 day'"))
