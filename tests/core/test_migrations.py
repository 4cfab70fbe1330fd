"""The schema comes only from migrations, the same on SQLite and PostgreSQL."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import POSTGRES_URL, app_config, unavailable

EXPECTED_TABLES = {"ab_user", "ab_role", "dealer", "dealer_version", "transaction", "log_entry"}


def _include_object(object, name, type_, reflected, compare_to):
    # The PostgreSQL-only trigram indexes, as migrations/env.py does.
    return not (type_ == "index" and name and name.endswith("_trgm"))


def fresh_postgres_database(name):
    """An empty database on the test server, or skip (fail in CI)."""
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
