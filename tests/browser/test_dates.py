from tests.browser.test_walk import SCREENS, DEMO_PASSWORD, browser, live_server, log_in  # noqa: F401
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME


def test_probe(live_server, browser):  # noqa: F811
    page = log_in(browser, live_server, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{live_server}/tasks/add?client=1")
    print(page.content()[-6000:])
    page.click("input[name=scheduled_on]")
    page.screenshot(path="/tmp/dates/probe.png")
    print(page.eval_on_selector_all("script[src]", "s => s.map(x => x.src)"))
