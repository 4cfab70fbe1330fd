"""Test fixtures: one migrated database per run, a browser that does CSRF.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names
a PostgreSQL database, whose public schema is then dropped and migrated
from empty. Redis-backed tests use TEST_REDIS_URL. When CI is set, an
unreachable PostgreSQL or Redis fails the run instead of skipping.
"""
import os
import re

import pytest
import sqlalchemy as sa
from flask_appbuilder import Model

from app import create_app
from app.core.figures import forget as forget_figures
from app.extensions import db

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-test-pass-1"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Tables that keep their rows for the whole run: the permission matrix and
# the built-in roles (made once by init-roles). Everything else is emptied
# after every test; of the operators only the administrator stays.
KEPT_TABLES = {
    "alembic_version", "ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
    "ab_permission_view_role", "applied_role_grant", "ab_group", "ab_group_role",
}


def unavailable(what, error):
    """Skip a test needing a real service, or fail when CI promises one."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but unreachable: {error}")
    pytest.skip(f"{what} unreachable: {error}")


def reset_postgres(url):
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def migrate_and_prepare(app):
    from flask_migrate import upgrade

    from app.security.services import ensure_operator, init_roles

    with app.app_context():
        upgrade()
        init_roles()
        ensure_operator(ADMIN_USERNAME, ADMIN_PASSWORD, "Администратор", "Тестов")


def app_config(database_url, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-for-the-test-suite-only",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "http://localhost",  # the test client's own host: links in pages and mails
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'billing-test.db'}"


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(app_config(database_url))
    migrate_and_prepare(app)
    with app.app_context():
        app.config["TEST_ADMINISTRATOR"] = administrator_as_prepared()
    return app


def administrator_as_prepared():
    """The administrator's row and roles as migrate_and_prepare made them."""
    row = db.session.execute(sa.text("SELECT * FROM ab_user WHERE username = :u"), {"u": ADMIN_USERNAME}).mappings().one()
    roles = db.session.execute(sa.text("SELECT role_id FROM ab_user_role WHERE user_id = :a"), {"a": row["id"]}).scalars()
    return dict(row), sorted(roles)


def restore_administrator(prepared):
    """Put the administrator back as prepared: a test (the API fuzzer above all) may rename it, change its
    e-mail, password or roles, and the next test would read "0 0" where "Администратор Тестов" signed."""
    row, roles = prepared
    columns = [name for name in row if name != "id"]
    db.session.execute(
        sa.text("UPDATE ab_user SET " + ", ".join(f"{name} = :{name}" for name in columns) + " WHERE id = :id"), row)
    db.session.execute(sa.text("DELETE FROM ab_user_role WHERE user_id = :a"), {"a": row["id"]})
    for role_id in roles:
        db.session.execute(sa.text("INSERT INTO ab_user_role (user_id, role_id) VALUES (:a, :r)"),
                           {"a": row["id"], "r": role_id})


@pytest.fixture(autouse=True)
def clean_database(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        forget_figures()  # the home page's counts of this test's rows are not the next test's
        db.session.rollback()
        admin_id = app.config["TEST_ADMINISTRATOR"][0]["id"]
        restore_administrator(app.config["TEST_ADMINISTRATOR"])
        for table in reversed(Model.metadata.sorted_tables):
            if table.name in KEPT_TABLES:
                continue
            if table.name in ("payment_method", "payment_type"):
                # The built-in ones (with a code) come from the migration.
                db.session.execute(sa.text(f'DELETE FROM "{table.name}" WHERE code IS NULL'))
            elif table.name in ("ab_user", "ab_user_role", "ab_user_group", "ab_api_key"):
                column = "id" if table.name == "ab_user" else "user_id"
                db.session.execute(sa.text(f'DELETE FROM "{table.name}" WHERE {column} != :a'), {"a": admin_id})
            else:
                db.session.execute(sa.text(f'DELETE FROM "{table.name}"'))
        db.session.commit()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "once: the test needs nothing of the run's own database (it makes its own PostgreSQL database, "
        "starts fresh processes or walks every page in a browser); CI runs it in its SQLite run only")


def pytest_collection_modifyitems(config, items):
    """CI runs the suite twice, on SQLite and on PostgreSQL; a `once` test would only repeat itself in the second
    run (same databases, same processes), so there it is skipped, saying where it ran."""
    if not (os.environ.get("CI") and os.environ.get("TEST_DATABASE_URL")):
        return
    ran_before = pytest.mark.skip(reason="ran in CI's SQLite run: it does not depend on the run's database")
    for item in items:
        if item.get_closest_marker("once"):
            item.add_marker(ran_before)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """A test client that logs in and posts forms the way a browser does (CSRF included)."""

    def __init__(self, app, remote_addr="192.0.2.10"):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = remote_addr

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def csrf_token(self, url):
        page = self.client.get(url)
        match = CSRF_RE.search(page.text)
        assert match, f"no CSRF token on {url} ({page.status_code})"
        return match.group(1)

    def submit(self, url, data, form_url=None, **kwargs):
        """Open the form page, then post `data` with the page's CSRF token."""
        payload = dict(data)
        payload["csrf_token"] = self.csrf_token(form_url or url)
        return self.client.post(url, data=payload, **kwargs)

    def login(self, username=ADMIN_USERNAME, password=ADMIN_PASSWORD):
        response = self.submit("/login/", {"username": username, "password": password})
        assert response.status_code == 302, "login did not redirect"
        return response

    def logout(self):
        return self.client.get("/logout/")


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def admin(app, browser):
    browser.login()
    return browser


def api_token(client, username=ADMIN_USERNAME, password=ADMIN_PASSWORD):
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": False},
    )
    assert response.status_code == 200, response.text
    return response.json["access_token"]


@pytest.fixture
def api(app):
    """A REST API client logged in with a JWT as the administrator."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    token = api_token(client)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def visible_text(html):
    """The text a user reads on a page (no scripts, styles or tags)."""
    import html as html_module

    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html_module.unescape(text)).strip()


class Statements:
    """The SQL statements the application runs inside `with Statements(app) as seen:`, whitespace folded;
    `keep(statement)` chooses which are listed (all by default)."""

    def __init__(self, app, keep=None):
        with app.app_context():
            self.engine = db.engine
        self.keep = keep or (lambda _statement: True)
        self.seen = []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *_exception):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, connection, cursor, statement, *args):
        if self.keep(statement):
            self.seen.append(" ".join(statement.split()))
