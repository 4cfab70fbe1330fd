"""Failed logins, limited per address and per username, in the panel and the API alike.

Only failed attempts count (every one is a LOG entry, written by the
security-event path), so an office behind one address may log in as often
as it likes. AUTH_RATE_LIMIT ("10 per 5 minute") is how many failures an
address, or a username from anywhere, may have in that time; the next
attempt is refused with 429 before the password is even checked, and the
refusal is in the LOG. The count lives in the database, so every web process
sees the same.
"""
from datetime import timedelta

from flask import current_app, jsonify, render_template, request
from flask_babel import ngettext
from limits import parse
from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.audit.services import record_security_event
from app.core.formatting import utcnow
from app.extensions import db

LOGIN_ENDPOINTS = {"TwoFactorAuthDBView.login", "TwoFactorAuthDBView.code", "TwoFactorAuthDBView.enrol",
                   "SecurityApi.login"}


def _failures(condition, since):
    return db.session.scalar(select(func.count(LogEntry.id)).where(
        LogEntry.operation == LogEntry.LOGIN_FAILED, LogEntry.issued_at >= since, condition))


def _attempted_username():
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("username") if isinstance(body, dict) else None
    else:
        value = request.form.get("username")
    return value.strip()[:256] if isinstance(value, str) and value.strip() else None


def refuse_after_too_many_failures():
    """Before a login is tried: 429 when its address or its username has failed too often lately."""
    if request.method != "POST" or request.endpoint not in LOGIN_ENDPOINTS:
        return None
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    limit = parse(current_app.config["AUTH_RATE_LIMIT"])
    since = utcnow() - timedelta(seconds=limit.get_expiry())
    username = _attempted_username()
    locked = _failures(LogEntry.remote_addr == request.remote_addr, since) >= limit.amount or (
        username is not None and _failures(LogEntry.username == username, since) >= limit.amount)
    if not locked:
        return None
    minutes = max(limit.get_expiry() // 60, 1)
    record_security_event(LogEntry.REFUSED, username=username, note=f"{request.path}: too many failed logins")
    message = ngettext("Too many failed logins from your address or for this user. Try again in %(num)d minute.",
                       "Too many failed logins from your address or for this user. Try again in %(num)d minutes.",
                       minutes)
    if request.path.startswith("/api/"):
        return jsonify(message=message), 429
    appbuilder = current_app.appbuilder
    return render_template("errors/429.html", message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), 429


def init_app(app):
    app.before_request(refuse_after_too_many_failures)
