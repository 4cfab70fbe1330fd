"""A sale's installation task, in Chromium at 1366 × 768: the home page counts it as unplanned, the list's
Планирай opens the small plan form (a technician, a day from the Bulgarian picker, a 24-hour time), and the
task is then on that day's plan (Задачи за деня). Screenshots go to SCREENSHOTS_DIR."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clients.models import Client
from app.clients.subscriptions import sell_subscription
from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import Task
from tests.browser.test_dates import desk_screenshot
from tests.browser.test_walk import browser, live_server  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.factories import head_office_cashier, make_service

DESK = {"width": 1366, "height": 768}


@pytest.mark.once  # the planning itself is tested on both databases in tests/organizer/test_planning.py
def test_a_sale_s_task_is_planned_from_the_unplanned_list_and_is_on_the_day_s_plan(live_server, browser, app):  # noqa: F811,E501
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.name == "Иван Петров Иванов"))
        service = make_service("Интернет 300 с инсталация")
        service.needs_installation = True
        subscription = sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        task_id = db.session.scalar(select(Task.id).where(Task.subscription_id == subscription.id))
        day = local_today() + timedelta(days=1)
    page = browser.new_context(viewport=DESK, locale="bg-BG").new_page()
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", ADMIN_USERNAME)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")

    counter = page.locator("#home-tasks .home-unplanned a")
    assert counter.is_visible() and "Непланирани задачи" in counter.inner_text()
    desk_screenshot(page, "plan-home")
    counter.click()
    page.wait_for_url("**/tasks/unplanned/")
    row = page.locator(f"tr.unplanned-task[data-task='{task_id}']")
    assert "Иван Петров Иванов" in row.inner_text()
    desk_screenshot(page, "plan-unplanned-list")
    row.locator("text=Планирай").click()
    page.wait_for_url(f"**/tasks/plan/{task_id}**")
    page.locator("select[name=technician]").wait_for()

    technicians = page.locator("select[name=technician] option").all_inner_texts()
    assert "Тодор Стоянов" in technicians and not any("Администратор" in name for name in technicians)
    page.select_option("select[name=technician]", label="Тодор Стоянов")
    page.click("input[name=day]")
    picker = page.locator(".datepicker-days")
    picker.wait_for(state="visible")
    assert picker.locator("thead th.dow").all_inner_texts()[0] == "П"  # the Bulgarian picker, Monday first
    page.keyboard.press("Escape")
    page.fill("input[name=day]", day.strftime("%d.%m.%Y"))
    page.fill("input[name=time_from]", "10:00")
    page.fill("input[name=time_to]", "12:00")
    desk_screenshot(page, "plan-form")
    page.click("form.plan-form button[type=submit]")
    page.wait_for_url("**/tasks/unplanned/")
    assert f"Задача № {task_id} е планирана за {day.strftime('%d.%m.%Y')} 10:00–12:00" in page.inner_text("body")
    assert page.locator(f"tr.unplanned-task[data-task='{task_id}']").count() == 0

    page.click(".alert-success a")  # the message's link to that day's plan
    page.wait_for_url("**/tasks/day/**")
    plan = page.locator("tr.plan-task", has_text="Иван Петров Иванов")
    assert plan.count() == 1 and "10:00–12:00" in plan.inner_text() and "Тодор" in plan.inner_text()
    desk_screenshot(page, "plan-day")
    page.goto(f"{live_server}/tasks/show/{task_id}")
    assert "Планирана за" in page.inner_text("body")
    desk_screenshot(page, "plan-task-page")
