"""Security headers on every response: the panel, the API, the public pages and the error pages alike.

- X-Frame-Options and CSP frame-ancestors: no other site frames the panel
  (a click on a framed "Delete" is not the operator's);
- Content-Security-Policy: scripts, styles, images and fonts only from the
  app itself. Flask-AppBuilder's pages carry inline scripts and styles (and
  their handlers in attributes), so those are allowed inline; the panel
  loads nothing from outside, so nothing else is;
- X-Content-Type-Options: nosniff: an uploaded or exported file is never run
  as a script;
- Referrer-Policy: same-origin: a link in the panel (an enrolment link's
  token in the path, a search) never leaves in a Referer;
- Strict-Transport-Security when HSTS_MAX_AGE is set (production's default):
  a browser that met the panel over HTTPS never speaks plain HTTP to it.

A view that sets one of these itself keeps its own.
"""
from flask import current_app

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))


def add_security_headers(response):
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    max_age = current_app.config.get("HSTS_MAX_AGE") or 0
    if max_age > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={int(max_age)}; includeSubDomains")
    return response


def init_app(app):
    app.after_request(add_security_headers)
