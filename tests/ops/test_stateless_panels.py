"""Two panel processes behind one load balancer: whichever answers, the operator is the same.

A session is a cookie signed with SECRET_KEY (Flask's), its CSRF token is
kept in it, and the failed-login counts are LOG rows in the shared database
(app.security.logins): nothing a request needs is in one process's memory.
"""
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.protection.models import AllowedAddress
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Browser, app_config


def hand_over(browser, other_app):
    """A client of `other_app` carrying `browser`'s cookies, as the balancer's next request would."""
    other = other_app.test_client()
    other.environ_base["REMOTE_ADDR"] = browser.client.environ_base["REMOTE_ADDR"]
    session = browser.client.get_cookie("session")
    assert session is not None
    other.set_cookie("session", session.value)
    return other


def test_a_session_and_its_csrf_token_from_one_panel_work_on_the_other(app, database_url):
    panel_a, panel_b = app, create_app(app_config(database_url))
    browser = Browser(panel_a)
    browser.login()
    token = browser.csrf_token("/protection/add")

    on_b = hand_over(browser, panel_b)
    assert on_b.get("/clients/list/").status_code == 200  # logged in there too, not sent to the login page
    saved = on_b.post("/protection/add", data={"network": "192.0.2.0/24", "comment": "офис",
                                               "csrf_token": token})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(AllowedAddress.network)).all() == ["192.0.2.0/24"]

    # It is the shared key that does it: a panel with another key knows neither the session nor the token.
    stranger = hand_over(browser, create_app(app_config(database_url, SECRET_KEY="another-key-entirely")))
    assert stranger.get("/clients/list/").status_code == 302
    refused = stranger.post("/protection/add", data={"network": "198.51.100.0/24", "csrf_token": token})
    assert refused.status_code in (302, 400)
    with app.app_context():
        assert db.session.scalars(select(AllowedAddress.network)).all() == ["192.0.2.0/24"]

    # Logging out on B ends every copy of the session, on A as well (its generation is in the database).
    assert browser.get("/clients/list/").status_code == 200
    hand_over(browser, panel_b).get("/logout/")
    assert browser.get("/clients/list/").status_code == 302


def test_failed_logins_counted_by_one_panel_lock_the_other(app, database_url):
    limits = {"RATELIMIT_ENABLED": True, "AUTH_RATE_LIMIT": "3 per minute", "AUTH_ADDRESS_RATE_LIMIT": "50 per minute"}
    panel_a = create_app(app_config(database_url, **limits))
    panel_b = create_app(app_config(database_url, **limits))
    on_a, on_b = Browser(panel_a, remote_addr="192.0.2.77"), Browser(panel_b, remote_addr="192.0.2.77")
    codes = [browser.submit("/login/", {"username": ADMIN_USERNAME, "password": "wrong"}).status_code
             for browser in (on_a, on_b, on_a)]
    assert codes == [302, 302, 302]
    assert on_b.submit("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 429
    assert on_a.submit("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 429
