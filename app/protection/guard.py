"""Enforces the protection list before every request, except explicit public routes."""
from flask import current_app, jsonify, render_template, request
from flask_babel import gettext

from app.audit.models import LogEntry
from app.audit.services import record_security_event
from app.protection.services import address_allowed

# Static files carry no data; the refusal page itself needs none of them.
EXEMPT_ENDPOINTS = {"static", "appbuilder.static"}


def public_route(view_function):
    """Marks a route as public: outside the operators' protection list.

    Public pages (free FTP registration, payment-collector callbacks) have
    filters of their own.
    """
    view_function.public_route = True
    return view_function


def _is_public(endpoint):
    if endpoint is None or endpoint in EXEMPT_ENDPOINTS:
        return True
    view_function = current_app.view_functions.get(endpoint)
    return bool(getattr(view_function, "public_route", False))


def enforce_protection():
    if _is_public(request.endpoint):
        return None
    if address_allowed(request.remote_addr):
        return None
    record_security_event(LogEntry.REFUSED, note=f"{request.method} {request.path}"[:500])
    message = gettext("Access from your address (%(address)s) is not allowed.", address=request.remote_addr)
    if request.path.startswith("/api/"):
        response = jsonify(message=message)
    else:
        response = current_app.make_response(render_template("errors/refused_address.html", message=message))
    response.status_code = 403
    return response


def init_app(app):
    app.before_request(enforce_protection)
