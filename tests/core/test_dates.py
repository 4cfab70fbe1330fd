"""The one reading of a typed day, time and moment (app.core.validators): dd.mm.yyyy, 24-hour, Europe/Sofia."""
import json
import re
from datetime import date, datetime, time
from pathlib import Path

import pytest
from flask_babel import force_locale

from app.core.validators import InvalidValue, parse_day, parse_moment, parse_time


@pytest.mark.parametrize("text, day", [
    ("01.12.2026", date(2026, 12, 1)),
    ("1.12.2026", date(2026, 12, 1)),
    (" 6.1.2027 ", date(2027, 1, 6)),
    ("2026-12-01", date(2026, 12, 1)),  # as links and scripts carry it
    ("29.02.2028", date(2028, 2, 29)),
])
def test_a_day_is_read_day_first(text, day):
    assert parse_day(text) == day


def test_a_date_or_a_moment_passes_as_its_day():
    assert parse_day(date(2026, 12, 1)) == date(2026, 12, 1)
    assert parse_day(datetime(2026, 12, 1, 15, 30)) == date(2026, 12, 1)


@pytest.mark.parametrize("text", ["31.11.2026", "29.02.2027", "00.12.2026", "32.01.2026", "15.13.2026",
                                  "2026-02-30"])
def test_a_day_the_calendar_has_not_is_refused_in_bulgarian(app, text):
    with app.test_request_context(), force_locale("bg"):
        with pytest.raises(InvalidValue) as refused:
            parse_day(text)
        assert str(refused.value.message) == f"Няма такава дата: {text}."


@pytest.mark.parametrize("text", ["12/01/2026", "2026.12.01", "1 Dec 2026", "01.12.26", "01122026", "днес",
                                  "01.12.2026 10:00"])
def test_another_form_is_refused_with_the_form_to_use(app, text):
    with app.test_request_context(), force_locale("bg"):
        with pytest.raises(InvalidValue) as refused:
            parse_day(text)
        assert "дд.мм.гггг" in str(refused.value.message)


def test_nothing_typed_is_the_default_when_there_is_one_else_refused(app):
    assert parse_day("", None) is None
    assert parse_day(None, date(2026, 1, 1)) == date(2026, 1, 1)
    assert parse_day("  ", date(2026, 1, 1)) == date(2026, 1, 1)
    with app.test_request_context(), pytest.raises(InvalidValue):
        parse_day("")
    # A default stands in for nothing, never for nonsense.
    with app.test_request_context(), pytest.raises(InvalidValue):
        parse_day("31.11.2026", date(2026, 1, 1))


@pytest.mark.parametrize("text, value", [("15:30", time(15, 30)), ("9:05", time(9, 5)), ("15.30", time(15, 30)),
                                         ("00:00", time(0, 0)), ("23:59:59", time(23, 59, 59))])
def test_a_time_is_read_on_a_24_hour_clock(text, value):
    assert parse_time(text) == value


@pytest.mark.parametrize("text, message", [("3:30 PM", "Въведете часа като чч:мм (24 часа)"),
                                           ("1530", "Въведете часа като чч:мм (24 часа)"),
                                           ("24:00", "Няма такъв час: 24:00."),
                                           ("15:60", "Няма такъв час: 15:60.")])
def test_a_time_that_is_not_one_is_refused_in_bulgarian(app, text, message):
    with app.test_request_context(), force_locale("bg"):
        with pytest.raises(InvalidValue) as refused:
            parse_time(text)
        assert message in str(refused.value.message)


def test_a_moment_is_typed_on_the_offices_clock_and_stored_utc(app):
    with app.app_context():
        # December: Sofia is UTC+2; July: UTC+3 (summer time).
        assert parse_moment("01.12.2026 15:30") == datetime(2026, 12, 1, 13, 30)
        assert parse_moment("01.07.2026 15:30") == datetime(2026, 7, 1, 12, 30)
        assert parse_moment("01.12.2026") == datetime(2026, 11, 30, 22, 0)  # the day's first moment
        assert parse_moment("2026-12-01T15:30") == datetime(2026, 12, 1, 13, 30)
        with app.test_request_context(), pytest.raises(InvalidValue):
            parse_moment("31.11.2026 10:00")


def test_there_is_one_parse_day():
    import app.core.forms
    import app.organizer.services

    assert not hasattr(app.core.forms, "parse_day") or app.core.forms.parse_day is parse_day
    assert not hasattr(app.organizer.services, "parse_day")
    assert not hasattr(app.core.validators, "check_day")


def test_no_other_reading_of_a_typed_day_in_the_sources():
    """Every typed day goes through app.core.validators.parse_day: no strptime, dateutil or parser of its own."""
    root = Path(__file__).resolve().parents[2] / "app"
    found = []
    for path in root.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"\.strptime\(|^\s*(from|import) dateutil|def parse_day\(|def parse_date\(", code):
                found.append(f"{path.relative_to(root.parent)}:{number}")
    assert found == ["app/core/validators.py:" + str(_line_of("def parse_day(", root / "core" / "validators.py"))]


def _line_of(text, path):
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if line.startswith(text))


def _payment_at(app, paid_at):
    from app.billing.models import Payment
    from app.extensions import db
    from tests.factories import make_client, make_payment

    with app.app_context():
        payment = make_payment(make_client(None, "Платил Късно Вечерта"), amount="10.00")
        db.session.get(Payment, payment.id).paid_at = paid_at
        db.session.commit()


def test_a_wrong_day_in_the_payments_address_is_refused_not_ignored(app, admin):
    from tests.conftest import visible_text

    _payment_at(app, datetime(2026, 11, 30, 22, 30))  # 01.12.2026 00:30 in Sofia
    refused = visible_text(admin.get("/payments/list/?from=31.11.2026").text)
    assert "Няма такава дата: 31.11.2026." in refused
    assert "Платил Късно Вечерта" not in refused  # nothing listed, rather than every payment
    assert 'value="31.11.2026"' in admin.get("/payments/list/?from=31.11.2026").text  # what was typed stays
    # The office's day, not UTC's.
    assert "Платил Късно Вечерта" in visible_text(admin.get("/payments/list/?from=01.12.2026&to=01.12.2026").text)
    assert "Платил Късно Вечерта" not in visible_text(admin.get("/payments/list/?to=30.11.2026").text)


def test_a_lists_date_filter_takes_the_offices_day_and_refuses_a_wrong_one(app, admin):
    from tests.conftest import visible_text

    _payment_at(app, datetime(2026, 11, 30, 22, 30))  # 01.12.2026 00:30 in Sofia
    page = admin.get("/payments/list/").text
    # "Платено на" offers the day picker, empty: no UTC moment with microseconds filled in.
    # (FAB hands the filters' fields to its script as JSON.)
    field = json.loads(re.search(r'"paid_at": ("\\u003cdiv(?:[^"\\]|\\.)*")', page).group(1))
    assert 'placeholder="дд.мм.гггг"' in field and 'value=""' in field and "appbuilder_date" in field
    assert json.dumps(["На дата", "От дата", "До дата (вкл.)", "Не на дата"]) in page  # its filters, by days
    on_the_day = visible_text(admin.get("/payments/list/?_flt_0_paid_at=01.12.2026").text)
    assert "Платил Късно Вечерта" in on_the_day
    assert "Платил Късно Вечерта" not in visible_text(admin.get("/payments/list/?_flt_0_paid_at=30.11.2026").text)
    assert "Платил Късно Вечерта" in visible_text(admin.get("/payments/list/?_flt_1_paid_at=01.12.2026").text)
    assert "Платил Късно Вечерта" not in visible_text(admin.get("/payments/list/?_flt_2_paid_at=30.11.2026").text)
    wrong = visible_text(admin.get("/payments/list/?_flt_1_paid_at=31.11.2026").text)
    assert "Няма такава дата: 31.11.2026." in wrong and "Платил Късно Вечерта" not in wrong
    assert wrong.count("Няма такава дата") == 1  # said once, though the list asks for rows and for a count


def test_a_tasks_times_are_typed_on_a_24_hour_clock(app, admin):
    page = admin.get("/tasks/add").text
    for name in ("time_from", "time_to"):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'type="text"' in field and 'placeholder="чч:мм"' in field  # never the browser's AM/PM


def test_the_forms_fields_read_with_the_one_parser(app):
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from app.core.forms import BulgarianDateField, BulgarianDateTimeField, BulgarianTimeField

    class TaskLike(Form):
        day = BulgarianDateField()
        at = BulgarianTimeField()
        moment = BulgarianDateTimeField()

    with app.test_request_context(), force_locale("bg"):
        form = TaskLike(MultiDict({"day": "15.01.2027", "at": "15:30", "moment": "01.07.2026 15:30"}))
        assert form.validate(), form.errors
        assert (form.day.data, form.at.data, form.moment.data) == (
            date(2027, 1, 15), time(15, 30), datetime(2026, 7, 1, 12, 30))  # the moment stored UTC
        shown = TaskLike(data={"day": date(2027, 1, 15), "at": time(8, 5), "moment": datetime(2026, 7, 1, 12, 30)})
        assert 'value="15.01.2027"' in shown.day() and 'value="08:05"' in shown.at()
        assert 'value="01.07.2026 15:30"' in shown.moment() and "appbuilder_datetime" in shown.moment()
        wrong = TaskLike(MultiDict({"day": "31.11.2026", "at": "3:30 PM", "moment": "31.11.2026 10:00"}))
        assert not wrong.validate()
        assert wrong.errors == {"day": ["Няма такава дата: 31.11.2026."],
                                "at": ["Въведете часа като чч:мм (24 часа), напр. 15:30."],
                                "moment": ["Няма такава дата: 31.11.2026."]}
        assert 'value="31.11.2026"' in wrong.day()  # what was typed stays, to be corrected
