"""The panel's error pages and the bare addresses of its modules.

An error answers in the panel's layout — the menu, a Bulgarian message, a
way back and home — for 403, 404, 429 and 500 alike (the API answers JSON,
app.core.errors). Each list view's bare address (`/clients/`, `/payments/`)
leads to its list, as the README and people typing addresses expect.
"""
import logging

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from app.extensions import db

log = logging.getLogger(__name__)


def error_page(code, title, message):
    """The panel's page for an error `code`, in its layout."""
    appbuilder = current_app.appbuilder
    return render_template("errors/error.html", code=code, title=title, message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), code


def not_found_page():
    return error_page(404, gettext("Page not found"),
                      gettext("There is no such page or record, or it belongs to another dealer. "
                              "Check the address or go back."))


def forbidden_page(message=None):
    return error_page(403, gettext("Access denied"), message or gettext("You do not have the right to do this."))


def server_error(error):
    """An unexpected failure: what was half done is rolled back (app.core.transaction); the operator sees why
    to try again or call us, never a stack trace."""
    db.session.rollback()
    if request.path.startswith("/api/"):
        return jsonify(message=gettext("Something went wrong on the server; nothing was saved. Try again.")), 500
    try:
        return error_page(500, gettext("Something went wrong"),
                          gettext("Something went wrong on the server and nothing was saved. Try again; if it "
                                  "happens again, tell the administrator the time and what you did."))
    except Exception:  # noqa: BLE001 — the layout itself failed (the database is gone): a page without it
        log.exception("the error page could not be drawn")
        return gettext("Something went wrong on the server and nothing was saved. Try again."), 500


def add_bare_routes(app):
    """`<route_base>/` of every view with a list leads to the list (unless the view answers it itself)."""
    taken = {rule.rule for rule in app.url_map.iter_rules()}
    for view in app.appbuilder.baseviews:
        route_base = getattr(view, "route_base", None)
        endpoint = f"{view.endpoint}.list" if getattr(view, "endpoint", None) else None
        if not route_base or endpoint not in app.view_functions or f"{route_base}/" in taken:
            continue
        app.add_url_rule(f"{route_base}/", endpoint=f"bare{route_base.replace('/', '_')}",
                         view_func=_to_list(endpoint))
        taken.add(f"{route_base}/")


def _to_list(endpoint):
    def to_list():
        return redirect(url_for(endpoint, **request.args))

    return to_list


def init_app(app):
    """Call after every view is registered."""
    add_bare_routes(app)
    app.register_error_handler(500, server_error)
