"""The RADIUS process's pool pings no connection before a batch (app.radius.cli.radius_application), while the
panel's does: on PostgreSQL a connection lost meanwhile fails one batch of RADIUS's and the next gets a new one;
the panel's next request does not notice. On SQLite: the statements each connection ran (its trace)."""
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.radius.cli import radius_application


def lose_the_pooled_connection(engine):
    """A batch's connection, returned to the pool, then ended by the server (a restart, a failover, a kill)."""
    with engine.connect() as connection:
        pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    killer = sa.create_engine(engine.url)
    with killer.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()


def test_a_lost_connection_fails_one_radius_batch_and_the_pool_renews(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite loses no connection; the next test reads its trace")
    radius = radius_application(app)
    with radius.app_context():
        lose_the_pooled_connection(db.engine)
        with pytest.raises(sa.exc.DBAPIError) as failed:  # no ping: the batch meets the dead connection
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        assert failed.value.connection_invalidated
        with db.engine.connect() as connection:  # the pool renewed: the next batch is served
            assert connection.execute(sa.text("SELECT 2")).scalar() == 2
        db.engine.dispose()
    with app.app_context():  # the panel pings: its next request never sees the lost connection
        lose_the_pooled_connection(db.engine)
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 3")).scalar() == 3


def test_the_radius_pool_runs_only_the_batches_statements(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL: the previous test loses the connection itself")

    def statements_of_three_batches(engine):
        seen = []
        sa.event.listen(engine, "connect", lambda connection, _record: connection.set_trace_callback(seen.append))
        engine.dispose()
        for number in range(3):
            with engine.connect() as connection:
                connection.execute(sa.text(f"SELECT {number + 10}"))
        engine.dispose()
        return [statement for statement in seen if statement.startswith("SELECT")]

    radius = radius_application(app)
    with radius.app_context():
        assert statements_of_three_batches(db.engine) == ["SELECT 10", "SELECT 11", "SELECT 12"]
    with app.app_context():  # the panel's pool pings each connection it takes again
        assert statements_of_three_batches(db.engine).count("SELECT 1") == 2
