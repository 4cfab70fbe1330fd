"""Turns on versioning (SQLAlchemy-Continuum) with the LOG's plugins, when imported.

Continuum versions nothing silently unless make_versioned() runs before any
model class is defined, so app/__init__.py imports this first, before any
other project module. The LOG's own model (app.audit.models.LogEntry) is
handed to the plugin when it is defined: the plugin imports no model.
"""
from sqlalchemy_continuum import make_versioned
from sqlalchemy_continuum.plugins import FlaskPlugin

from app.audit.plugin import LogEntryPlugin
from app.core.actors import current_actor_id, current_remote_addr

make_versioned(
    user_cls="User",
    plugins=[
        FlaskPlugin(
            current_user_id_factory=current_actor_id,
            remote_addr_factory=current_remote_addr,
        ),
        LogEntryPlugin(),
    ],
)
