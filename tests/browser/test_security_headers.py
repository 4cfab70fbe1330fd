"""The panel still works in a real browser under its Content-Security-Policy (app.core.headers).

Flask-AppBuilder's pages run inline scripts and styles; the policy allows
those and nothing from outside. Chromium reports every violation on the
console: none may appear on the login page, a list with its filters, a
record page, and a form with its date picker and drop-downs.
"""
from tests.browser.test_walk import DEMO_PASSWORD, browser, live_server, log_in, screenshot  # noqa: F401


def test_pages_run_under_the_content_security_policy(live_server, browser):  # noqa: F811
    violations = []

    def watch(page):
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text or "Refused to" in message.text else None)
        page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))

    login = browser.new_page(viewport={"width": 1366, "height": 900}, locale="bg-BG")
    watch(login)
    response = login.goto(f"{live_server}/login/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    screenshot(login, "csp-login")
    login.close()

    page = log_in(browser, live_server, "l.dimitrov", DEMO_PASSWORD)
    watch(page)
    page.goto(f"{live_server}/clients/list/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof jQuery") == "function"  # the panel's scripts are loaded and run
    screenshot(page, "csp-clients-list")
    page.goto(f"{live_server}/clients/add")
    page.wait_for_load_state("networkidle")
    assert page.locator(".select2-container").count() > 0  # the drop-downs are select2's, made by script
    screenshot(page, "csp-client-form")
    page.goto(f"{live_server}/clients/list/")
    page.goto(live_server + page.get_attribute("a[href*='/clients/show/']", "href"))
    page.wait_for_load_state("networkidle")
    screenshot(page, "csp-client-card")
    assert violations == []
