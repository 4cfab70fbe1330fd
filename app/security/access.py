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


# The API's own login (a password, or a refresh token in its Authorization header).
API_LOGIN_PATHS = ("/api/v1/security/login", "/api/v1/security/refresh")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def refuse_cookie_writes_to_api():
    """A write to the API needs its token: the panel's session cookie would let another site's page write.

    The panel's forms carry a CSRF token; the API has none, and a browser
    sends the panel's cookie along with any request, whoever's page makes
    it. So the API reads with the cookie (FAB's allow_browser_login) but
    changes nothing without an Authorization: Bearer token.
    """
    if request.method not in WRITES or not request.path.startswith("/api/") or request.path in API_LOGIN_PATHS:
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None
    return jsonify(message=gettext(
        "The API makes changes only with an access token (Authorization: Bearer), not with the panel's login.")), 401


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
    app.before_request(refuse_cookie_writes_to_api)
    app.before_request(refuse_without_permission)
    app.register_error_handler(403, forbidden)
