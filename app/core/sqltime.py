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
from sqlalchemy import Date, Integer, cast, func, literal, literal_column

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


def month_number(day):
    """year × 12 + month of a date expression: months between two days are a subtraction."""
    if is_sqlite():
        return cast(func.strftime("%Y", day), Integer) * 12 + cast(func.strftime("%m", day), Integer)
    return cast(func.extract("year", day), Integer) * 12 + cast(func.extract("month", day), Integer)


def day_of_month(day):
    if is_sqlite():
        return cast(func.strftime("%d", day), Integer)
    return cast(func.extract("day", day), Integer)


def next_day(day):
    """The day after a date expression."""
    if is_sqlite():
        return func.date(day, "+1 day")
    return cast(day + literal(1), Date)


def days_in_month(day):
    """How many days the month of a date expression has."""
    if is_sqlite():
        return cast(func.strftime("%d", func.date(day, "start of month", "+1 month", "-1 day")), Integer)
    return cast(func.extract("day", func.date_trunc("month", day) + literal_column("interval '1 month - 1 day'")),
                Integer)
