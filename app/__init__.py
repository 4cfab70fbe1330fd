"""Billing: the back office of a Bulgarian internet provider or cable-TV operator."""
import os
import sys
from importlib import import_module
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.audit import versioning  # noqa: F401  first: turns on versioning, before any model class
from app.extensions import csrf, db, migrate
from app import models  # noqa: F401  every module's models, before mappers are configured
from flask_appbuilder import AppBuilder  # noqa: I001  after versioning is on
from sqlalchemy.orm import configure_mappers
from app import check_config
from app.billing import wiring as billing_wiring
from app.clients import wiring as clients_wiring
from app.core import (api_language, errors, formatting, forms, headers, health, logs, metrics, openapi, pages,
                      queue, transaction)
from app.core import cli as core_cli
from app.epay import wiring as epay_wiring
from app.invoices import wiring as invoices_wiring
from app.notifications import wiring as notifications_wiring
from app.organizer import wiring as organizer_wiring
from app.protection import guard
from app.radius import wiring as radius_wiring
from app.security import access, logins
from config import engine_options, load_config

# Business modules in menu order; each has views.register(appbuilder).
MODULES = ("clients", "dealers", "catalog", "networks", "addresses", "contracts", "organizer", "billing", "invoices",
           "cashdesk", "collectors", "epay", "notifications", "radius", "reports", "freeftp", "security", "protection", "audit",
           "imports", "portal")
# Modules with `flask --app app <module> …` commands: their cli.py's `commands` group.
CLI_MODULES = ("security", "protection", "billing", "radius", "freeftp", "demo", "imports")
# What the modules plug in whatever the process (panel, worker, RADIUS, FTP): each wiring.py's init(app)
# connects the module's receivers and registers its periodic jobs. In this order, as the menu's: receivers
# of one event run in the order they were connected.
WIRING = (clients_wiring, organizer_wiring, billing_wiring, invoices_wiring, notifications_wiring, radius_wiring,
          epay_wiring)


class _AppBuilderWithoutViews(AppBuilder):
    """FAB's security manager (operators, roles, rights) and Babel, without a single view or menu: a worker's."""

    def _add_admin_views(self):
        # FAB adds its home, language, security and spec views here; a worker serves no page.
        pass


def create_app(overrides=None, views=True):
    """Build a complete, independent application (a fresh AppBuilder each call).

    `views=False` builds what `python worker.py` needs and no more: the
    configuration, the database and its unit of work, every module's
    receivers and periodic jobs, and FAB's security manager for the jobs'
    actors — no FAB view, API, menu or page, nor the panel's request guards
    (protection list, rights, logins) or CLI commands.
    """
    # INSTANCE_PATH: this machine's own folder (nothing in it is shared: the files are in the database).
    app = Flask(__name__, instance_relative_config=True, instance_path=os.environ.get("INSTANCE_PATH") or None)
    app.config.update(load_config(checking=_checking_config()))
    if overrides:
        app.config.update(overrides)
        if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])

    if app.config["TRUSTED_PROXIES"]:
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    logs.init_app(app)  # first: the request id exists for every other hook, and is in the response of each
    formatting.init_app(app)  # it sets Jinja options
    forms.init_app(app)  # before the views: FAB builds their forms' date fields and choices from it
    db.init_app(app)
    metrics.init_app(app)  # before the unit of work's hooks: counts each request once it has committed
    transaction.init_app(app)  # before any other after_request hook, so it runs last
    errors.init_app(app)
    headers.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    csrf.init_app(app)
    configure_mappers()
    queue.init_app(app)
    for wiring in WIRING:
        wiring.init(app)

    if not views:
        with app.app_context():
            _AppBuilderWithoutViews(update_perms=False).init_app(app, db.session)
        return app

    # Before FAB's own request hooks: a refused address gets no further.
    guard.init_app(app)
    health.register(app)  # /healthz, /readyz: for load balancers, no login, no data
    metrics.register(app)  # /metrics: with METRICS_TOKEN only

    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        _register_modules(appbuilder)
        openapi.register(appbuilder)
    api_language.init_app(app)
    access.init_app(app)
    pages.init_app(app)
    logins.init_app(app)
    for name in CLI_MODULES:
        app.cli.add_command(import_module(f"app.{name}.cli").commands)
    app.cli.add_command(core_cli.backup)
    app.cli.add_command(core_cli.stored_files)
    app.cli.add_command(check_config.command)
    return app


def _checking_config():
    """Whether this process is `flask … check-config`, which reports a configuration the others refuse."""
    return "check-config" in sys.argv[1:]


def _register_modules(appbuilder):
    for name in MODULES:
        import_module(f"app.{name}.views").register(appbuilder)


def _migrations_dir():
    return Path(__file__).resolve().parent.parent / "migrations"
