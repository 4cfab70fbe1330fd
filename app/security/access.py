"""Refuse with 403 (not FAB's redirect to the login page) what an operator may not do.

FAB's @has_access answers a logged-in operator without the permission with
a redirect and a flash message; a forged request must instead get a plain
403 from the server. This check runs before every panel view and applies
the same permission FAB would.
"""
from flask import abort, current_app, jsonify, request
from flask_appbuilder.api import BaseApi
from flask_appbuilder.const import PERMISSION_PREFIX
from flask_babel import gettext

from app.core.pages import forbidden_page
from app.security.rights import current_operator


def _views_by_blueprint():
    return current_app.extensions["billing_views_by_blueprint"]


def refuse_without_permission():
    endpoint = request.endpoint or ""
    if "." not in endpoint or current_operator() is None:
        return None
    blueprint, method_name = endpoint.split(".", 1)
    view = _views_by_blueprint().get(blueprint)
    if view is None or isinstance(view, BaseApi):
        return None  # FAB's REST APIs answer 401/403 themselves
    method = getattr(view, method_name, None)
    if getattr(method, "_permission_name", None) is None or not hasattr(method, "_urls"):
        return None  # not a permission-checked route (login, locale…)
    permission = PERMISSION_PREFIX + view.get_method_permission(method_name)
    if method_name in ("action", "action_post"):
        return None  # FAB checks the action's own permission inside
    if not current_app.appbuilder.sm.has_access(permission, view.class_permission_name):
        abort(403)
    return None


def forbidden(error):
    message = gettext("You do not have the right to do this.")
    if request.path.startswith("/api/"):
        return jsonify(message=message), 403
    return forbidden_page(message)


def init_app(app):
    """Call after every view is registered: the view map is built once, here."""
    app.extensions["billing_views_by_blueprint"] = {
        view.blueprint.name: view for view in app.appbuilder.baseviews if getattr(view, "blueprint", None)
    }
    app.before_request(refuse_without_permission)
    app.register_error_handler(403, forbidden)
