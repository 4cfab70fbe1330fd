"""The schema comes only from migrations, the same on SQLite and PostgreSQL."""
import json
import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import POSTGRES_URL, app_config, unavailable

# Each makes its own databases: nothing here depends on the run's database.
pytestmark = pytest.mark.once

EXPECTED_TABLES = {"ab_user", "ab_role", "dealer", "dealer_version", "transaction", "log_entry"}


def _include_object(object, name, type_, reflected, compare_to):
    # The PostgreSQL-only trigram and letter-pair indexes and SQLite's full-text tables, as migrations/env.py does.
    if type_ == "table" and name and "_fts" in name and compare_to is None:
        return False
    return not (type_ == "index" and name and name.endswith(("_trgm", "_grams")))


# CI runs the SQLite and the PostgreSQL suites side by side on one server: each run's own databases are named apart.
RUN_SUFFIX = "_pgrun" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgres") else ""


def fresh_postgres_database(name):
    """An empty database on the test server (named for this run), or skip (fail in CI)."""
    name += RUN_SUFFIX
    admin_url = sa.engine.make_url(POSTGRES_URL)
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except sa.exc.OperationalError as error:
        unavailable("PostgreSQL", error)
    return admin_url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return fresh_postgres_database("billing_migrations_test")


def test_migrations_from_empty_match_the_models(empty_database):
    app = create_app(app_config(empty_database))
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert EXPECTED_TABLES <= tables
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": _include_object})
            differences = compare_metadata(context, Model.metadata)
        assert differences == []

        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_after_the_migrations_every_connection_of_the_app_still_refuses_to_orphan_a_record(tmp_path):
    """The migrations switch SQLite's foreign keys off on their connection; that connection went back to the
    pool so, and the API fuzzer deleted a service still sold through it (a subscription of no service)."""
    app = create_app(app_config(f"sqlite:///{tmp_path / 'pool.db'}"))
    with app.app_context():
        upgrade()
        connections = [db.engine.connect() for _ in range(db.engine.pool.size() + 1)]  # every pooled one at once
        try:
            assert [c.exec_driver_sql("PRAGMA foreign_keys").scalar() for c in connections] == [1] * len(connections)
            for connection in connections:
                with pytest.raises(sa.exc.IntegrityError):
                    connection.execute(sa.text("INSERT INTO ab_user_role (user_id, role_id) VALUES (999, 999)"))
                connection.rollback()
        finally:
            for connection in connections:
                connection.close()
        db.engine.dispose()


def test_passwords_logged_in_clear_before_masking_are_masked_by_the_upgrade(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="0009")
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO log_entry (issued_at, entity_type, entity_id, operation, changes) VALUES "
                "('2026-11-20 10:00:00', 'Subscription', '7', 'update', :changes), "
                "('2026-11-20 10:00:00', 'Client', '3', 'update', :other)"),
                {"changes": '{"password": ["old-secret", "new-secret"], "username": ["a", "b"]}',
                 "other": '{"password": ["not", "a subscription"]}'})
        upgrade()
        with db.engine.connect() as connection:
            rows = dict(connection.execute(sa.text("SELECT entity_type, changes FROM log_entry")).all())
        db.engine.dispose()
    assert json.loads(rows["Subscription"]) == {"password": ["***", "***"], "username": ["a", "b"]}
    assert json.loads(rows["Client"]) == {"password": ["not", "a subscription"]}
