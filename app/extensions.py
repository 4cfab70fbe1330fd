"""Extension objects shared by every module.

Importing this module turns on versioning, so it must be imported before any
model class is defined (app/__init__.py does that first).
"""
from flask_appbuilder import Model
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy_continuum import make_versioned
from sqlalchemy_continuum.plugins import FlaskPlugin

from app.core.actors import current_actor_id, current_remote_addr
from app.audit.plugin import LogEntryPlugin

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

# FAB's Model is the declarative base of the security tables too, so one
# metadata (Model.metadata) holds the whole schema for Alembic.
db = SQLAlchemy(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
