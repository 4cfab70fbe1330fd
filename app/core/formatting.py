"""How dates and times read in the panel: dd.mm.yyyy, local time (Europe/Sofia); the language of stored text."""
from contextlib import contextmanager
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale


def utcnow():
    """Now as a naive UTC datetime: how every moment is stored."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_time(moment):
    """A naive UTC datetime (as stored) in the configured local timezone."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Sofia"))
    return moment.replace(tzinfo=timezone.utc).astimezone(zone)


def format_date(value):
    """dd.mm.yyyy"""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local_time(value)
    return value.strftime("%d.%m.%Y")


def format_datetime(value):
    """dd.mm.yyyy HH:MM:SS in local time, from a naive UTC datetime."""
    if value is None:
        return ""
    return local_time(value).strftime("%d.%m.%Y %H:%M:%S")


def format_clock(value):
    """HH:MM in local time, from a naive UTC datetime (a figure's age on a page counted today)."""
    if value is None:
        return ""
    return local_time(value).strftime("%H:%M")


class Texts:
    """gettext for a job that writes the same few sentences thousands of times (the billing cycle's chunk):
    the translations and the language are looked up once, at creation, and each message's translation at its
    first use; the same text as flask_babel's gettext in the context it was created in."""

    def __init__(self):
        from flask_babel import get_domain

        self._translate = get_domain().get_translations().ugettext
        self._known = {}

    def __call__(self, string, **variables):
        translated = self._known.get(string)
        if translated is None:
            translated = self._known[string] = self._translate(string)
        return translated % variables if variables else translated


@contextmanager
def office_language():
    """gettext in the office's language (BABEL_DEFAULT_LOCALE) within the block, whoever asks.

    For text written into the database — a charge's name, a task's
    description, a status's reason, a LOG note —, which everyone later reads
    as it was stored: an API call in English or an operator who switched the
    panel to English must not leave "Installation: …" on a Bulgarian invoice.
    """
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "bg")):
        yield


def finalize(value):
    """Jinja finalize: how any value prints in a template unless formatted.

    Nothing for None (FAB would print "None"); dd.mm.yyyy for dates, and
    local time for moments (stored as naive UTC), so a column nobody
    formatted still reads the Bulgarian way and at the office's hour; the
    records of a to-many column (an operator's roles) by their names,
    comma-separated, where Python would print "[Администратор]".
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(finalize(item)) for item in value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return value


def init_app(app):
    # Must precede the first use of app.jinja_env, which freezes the options.
    app.jinja_options = {**app.jinja_options, "finalize": finalize}
    app.add_template_filter(format_date, "date_bg")
    app.add_template_filter(format_datetime, "datetime_bg")
    app.add_template_filter(format_clock, "clock_bg")


def format_yes_no(value):
    """Да/Не for a boolean column (FAB would print True/False)."""
    from flask_babel import gettext

    if value is None:
        return ""
    return gettext("Yes") if value else gettext("No")


def format_percent(value):
    """"23,1 %" — Bulgarian decimal comma."""
    if value is None:
        return ""
    return f"{value:.1f}".replace(".", ",") + " %"


def format_duration(seconds):
    """A span of time as "03:15:20", or "2 д. 03:15:20" past a day."""
    from flask_babel import gettext

    if seconds is None:
        return ""
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    clock = f"{hour:02d}:{minute:02d}:{second:02d}"
    return gettext("%(days)d d. %(clock)s", days=days, clock=clock) if days else clock


def local_today():
    """Today in the configured local timezone (what "today" means to the office)."""
    return local_time(utcnow()).date()


def utc_moment(day, time):
    """A day and a time of day on the office's clock (Europe/Sofia) as a naive UTC datetime, as stored."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Sofia"))
    moment = datetime.combine(day, time).replace(tzinfo=zone)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def utc_bounds(day):
    """A local calendar day as naive UTC datetimes [start, end), to query stored times."""
    from datetime import timedelta

    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Sofia"))
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=1)
    end = datetime(end.year, end.month, end.day, tzinfo=zone)  # a DST day is 23 or 25 hours
    return (start.astimezone(timezone.utc).replace(tzinfo=None), end.astimezone(timezone.utc).replace(tzinfo=None))
