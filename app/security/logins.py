"""Failed logins, limited per address and username together, in the panel and the API alike.

Only failed attempts count (every one is a LOG entry, written by the
security-event path), so an office behind one address may log in as often
as it likes. Two limits, each "N per period":

- AUTH_RATE_LIMIT ("10 per 5 minute"): failures of one username from one
  address. A username is counted without regard to letter case, as FAB
  finds the operator (M.IVANOVA is m.ivanova). A storm of wrong passwords
  from one address so never locks the operator out from their own address,
  the administrator included;
- AUTH_ADDRESS_RATE_LIMIT ("50 per 5 minute"): failures from one address
  across all usernames, against a storm that tries many.

The next attempt is refused with 429 before the password is even checked,
and the refusal is in the LOG. The count lives in the database, so every web
process sees the same. `refuse_after_too_many_failures` is the one place
that decides, for every login endpoint (panel, code step, enrolment link, API).
"""
from datetime import timedelta

from flask import current_app, jsonify, render_template, request, session
from flask_babel import ngettext
from limits import parse
from sqlalchemy import and_, func, select

from app.audit.models import LogEntry
from app.audit.services import record_security_event
from app.core.formatting import utcnow
from app.extensions import db
from app.security.login_view import PENDING
from app.security.models import Operator, OperatorLogin
from app.security.two_factor import login_state, operator_of_enrolment_link

LOGIN_ENDPOINTS = {"TwoFactorAuthDBView.login", "TwoFactorAuthDBView.code", "TwoFactorAuthDBView.enrol",
                   "SecurityApi.login"}


def _failures(condition, since):
    return db.session.scalar(select(func.count(LogEntry.id)).where(
        LogEntry.operation == LogEntry.LOGIN_FAILED, LogEntry.issued_at >= since, condition))


def _attempted_username():
    """The username a login attempt is for: typed (panel, API) or the operator of a code step or enrolment link."""
    if request.endpoint == "TwoFactorAuthDBView.code":
        pending = session.get(PENDING)
        operator = db.session.get(Operator, pending["id"]) if isinstance(pending, dict) else None
        return operator.username if operator is not None else None
    if request.endpoint == "TwoFactorAuthDBView.enrol":
        operator = operator_of_enrolment_link((request.view_args or {}).get("token"))
        return operator.username if operator is not None else None
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.form.get("username")
    return value.strip()[:256] if isinstance(value, str) and value.strip() else None


def _window(setting):
    limit = parse(current_app.config[setting])
    return limit.amount, utcnow() - timedelta(seconds=limit.get_expiry()), limit.get_expiry()


def refuse_after_too_many_failures():
    """Before a login is tried: 429 when this username from this address, or this address, has failed too often."""
    if request.method != "POST" or request.endpoint not in LOGIN_ENDPOINTS:
        return None
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    username = _attempted_username()
    from_here = LogEntry.remote_addr == request.remote_addr
    amount, since, expiry = _window("AUTH_RATE_LIMIT")
    # lower() on both sides in the database, as FAB's find_user compares usernames.
    locked = username is not None and _failures(
        and_(from_here, func.lower(LogEntry.username) == func.lower(username)), since) >= amount
    if not locked:
        address_amount, address_since, address_expiry = _window("AUTH_ADDRESS_RATE_LIMIT")
        locked = _failures(from_here, address_since) >= address_amount
        expiry = address_expiry
    if not locked:
        return None
    minutes = max(expiry // 60, 1)
    record_security_event(LogEntry.REFUSED, username=username, note=f"{request.path}: too many failed logins")
    message = ngettext("Too many failed logins from your address or for this user. Try again in %(num)d minute.",
                       "Too many failed logins from your address or for this user. Try again in %(num)d minutes.",
                       minutes)
    if request.path.startswith("/api/"):
        return jsonify(message=message), 429
    appbuilder = current_app.appbuilder
    return render_template("errors/429.html", message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), 429


# A panel session carries its operator's session generation from the login on;
# a logout increments the generation, so every copy of the session's cookie
# (a copied or stolen one included) stops working at once, server-side.
SESSION_GENERATION = "billing_session_generation"


def _generation(operator):
    state = db.session.get(OperatorLogin, operator.id)
    return state.session_generation if state is not None else 0


def stamp_session(operator):
    """At a login: the session belongs to the operator's current generation."""
    session[SESSION_GENERATION] = _generation(operator)


def session_is_current(operator):
    """False for a session of a generation a logout has ended (or from before generations)."""
    return session.get(SESSION_GENERATION) == _generation(operator)


def end_sessions(operator):
    """At a logout: every session of the operator ends (the unit of work commits it). Flushes."""
    state = login_state(operator)
    state.session_generation += 1
    db.session.flush()
    session.pop(SESSION_GENERATION, None)


def init_app(app):
    app.before_request(refuse_after_too_many_failures)
