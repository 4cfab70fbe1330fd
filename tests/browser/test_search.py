"""The office's search in a real browser at 1366 × 768: what a caller ID shows and a name without its middle
name land on the client's card; a search of several lists them with their names as links to the cards.

Playwright driving Debian's /usr/bin/chromium over the demo's data (tests/browser/test_walk.py's fixtures);
screenshots of the viewport, as the desk sees it, go to SCREENSHOTS_DIR.
"""
import re

from app.clients.models import Client
from app.extensions import db
from tests.browser.test_walk import SCREENS, DEMO_PASSWORD, browser, live_server, log_in  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

DESK = {"width": 1366, "height": 768}


def desk_screenshot(page, name):
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def search_from(page, box_page, text):
    """Type `text` into the search box of `box_page` and press Enter, as the desk does."""
    page.goto(box_page)
    page.fill("input[type=search][name=q]", text)
    page.press("input[type=search][name=q]", "Enter")
    page.wait_for_load_state("networkidle")


def client_id(app, name):
    with app.app_context():
        return db.session.query(Client.id).filter_by(name=name).scalar()


def test_a_caller_id_and_a_first_and_last_name_land_on_the_card(live_server, browser, app):  # noqa: F811
    ivan, elena = client_id(app, "Иван Петров Иванов"), client_id(app, "Елена Николова Петкова")
    page = log_in(browser, live_server, "m.ivanova", DEMO_PASSWORD)
    page.set_viewport_size(DESK)

    # The caller ID's form of the demo's "0888 123 456", typed into the home page's box.
    search_from(page, f"{live_server}/", "+359 888 123 456")
    assert page.url.endswith(f"/clients/show/{ivan}"), page.url
    assert "№ 100001 · Иван Петров Иванов" in page.inner_text("#client-header")
    desk_screenshot(page, "search-phone-card")

    # The other international form, in the list's own box.
    search_from(page, f"{live_server}/clients/list/", "00359888123456")
    assert page.url.endswith(f"/clients/show/{ivan}"), page.url

    # First and last name, no middle name, in either order.
    for typed in ("Елена Петкова", "петкова елена"):
        search_from(page, f"{live_server}/clients/list/", typed)
        assert page.url.endswith(f"/clients/show/{elena}"), (typed, page.url)
    header = page.inner_text("#client-header")
    assert "Елена Николова Петкова" in header
    # The tabs say what each holds without opening it.
    tabs = page.inner_text("#card-tabs")
    assert re.search(r"Услуги\s+1\b", tabs) and re.search(r"Плащания и фактури\s+\d+", tabs), tabs
    assert re.search(r"Документи\s+\d+", tabs), tabs
    desk_screenshot(page, "search-name-card")


def test_a_search_of_several_lists_them_and_a_name_opens_its_card(live_server, browser, app):  # noqa: F811
    ivan = client_id(app, "Иван Петров Иванов")
    page = log_in(browser, live_server, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.set_viewport_size(DESK)
    search_from(page, f"{live_server}/", "Иван")
    assert "/clients/list/" in page.url
    names = page.locator("a.client-link").all_inner_texts()
    assert "Иван Петров Иванов" in names and len(names) > 1, names
    desk_screenshot(page, "search-list")
    page.click("a.client-link:text-is('Иван Петров Иванов')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/clients/show/{ivan}"), page.url
    tabs = page.inner_text("#card-tabs")
    assert re.search(r"Услуги\s+1\b", tabs) and re.search(r"Задачи\s+\d+", tabs), tabs
    desk_screenshot(page, "search-list-card")
