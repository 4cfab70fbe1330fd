"""The client card in Chromium: the Services tab at once, each tab behind it read when opened (its counter said
how many before), the card to print with every tab. Screenshots to SCREENSHOTS_DIR (card-*.png)."""
from sqlalchemy import select

from app.clients.models import Client
from app.extensions import db
from tests.browser.test_search import desk_screenshot
from tests.browser.test_walk import browser, live_server, log_in  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME


def test_the_card_opens_each_tab_when_clicked(live_server, browser, app):  # noqa: F811
    with app.app_context():
        ivan = db.session.scalar(select(Client.id).where(Client.name == "Иван Петров Иванов"))
    page = log_in(browser, live_server, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{live_server}/clients/show/{ivan}")
    page.wait_for_load_state("networkidle")
    assert "Иван Петров Иванов" in page.inner_text("#client-header")
    desk_screenshot(page, "card-1-services")
    for tab, seen in (("payments", "Последни плащания"), ("tasks", "Задачи"), ("history", "LOG"),
                      ("documents", "Договори")):
        page.click(f"#card-tabs a[href='#tab-{tab}']")
        page.wait_for_selector(f"#tab-{tab} .card-tab-body")
        assert seen in page.inner_text(f"#tab-{tab}"), tab
        assert page.url.endswith(f"#{tab}")
        if tab == "payments":
            desk_screenshot(page, "card-2-payments")
    # A reload keeps the open tab (#documents), read again when shown.
    page.reload()
    page.wait_for_selector("#tab-documents .card-tab-body")
    assert page.locator("#tab-documents").is_visible()
    # Print: the card with every tab in it (the print style shows every pane), the address left without print=1.
    page.goto(live_server + page.get_attribute("#card-print", "href"))
    page.wait_for_load_state("networkidle")
    assert page.locator(".card-tab-later").count() == 0 and page.locator(".card-tab-body").count() == 4
    assert "print=1" not in page.url and "tab=all" in page.url
