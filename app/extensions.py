"""Extension objects shared by every module: plumbing, importing no business module.

Versioning is turned on by app.audit.versioning, which app/__init__.py
imports before any model class is defined.
"""
import sqlite3
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask_appbuilder import Model
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

# FAB's Model is the declarative base of the security tables too, so one
# metadata (Model.metadata) holds the whole schema for Alembic.
db = SQLAlchemy(model_class=Model)


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record):
    """SQLite checks foreign keys only when asked, per connection; PostgreSQL always does.

    Without it a deleted operator's payments and LOG rows would point at nothing.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        # The office's day of a UTC moment, which SQLite cannot compute (app.core.sqltime; migration 0022).
        dbapi_connection.create_function("local_day", 2, _sqlite_local_day, deterministic=True)


@lru_cache(maxsize=8)
def _zone(name):
    return ZoneInfo(name)


def _sqlite_local_day(moment, zone_name):
    """local_day('2026-03-31 23:30:00.000000', 'Europe/Sofia') = '2026-04-01'."""
    if moment is None:
        return None
    value = datetime.fromisoformat(str(moment)).replace(tzinfo=timezone.utc)
    return value.astimezone(_zone(zone_name)).date().isoformat()
migrate = Migrate()
csrf = CSRFProtect()
