"""Login, CSRF, hashed passwords, rate limiting, production settings, proxies."""
import pytest
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash

import config
from app import create_app
from app.audit.models import LogEntry
from app.dealers.models import Dealer
from app.extensions import db
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Browser, app_config, visible_text
from tests.dealers.test_dealers import VALID, create_dealer


def dealer_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Dealer.id)))


def test_post_without_csrf_token_is_refused(app, admin):
    response = admin.client.post("/dealers/add", data=dict(VALID, vat_registered="y"))
    assert response.status_code == 400
    assert dealer_count(app) == 0


def test_delete_by_plain_get_deletes_nothing(app, admin):
    dealer_id = create_dealer(app)
    admin.get(f"/dealers/delete/{dealer_id}")
    assert dealer_count(app) == 1


def test_pages_and_api_need_a_login(app):
    client = app.test_client()
    response = client.get("/dealers/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert client.get("/api/v1/dealers/").status_code == 401
    assert client.get("/log/list/").status_code == 302


def test_passwords_are_stored_hashed(app):
    with app.app_context():
        stored = db.session.execute(
            text("SELECT password FROM ab_user WHERE username = :u"), {"u": ADMIN_USERNAME}
        ).scalar()
    assert stored != ADMIN_PASSWORD and ADMIN_PASSWORD not in stored
    assert check_password_hash(stored, ADMIN_PASSWORD)


def test_failed_logins_are_limited_per_address_and_username_in_the_panel_and_the_api(app, database_url):
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute",
                                    AUTH_ADDRESS_RATE_LIMIT="6 per minute"))
    browser = Browser(limited, remote_addr="192.0.2.99")
    codes = [browser.submit("/login/", {"username": ADMIN_USERNAME, "password": "wrong"}).status_code
             for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    # Locked for this address whatever the letter case: not even the right password is tried.
    refused = browser.submit("/login/", {"username": ADMIN_USERNAME.upper(), "password": ADMIN_PASSWORD})
    assert refused.status_code == 429
    page = visible_text(refused.text)
    assert "Твърде много неуспешни опити за вход" in page and "Опитайте отново след 1 минута." in page
    assert "Клиенти" not in page  # the layout of the login page, no menu of an operator
    api = limited.test_client()
    api.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    answer = api.post("/api/v1/security/login", json={"username": "Admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 429 and "Твърде много неуспешни опити" in answer.json["message"]

    # The storm does not lock the administrator out from their own address, in the panel or the API.
    Browser(limited, remote_addr="198.51.100.77").login()
    own = limited.test_client()
    own.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    assert own.post("/api/v1/security/login",
                    json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 200

    # Across usernames, the storm's address is locked once it has failed AUTH_ADDRESS_RATE_LIMIT times.
    codes = [api.post("/api/v1/security/login", json={"username": f"guess{i}", "password": "x"}).status_code
             for i in range(4)]
    assert codes == [401, 401, 401, 429]
    with limited.app_context():
        refusals = db.session.scalars(select(LogEntry).where(LogEntry.operation == "refused")
                                      .order_by(LogEntry.id)).all()
        assert [(entry.username, entry.remote_addr) for entry in refusals] == [
            (ADMIN_USERNAME, "192.0.2.99"), (ADMIN_USERNAME.upper(), "192.0.2.99"), ("Admin", "192.0.2.99"),
            ("guess3", "192.0.2.99")]


def test_an_office_behind_one_address_logs_in_as_often_as_it_likes(app, database_url):
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute"))
    for _ in range(20):
        browser = Browser(limited, remote_addr="192.0.2.100")
        assert browser.submit("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 302
        browser.logout()
    api = limited.test_client()
    api.environ_base["REMOTE_ADDR"] = "192.0.2.100"
    for _ in range(20):
        assert api.post("/api/v1/security/login",
                        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 200


def test_the_api_login_is_limited_like_the_panel(app, database_url):
    """80 wrong passwords, then the right one: refused after the limit, right password included."""
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="10 per 5 minute"))
    api = limited.test_client()
    api.environ_base["REMOTE_ADDR"] = "192.0.2.101"
    codes = [api.post("/api/v1/security/login", json={"username": ADMIN_USERNAME, "password": f"wrong{i}"}).status_code
             for i in range(80)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert api.post("/api/v1/security/login",
                    json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}).status_code == 429


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.setenv("BILLING_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigurationError):
        config.load_config()
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    settings = config.load_config()
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"]


def _last_login_ip(app):
    with app.app_context():
        return db.session.scalars(
            select(LogEntry.remote_addr).where(LogEntry.operation == "login").order_by(LogEntry.id.desc())
        ).first()


def test_forwarded_for_is_ignored_without_trusted_proxies(app):
    browser = Browser(app, remote_addr="192.0.2.50")
    browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.77"
    browser.login()
    assert _last_login_ip(app) == "192.0.2.50"


def test_forwarded_for_is_used_behind_a_trusted_proxy(app, database_url):
    proxied = create_app(app_config(database_url, TRUSTED_PROXIES=1))
    browser = Browser(proxied, remote_addr="127.0.0.1")
    browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.77"
    browser.login()
    assert _last_login_ip(proxied) == "203.0.113.77"


def test_each_create_app_is_complete(app, database_url):
    second = create_app(app_config(database_url))
    assert second.appbuilder is not app.appbuilder
    for application in (app, second):
        browser = Browser(application)
        browser.login()
        assert browser.get("/dealers/list/").status_code == 200


def test_logout_ends_the_session_even_for_a_copied_cookie(app):
    browser = Browser(app)
    browser.login()
    assert browser.get("/clients/list/").status_code == 200
    copied = browser.client.get_cookie("session").value
    other_device = Browser(app)
    other_device.login()
    browser.logout()

    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/clients/list/")
    assert answer.status_code == 302 and "/login/" in answer.headers["Location"]
    assert thief.get("/api/v1/clients/").status_code == 401  # the API takes the panel's cookie for reads: not this one
    # The logout ends the operator's sessions everywhere; a new login works.
    assert other_device.get("/clients/list/").status_code == 302
    browser.login()
    assert browser.get("/clients/list/").status_code == 200


def assert_security_headers(response, url):
    headers = response.headers
    assert headers.get("X-Frame-Options") == "DENY", url
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, url
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("Referrer-Policy") == "same-origin", url


def test_every_response_carries_the_security_headers_and_production_hsts(app, admin, api, database_url):
    anonymous = app.test_client()
    answers = {
        "/login/": anonymous.get("/login/"),
        "/clients/list/ (anonymous)": anonymous.get("/clients/list/"),
        "/clients/list/": admin.get("/clients/list/"),
        "/no-such-page": admin.get("/no-such-page"),
        "/freeftp/": anonymous.get("/freeftp/"),
        "/api/v1/clients/": api.get("/api/v1/clients/"),
        "/api/v1/clients/ (no token)": anonymous.get("/api/v1/clients/"),
    }
    for url, answer in answers.items():
        assert_security_headers(answer, url)
        assert "Strict-Transport-Security" not in answer.headers, url  # plain HTTP in development
    production = create_app(app_config(database_url, HSTS_MAX_AGE=31536000))
    answer = production.test_client().get("/login/")
    assert_security_headers(answer, "/login/ in production")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_api_refuses_writes_with_the_panels_cookie_and_reads_with_it(app, admin, api):
    dealer_id = create_dealer(app)
    # The panel's session cookie: another site's page could make the browser send it along.
    assert admin.get("/api/v1/dealers/").status_code == 200
    for answer in (admin.client.post("/api/v1/dealers/", json={"name": "През бисквитката"}),
                   admin.client.put(f"/api/v1/dealers/{dealer_id}", json={"name": "През бисквитката"}),
                   admin.client.delete(f"/api/v1/dealers/{dealer_id}")):
        assert answer.status_code == 401 and "Authorization: Bearer" in answer.json["message"]
        assert "ключ за достъп" in answer.json["message"]
    assert dealer_count(app) == 1
    with app.app_context():
        assert db.session.get(Dealer, dealer_id).name != "През бисквитката"
    # With the token, the same write is taken.
    assert api.put(f"/api/v1/dealers/{dealer_id}", json={"name": "С ключ"}).status_code == 200
