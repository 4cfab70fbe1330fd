"""Dates in a real browser whose language is English (Playwright driving Debian's /usr/bin/chromium).

The panel's one day picker is Bulgarian — month names, weeks from Monday,
dd.mm.yyyy — and its times are 24-hour, whatever the browser's locale; a
day typed dd.mm.yyyy stays as typed when the field is left and is saved as
that day; a day that does not exist is refused in Bulgarian. Screenshots of
the viewport at 1366 × 768 go to SCREENSHOTS_DIR.
"""
import re
from datetime import date, time

from app.clients.models import Client
from app.extensions import db
from app.organizer.models import Task
from tests.browser.test_walk import SCREENS, browser, live_server  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

DESK = {"width": 1366, "height": 768}
BULGARIAN_MONTHS = ["Януари", "Февруари", "Март", "Април", "Май", "Юни", "Юли", "Август", "Септември", "Октомври",
                    "Ноември", "Декември"]


def english_desk(browser, base):  # noqa: F811
    """The administrator logged in from a browser set to American English, at 1366 × 768."""
    context = browser.new_context(viewport=DESK, locale="en-US", timezone_id="America/New_York")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", ADMIN_USERNAME)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url
    return page


def desk_screenshot(page, name):
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def new_task_form(page, base, client_id):
    page.goto(f"{base}/tasks/add?client={client_id}")
    # The task type's drop-down is FAB's select2 over a <select>: chosen as the page's script would.
    page.evaluate("""() => {
        const select = document.querySelector('select[name=task_type]');
        select.value = [...select.options].find(option => option.value && option.value !== '__None').value;
        jQuery(select).trigger('change');
    }""")


def saved_tasks(app, client_id):
    with app.app_context():
        return [(task.scheduled_on, task.time_from, task.time_to) for task in
                db.session.query(Task).filter_by(client_id=client_id).order_by(Task.id)]


def test_a_task_gets_its_day_typed_and_picked_the_bulgarian_way(live_server, browser, app):  # noqa: F811
    with app.app_context():
        client_id = db.session.query(Client.id).filter_by(name="Иван Петров Иванов").scalar()
    page = english_desk(browser, live_server)

    # Typed as the hint asks: it stays as typed when the field is left, and is saved as that day.
    new_task_form(page, live_server, client_id)
    day = page.locator("input[name=scheduled_on]")
    assert day.get_attribute("placeholder") == "дд.мм.гггг"
    day.click()
    day.type("15.01.2027")
    page.keyboard.press("Escape")
    page.locator("input[name=time_from]").click()  # leaving the day
    assert day.input_value() == "15.01.2027"
    for name in ("time_from", "time_to"):  # a text box on a 24-hour clock, not the browser's "03:30 PM"
        assert page.get_attribute(f"input[name={name}]", "type") == "text"
        assert page.get_attribute(f"input[name={name}]", "placeholder") == "чч:мм"
    page.fill("input[name=time_from]", "15:30")
    page.fill("input[name=time_to]", "17:00")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert saved_tasks(app, client_id)[-1] == (date(2027, 1, 15), time(15, 30), time(17, 0)), page.inner_text(
        "body")[:800]
    with app.app_context():
        task_id = db.session.query(Task.id).filter_by(client_id=client_id).order_by(Task.id.desc()).first()[0]
    page.goto(f"{live_server}/tasks/show/{task_id}")
    shown = page.inner_text("body")
    assert "15.01.2027" in shown and "15:30" in shown and not re.search(r"\b(AM|PM)\b", shown)

    # Picked from the picker: Bulgarian month names, weeks from Monday, written dd.mm.yyyy.
    new_task_form(page, live_server, client_id)
    page.click("input[name=scheduled_on]")
    picker = page.locator(".datepicker-days")
    picker.wait_for(state="visible")
    month, year = picker.locator(".datepicker-switch").inner_text().split()
    assert month in BULGARIAN_MONTHS
    assert picker.locator("thead th.dow").all_inner_texts() == ["П", "В", "С", "Ч", "П", "С", "Н"]
    desk_screenshot(page, "dates-task-picker-open")
    picker.locator("td.day:not(.old):not(.new)", has_text=re.compile(r"^20$")).click()
    number = BULGARIAN_MONTHS.index(month) + 1
    assert page.locator("input[name=scheduled_on]").input_value() == f"20.{number:02d}.{year}"
    page.locator("input[name=time_from]").fill("8:05")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert saved_tasks(app, client_id)[-1] == (date(int(year), number, 20), time(8, 5), None)

    # A day the calendar has not is refused in Bulgarian, and nothing is saved.
    before = len(saved_tasks(app, client_id))
    new_task_form(page, live_server, client_id)
    page.fill("input[name=scheduled_on]", "31.11.2026")
    page.fill("input[name=time_from]", "3:30 PM")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "Няма такава дата: 31.11.2026." in text and "Въведете часа като чч:мм (24 часа)" in text
    assert len(saved_tasks(app, client_id)) == before
    desk_screenshot(page, "dates-task-refused")


def test_a_wrong_day_in_the_address_is_refused_in_bulgarian(live_server, browser):  # noqa: F811
    page = english_desk(browser, live_server)
    page.goto(f"{live_server}/reports/revenue/?from=31.11.2026")
    text = page.inner_text("body")
    assert "Няма такава дата: 31.11.2026." in text
    assert page.input_value("input[name=date_from]") == "31.11.2026"  # what was typed stays, to be corrected
    assert page.locator("#report-table tbody tr").all_inner_texts() == ["Няма намерени записи"]  # no other period's
    desk_screenshot(page, "dates-report-refused")

    page.goto(f"{live_server}/payments/list/?from=31.11.2026")
    text = page.inner_text("body")
    assert "Няма такава дата: 31.11.2026." in text and "Няма намерени записи" in text  # not every payment
    # The list's own filter on "Платено на": the same picker, empty, not a UTC moment with microseconds.
    desk_screenshot(page, "dates-payments-refused")
    page.click("text=Търсене")
    page.click("text=Добави филтър")
    page.click("ul.dropdown-menu a.filter[name=paid_at]")
    field = page.locator("#filter_form input[name$=_paid_at]")
    assert field.input_value() == "" and field.get_attribute("placeholder") == "дд.мм.гггг"
    field.click()
    page.locator(".datepicker-days").wait_for(state="visible")
    assert page.locator(".datepicker-days thead th.dow").all_inner_texts()[0] == "П"
    desk_screenshot(page, "dates-payments-filter-picker")
