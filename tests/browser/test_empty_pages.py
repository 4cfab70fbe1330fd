"""Empty list pages and the rights matrix in Chromium at 1366 × 768, before anything is entered: each empty list
says in a line, in view without scrolling, what belongs there and how it gets there. Screenshots go with the
walk's (SCREENSHOTS_DIR)."""
import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.test_walk import CHROMIUM, QuietHandler, playwright_or_skip, screenshot
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

EMPTY_PAGES = {
    "/freezes/list/": "Ваканция",
    "/online/list/": "RADIUS",
    "/contracts/list/": "Нов договор",
    "/collectors/list/": "Посредник се добавя",
    "/notifications/list/": "писмо",
    "/protection/list/": "отвсякъде",
    "/clients/list/": "Нов клиент",
}


@pytest.fixture
def empty_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(empty_server):
    sync_playwright = playwright_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = chromium.new_page(viewport={"width": 1366, "height": 768}, locale="bg-BG")
        page.goto(f"{empty_server}/login/")
        page.fill("input[name=username]", ADMIN_USERNAME)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state("networkidle")
        yield page
        chromium.close()


def test_an_empty_list_says_what_goes_there_in_view(empty_server, page):
    for url, words in EMPTY_PAGES.items():
        page.goto(empty_server + url)
        note = page.locator(".list-note")
        assert note.count() == 1, url
        assert words in note.inner_text(), (url, note.inner_text())
        box = note.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, (url, box)  # no scrolling to find it
        screenshot(page, "empty" + url.rstrip("/").replace("/list", "").replace("/", "-"))


def test_the_rights_matrix_reads_bulgarian(empty_server, page):
    page.goto(f"{empty_server}/roles/matrix/")
    text = page.inner_text("body")
    for english in ("Week", "FREEFTP settings", "FTP accounts", "FreeFtpAttempt", "FreeFtpIndexRun"):
        assert english not in text
    screenshot(page, "rights-matrix")
    page.goto(f"{empty_server}/operators/list/")
    assert "[" not in page.inner_text("table")
    screenshot(page, "operators")
