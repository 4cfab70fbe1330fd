"""A technician on a phone (360×740, real Chromium) ticks every step of an installation; the office then sees
the subscription active on the client card."""
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app.clients.subscriptions import sell_subscription
from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import Task
from tests.browser.test_walk import CHROMIUM, QuietHandler, playwright_or_skip
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.factories import head_office_cashier, make_client, make_service
from tests.organizer.conftest import PASSWORD, make_installation_type, make_technician


@pytest.fixture
def installation(app):
    """A sale of a service that needs installation, its task assigned to a technician for today."""
    with app.app_context():
        make_installation_type()
        technician = make_technician("мобилен")
        client = make_client(None, "Радослава Стефанова-Христозова", phone="0888 765 432, 02 987 6543",
                             address_text="гр. София, ж.к. Младост 4, бл. 445, вх. В, ет. 11, ап. 63")
        service = make_service("Интернет 1000 Mbps")
        service.needs_installation = True
        subscription = sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        task = db.session.scalar(select(Task).where(Task.subscription_id == subscription.id))
        task.technicians = [technician]
        task.scheduled_on = local_today()
        db.session.commit()
        return {"technician": technician.username, "client": client.id, "task": task.id}


@pytest.fixture
def server(app):
    http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join()


def _log_in(chromium, base, username, password, viewport):
    page = chromium.new_context(viewport=viewport, locale="bg-BG").new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url
    return page


def test_a_technician_ticks_every_step_on_a_phone_and_the_subscription_is_active(app, installation, server):
    sync_playwright = playwright_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            phone = _log_in(chromium, server, installation["technician"], PASSWORD, {"width": 360, "height": 740})
            phone.goto(f"{server}/tasks/mine/")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 360
            assert phone.locator("a[href='tel:0888765432']").count() == 1
            assert "Радослава Стефанова-Христозова" in phone.inner_text("body")
            while phone.locator(".task-step.step-pending").count():
                step = phone.locator(".task-step.step-pending").first
                value = step.locator("input[name=value]")
                if value.count():
                    value.fill("AA:BB:CC:DD:EE:01")
                note = step.locator("input[name=note]")
                if note.count():
                    note.fill("Клиентът подписа")
                step.locator("button[value=done]").click()
                phone.wait_for_load_state("load")
                assert phone.evaluate("document.documentElement.scrollWidth") <= 360
            text = phone.inner_text("body")
            assert "Задачата е приключена." in text and "Услугата Интернет 1000 Mbps е активна." in text
            office = _log_in(chromium, server, ADMIN_USERNAME, ADMIN_PASSWORD, {"width": 1366, "height": 900})
            office.goto(f"{server}/clients/show/{installation['client']}")
            services = office.inner_text("#tab-services")
            assert "Интернет 1000 Mbps" in services and "Активна" in services
            assert "AA:BB:CC:DD:EE:01" in office.content()  # the MAC typed on the phone, bound to the service
            office.click("#card-tabs a[href='#tab-tasks']")
            office.wait_for_selector("#tab-tasks .card-tab-body")  # the tab is read when opened
            assert "Приключена" in office.inner_text("#tab-tasks")
        finally:
            chromium.close()
