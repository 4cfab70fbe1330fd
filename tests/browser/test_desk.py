"""The office's desk in Chromium at 1366 × 768: a caller's phone to a printed receipt in at most five clicks with
nothing scrolled; a dealer's administrator's debtors report holds his own clients only. Screenshots of the
viewport, as the desk sees it, go to SCREENSHOTS_DIR."""
import pytest
from sqlalchemy import select

from app.clients.models import Client
from app.dealers.models import Dealer
from app.extensions import db
from app.reports import services as reports
from app.security.models import Operator
from tests.browser.test_search import desk_screenshot
from tests.browser.test_walk import DEMO_PASSWORD, browser, live_server  # noqa: F401 (fixtures)

DESK = {"width": 1366, "height": 768}


def desk(browser, base, username):  # noqa: F811
    page = browser.new_context(viewport=DESK, locale="bg-BG").new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url, f"{username} could not log in"
    return page


def in_view_unscrolled(page, selector):
    """The element is whole in the 1366 × 768 window and the page is not scrolled: seen without hunting."""
    box = page.locator(selector).first.bounding_box()
    scrolled = page.evaluate("[window.scrollX, window.scrollY]")
    assert scrolled == [0, 0], (selector, scrolled)
    assert box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= DESK["width"] and \
        box["y"] + box["height"] <= DESK["height"], (selector, box)


def test_a_callers_phone_to_a_printed_receipt_in_five_clicks_without_scrolling(live_server, browser, app):  # noqa: F811,E501
    with app.app_context():
        ivan = db.session.scalar(select(Client.id).where(Client.name == "Иван Петров Иванов"))
    page = desk(browser, live_server, "m.ivanova")
    clicks = 0

    def click(selector):
        nonlocal clicks
        in_view_unscrolled(page, selector)
        page.locator(selector).first.click()
        clicks += 1

    # The caller ID's number typed into the home page's box; Enter is a key, not a click.
    in_view_unscrolled(page, "input[type=search][name=q]")
    page.fill("input[type=search][name=q]", "+359 888 123 456")
    page.press("input[type=search][name=q]", "Enter")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/clients/show/{ivan}"), page.url
    desk_screenshot(page, "desk-1-card")

    click("#client-header a:has-text('Плати')")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#payment-total") not in ("—", "0,00 EUR")  # the form opens with what is due
    desk_screenshot(page, "desk-2-payment-form")
    click("button:has-text('Запиши плащането')")
    page.wait_for_load_state("networkidle")
    assert "Плащането е записано" in page.inner_text("body"), page.inner_text("body")[:800]
    desk_screenshot(page, "desk-3-payment")

    receipt = ".payment-actions a:has-text('Разписка')"
    href = page.get_attribute(receipt, "href")
    with page.context.expect_page() as opened:
        click(receipt)
    opened.value.close()
    assert clicks <= 5, clicks
    printed = page.request.get(live_server + href)  # what the new tab showed, read with the desk's session
    assert printed.status == 200 and printed.headers["content-type"].startswith("application/pdf")
    assert printed.body()[:5] == b"%PDF-"


def test_a_dealers_administrator_sees_his_own_debtors_only(live_server, browser, app):  # noqa: F811
    with app.app_context():
        administrator = db.session.scalar(select(Operator).where(Operator.username == "l.dimitrov"))
        dealer_id = administrator.dealer_id
        dealer = db.session.get(Dealer, dealer_id).name
        own = set(db.session.scalars(select(Client.name).where(Client.dealer_id == dealer_id)))
        others = set(db.session.scalars(select(Client.name).where(
            (Client.dealer_id != dealer_id) | Client.dealer_id.is_(None))))
        # Head office's report over the same day has debtors of others: the dealer's page must leave them out.
        everyone = reports.debtors(db.session.get(Operator, app.config["TEST_ADMINISTRATOR"][0]["id"]), {})
        assert {row[1] for row in everyone.rows} & others
    page = desk(browser, live_server, "l.dimitrov")
    menu = page.locator("header.top .navbar-nav")
    assert menu.locator("a:has-text('Справки')").count() >= 1
    page.goto(f"{live_server}/reports/")
    desk_screenshot(page, "desk-dealer-reports")
    page.click("a[href*='/reports/debtors/']")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#report-table tbody tr").all_inner_texts()
    desk_screenshot(page, "desk-dealer-debtors")
    assert rows and rows != ["Няма намерени записи"], rows
    names = {name for name in own | others if any(name in row for row in rows)}
    assert names and names <= own, (names - own)
    assert all(dealer in row for row in rows if any(name in row for name in names)), rows
    # The address is the dealer's too: head office's filter is not his to use.
    page.goto(f"{live_server}/reports/debtors/?dealer=0")
    rows = page.locator("#report-table tbody tr").all_inner_texts()
    assert not {name for name in others if any(name in row for row in rows)}, rows

    page.goto(f"{live_server}/reports/revenue/")
    assert page.locator("#report-table").count() == 1
    desk_screenshot(page, "desk-dealer-revenue")


@pytest.mark.once  # the binding itself is tested on both databases in tests/organizer/test_tasks.py
def test_the_mac_a_technician_types_on_his_phone_shows_on_the_card(live_server, browser, app):  # noqa: F811
    from app.organizer.models import Task

    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.name == "Техно Сървиз ООД"))
        client_id = client.id
        task_id = db.session.scalar(select(Task.id).where(Task.client_id == client_id))
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="bg-BG", is_mobile=True,
                                has_touch=True).new_page()
    phone.goto(f"{live_server}/login/")
    phone.fill("input[name=username]", "t.stoyanov")
    phone.fill("input[name=password]", DEMO_PASSWORD)
    phone.click("input[type=submit], button[type=submit]")
    phone.wait_for_load_state("networkidle")
    phone.goto(f"{live_server}/tasks/mine/")
    task = phone.locator(f"#task-{task_id}")
    if task.get_attribute("open") is None:
        task.locator("summary").click()
    step = task.locator("li.task-step", has_text="Монтаж и регистрация на модема")
    step.locator("input[name=value]").fill("zz-12")
    step.locator("button[value=done]").click()
    phone.wait_for_load_state("networkidle")
    refused = phone.locator(f"#task-{task_id} li.task-step .flash.danger")  # said at the step, in view
    assert "12 шестнадесетични цифри" in refused.inner_text()
    box = refused.bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= 740, box
    desk_screenshot(phone, "phone-mac-refused")
    task = phone.locator(f"#task-{task_id}")
    if task.get_attribute("open") is None:
        task.locator("summary").click()
    step = task.locator("li.task-step", has_text="Монтаж и регистрация на модема")
    step.locator("input[name=value]").fill("a4-91-b1-0c-22-7f")
    step.locator("button[value=done]").click()
    phone.wait_for_load_state("networkidle")
    assert "A4:91:B1:0C:22:7F" in phone.inner_text(f"#task-{task_id}")
    desk_screenshot(phone, "phone-mac-done")

    page = desk(browser, live_server, "m.ivanova")
    page.goto(f"{live_server}/clients/show/{client_id}")
    assert "Вързан към MAC: A4:91:B1:0C:22:7F" in page.inner_text("#tab-services")
    desk_screenshot(page, "desk-card-mac")


@pytest.mark.once  # the fault itself is tested on both databases in tests/organizer/test_faults.py
def test_a_head_office_cashier_logs_the_callers_fault_from_the_card(live_server, browser, app):  # noqa: F811
    with app.app_context():
        ivan = db.session.scalar(select(Client.id).where(Client.name == "Иван Петров Иванов"))
    page = desk(browser, live_server, "m.ivanova")
    page.goto(f"{live_server}/clients/show/{ivan}")
    page.click("#card-tabs a:has-text('Задачи')")
    page.click("#card-tasks button:has-text('Повреда')")
    page.wait_for_selector("#report-fault", state="visible")
    page.fill("#fault-description", "Телевизията прекъсва вечер")
    desk_screenshot(page, "desk-cashier-fault-form")
    page.click("#report-fault button:has-text('Въведи повредата')")
    page.wait_for_load_state("networkidle")
    assert "Повредата е въведена като задача №" in page.inner_text("body")
    tasks = page.inner_text("#card-tasks")
    assert "Непланирана" in tasks
    desk_screenshot(page, "desk-cashier-fault-logged")


@pytest.mark.once  # the filters are tested on both databases in tests/audit/test_log_filters.py
def test_the_log_shows_one_clients_business_from_the_cards_history_without_logins(live_server, browser, app):  # noqa: F811,E501
    with app.app_context():
        ivan = db.session.scalar(select(Client).where(Client.name == "Иван Петров Иванов"))
        ivan_id, number = ivan.id, ivan.client_number
    page = desk(browser, live_server, "s.koleva")  # the manager reads the LOG
    page.goto(f"{live_server}/clients/show/{ivan_id}")
    page.click("#card-tabs a:has-text('История')")
    page.click("a.client-log-link")
    page.wait_for_load_state("networkidle")
    assert page.input_value("#log-client") == number
    listing = page.inner_text("body")
    assert "Иван Петров Иванов" in listing and "Елена Николова Петкова" not in listing
    assert "Входовете и изходите не са показани" in listing and "Входовете и изходите не са показани" in listing
    desk_screenshot(page, "desk-log-client")
    page.fill("#log-client", "")
    page.check("input[name=logins]")
    page.click("#log-filters button")
    page.wait_for_load_state("networkidle")
    desk_screenshot(page, "desk-log-logins")


@pytest.mark.once  # the page's script; the form's answers are tested on both databases in tests/clients/test_forms.py
def test_the_client_form_block_picker_takes_typing_and_a_wrong_egn_is_said_at_the_top(live_server, browser, app):  # noqa: F811,E501
    page = desk(browser, live_server, "l.dimitrov")
    page.goto(f"{live_server}/clients/add")
    page.fill("#name", "Пробен Клиент Блоков")
    page.locator("#s2id_block, select#block + .select2, .select2-container:near(#block)").first.click()
    page.keyboard.type("520")  # typed at once, into the open picker's search box
    assert page.evaluate("document.activeElement.classList.contains('select2-search__field')")
    page.keyboard.type("999")
    assert page.locator(".select2-results__option", has_text="Няма намерени").is_visible()  # not "No results found"
    for _ in range(3):
        page.keyboard.press("Backspace")
    page.locator(".select2-results__option", has_text="бл. 520").first.wait_for()
    desk_screenshot(page, "desk-client-block-picker")
    page.keyboard.press("Enter")
    assert "бл. 520" in page.locator("#block option:checked").inner_text()
    page.fill("#egn", "1234567890")
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_load_state("networkidle")
    in_view_unscrolled(page, ".form-error-summary")
    assert "ЕГН" in page.inner_text(".form-error-summary")
    desk_screenshot(page, "desk-client-egn-refused")
    page.click(".form-error-summary a[href='#egn']")
    page.fill("#egn", "7501020018")
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/clients/show/" in page.url and "Клиентът е записан без блок" not in page.inner_text("body")


@pytest.mark.once  # the offer is tested on both databases in tests/clients/test_forms.py
def test_a_sale_lists_priced_services_of_the_block_and_says_the_login(live_server, browser, app):  # noqa: F811
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.name == "Цветелина Иванова Бонева"))
        client_id = client.id
    page = desk(browser, live_server, "l.dimitrov")
    page.goto(f"{live_server}/subscriptions/add?client={client_id}")
    options = page.locator("select[name=service] option").all_inner_texts()
    desk_screenshot(page, "desk-sale-form")
    priced = [text for text in options if " EUR на месец" in text or "без месечна такса" in text]
    assert options[0] == "— изберете услуга —", options
    assert priced and len(priced) == len([text for text in options[1:] if text.strip() and text != "— няма —"]), options
