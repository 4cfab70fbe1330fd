"""Health and readiness, for load balancers and process supervisors.

- `/healthz`: the process is up and answers; it reads nothing (no database,
  no Redis), so a slow database never gets a healthy panel restarted;
- `/readyz`: this process can serve: the database answers within
  READY_TIMEOUT seconds, Redis too when REDIS_URL is set, and the
  database's schema is at this code's migrations' head. 200 when ready, 503
  when not. New code whose `flask db upgrade` has not run yet says
  "behind"; old code once a new release has migrated says "ahead": during
  a rolling upgrade the balancer so sends requests only to the panels
  whose code matches the schema (README, "Upgrades").

Both are unauthenticated and outside the protection list (a load balancer's
address is in no operator's list), and say nothing but machine keys:
`{"status": "ready", "checks": {"database": "ok", "redis": "not_configured",
"migrations": "ok"}}` — no error text, host, version or revision.

Each check opens a connection of its own (no pool, a connect timeout), so a
database that stopped answering is seen at once, and a check never takes
a connection the requests need. The RADIUS and FTP servers answer the same
two paths on their side port (app.core.metrics.serve_side_port).
"""
import logging

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

OK, UNREACHABLE, NOT_CONFIGURED, UNKNOWN = "ok", "unreachable", "not_configured", "unknown"
BEHIND, AHEAD = "behind", "ahead"  # the schema is older than this code / newer (a later release migrated it)

blueprint = Blueprint("health", __name__)


def public_route(view_function):
    """Outside the operators' protection list (app.protection.guard reads this mark; core imports no module)."""
    view_function.public_route = True
    return view_function


@blueprint.route("/healthz")
@public_route
def healthz():
    return _no_cache(jsonify(status="alive"))


@blueprint.route("/readyz")
@public_route
def readyz():
    ready, checks = readiness(current_app)
    response = jsonify(status="ready" if ready else "unready", checks=checks)
    response.status_code = 200 if ready else 503
    return _no_cache(response)


def _no_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def readiness(app):
    """(ready, {check: state}) for this process's application."""
    checks = {}
    revision = None
    try:
        revision = _database_revisions(app)
        checks["database"] = OK
    except Exception:  # noqa: BLE001 — any failure to answer is "unreachable"; the log says why
        log.warning("readiness: the database did not answer", exc_info=True)
        checks["database"] = UNREACHABLE
    checks["redis"] = _redis_state(app)
    if checks["database"] != OK:
        checks["migrations"] = UNKNOWN
    else:
        checks["migrations"] = _migrations_state(app, revision)
    ready = checks["database"] == OK and checks["redis"] in (OK, NOT_CONFIGURED) and checks["migrations"] == OK
    return ready, checks


def _timeout(app):
    return float(app.config.get("READY_TIMEOUT", 2))


def _readiness_engine(app):
    engine = app.extensions.get("billing_readiness_engine")
    if engine is None:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        timeout = _timeout(app)
        if url.startswith("postgresql"):
            connect_args = {"connect_timeout": max(1, round(timeout)),
                            "options": f"-c statement_timeout={int(timeout * 1000)}"}
        elif url.startswith("sqlite"):
            connect_args = {"timeout": timeout}
        else:
            connect_args = {}
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        app.extensions["billing_readiness_engine"] = engine
    return engine


def _database_revisions(app):
    """The schema's Alembic revisions (a frozenset; empty before the first migration)."""
    with _readiness_engine(app).connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        if not sa.inspect(connection).has_table("alembic_version"):
            return frozenset()
        return frozenset(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def _migrations_state(app, revision):
    heads, known = migrations_of(app)
    if revision == heads:
        return OK
    return BEHIND if revision <= known else AHEAD


def migrations_of(app):
    """(head revisions, every revision) of the migrations this code carries, read once per application."""
    found = app.extensions.get("billing_migrations")
    if found is None:
        config = Config()
        config.set_main_option("script_location", str(app.extensions["migrate"].directory))
        script = ScriptDirectory.from_config(config)
        found = (frozenset(script.get_heads()), frozenset(each.revision for each in script.walk_revisions()))
        app.extensions["billing_migrations"] = found
    return found


def _redis_state(app):
    url = app.config.get("REDIS_URL")
    if not url:
        return NOT_CONFIGURED
    from redis import Redis

    timeout = _timeout(app)
    connection = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        connection.ping()
        return OK
    except Exception:  # noqa: BLE001 — refused, timed out, wrong password: not ready, whatever the reason
        log.warning("readiness: Redis did not answer", exc_info=True)
        return UNREACHABLE
    finally:
        connection.close()


def register(app):
    """The panel's `/healthz` and `/readyz` (a worker's application serves no page)."""
    app.register_blueprint(blueprint)
