"""The REST API's language: Bulgarian, or English when the client asks for it.

A client asks with `Accept-Language: en` (or FAB's `?_l_=en`); anything
else, and no header at all, is answered in Bulgarian. The panel keeps
FAB's choice (the operator's language menu, Bulgarian by default).

Our own messages go through gettext and so follow the request's language.
Flask-AppBuilder's API answers ("Not found", "Forbidden") and marshmallow's
field errors ("Missing data for required field.", "Longer than maximum
length 100.") are English literals in those libraries; `translate_error_body`
puts them into the request's language on their way out, from the msgids
listed here (extracted with the N_ marker into the catalog).
"""
import json
import re

from flask import current_app, has_request_context, request
from flask_babel import gettext


def N_(message):
    """Marks a library's message for extraction into the catalog; translated later, when answered."""
    return message


# Flask-AppBuilder's API (flask_appbuilder/api/__init__.py, security/api.py).
FRAMEWORK_MESSAGES = (
    N_("Not found"),
    N_("Forbidden"),
    N_("Not authorized"),
    N_("Arguments are not correct"),
    N_("Could not process entity"),
    N_("Internal error"),
    N_("Not a valid rison/json argument"),
    N_("Not a valid rison argument"),
    N_("Request is not JSON"),
    N_("Fatal error"),
    # Flask-JWT-Extended's refusals of a token (their key is "message": JWT_ERROR_MESSAGE_KEY in config.py).
    N_("Missing Authorization Header"),
    N_("Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'"),
    N_("Token has expired"),
    N_("Fresh token required"),
    N_("Token has been revoked"),
    N_("User claims verification failed"),
)
# marshmallow's field, schema and validator errors, as they reach a client
# (placeholders in braces are the values marshmallow fills in).
# tests/core/test_api_language.py checks that none of marshmallow's is missing.
VALIDATION_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 interface."),
    N_("Not a valid period of time."),
    N_("String does not match expected pattern."),
    N_("Longer than maximum length {max}."),
    N_("Shorter than minimum length {min}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Must be one of: {choices}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
)
_EXACT = frozenset(message for message in FRAMEWORK_MESSAGES + VALIDATION_MESSAGES if "{" not in message)


def _pattern(template):
    parts = re.split(r"(\{\w+\})", template)
    return re.compile("^" + "".join(f"(?P<{part[1:-1]}>.+?)" if re.fullmatch(r"\{\w+\}", part) else re.escape(part)
                                    for part in parts) + "$", re.DOTALL)


_TEMPLATES = tuple((template, _pattern(template)) for template in VALIDATION_MESSAGES if "{" in template)


def translated(message):
    """A library's English message in the request's language; any other text as it is."""
    if message in _EXACT:
        return gettext(message)
    for template, pattern in _TEMPLATES:
        match = pattern.match(message)
        if match:
            return gettext(template).format(**match.groupdict())
    return message


def _translated_tree(value):
    if isinstance(value, str):
        return translated(value)
    if isinstance(value, dict):
        return {key: _translated_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_translated_tree(item) for item in value]
    return value


def api_locale():
    """`?_l_=` when it names a language of the app, else the best of Accept-Language, else Bulgarian."""
    languages = list(current_app.config["LANGUAGES"])
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    asked = request.args.get("_l_")
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages, default=default)


def translate_error_body(response):
    """An API refusal's `message`, with the libraries' English put into the request's language."""
    if response.status_code < 400 or not request.path.startswith("/api/") or not response.is_json:
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "message" in body:
        body["message"] = _translated_tree(body["message"])
        response.set_data(json.dumps(body, ensure_ascii=False))
    return response


def init_app(app):
    """After the AppBuilder is built: its Babel locale selector answers the API from the request."""
    babel = app.extensions["babel"]
    panel_locale = babel.locale_selector

    def select_locale():
        if has_request_context() and request.path.startswith("/api/"):
            return api_locale()
        return panel_locale()

    babel.locale_selector = select_locale
    app.after_request(translate_error_body)
