"""Domain errors that views and APIs turn into messages, and refusals of input no rule can read."""
import json
import urllib.parse

import prison
from flask import jsonify, request
from flask_babel import gettext
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import NotFound


class FieldErrors(Exception):
    """A record refused by a business rule, as {field: [message, ...]}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        # One line, for a refusal flashed rather than shown under a field
        # (a status change, a reversal, a form field the page does not have).
        return " ".join(str(message) for messages in self.errors.values() for message in messages)


class StateConflict(FieldErrors):
    """A refusal because of the record's present state, not of what was sent (a terminated subscription is
    never activated again): a request that may be right tomorrow. The panel shows it like any refusal; an
    API operation that documents it answers 409 rather than 422."""


def _no_such_record(error):
    # SQLite refuses to compare an id column with a number beyond 64 bits
    # (a forged /…/<id> or ?client=…); no record has such an id.
    return _not_found(NotFound())


def _not_found(error):
    """The API answers an unknown address in JSON, like its other refusals; the panel in its layout."""
    if not request.path.startswith("/api/"):
        from app.core.pages import not_found_page

        return not_found_page()
    return jsonify(message=gettext("There is no such address or record.")), 404


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def refuse_nul_characters():
    """No text anyone types holds the NUL character, and PostgreSQL cannot store one: 400, before any view."""
    body = request.get_json(silent=True) if request.is_json else None
    if _has_nul(list(request.args.values())) or _has_nul(list(request.form.values())) or _has_nul(body):
        message = gettext("The request contains the NUL character, which no text may hold.")
        if request.path.startswith("/api/"):
            return jsonify(message=message), 400
        return message, 400
    return None


def _as_fab_reads_it(value):
    """`q` written so FAB reads what was sent, or None when it cannot be read at all.

    FAB reads `q` as Rison, else (FAB_API_ALLOW_JSON_QS) as JSON after URL-decoding it a second time, so a
    JSON query whose text holds "+", "&" or "%" (a phone "+359…", a name with "&") was misread or refused.
    The spec publishes `q` as JSON decoded once, as every HTTP client encodes it: such JSON is handed on
    encoded once more, behind a space no Rison reads, so that FAB's second decoding gives it back as sent.
    (Not as Rison: prison writes some control characters unquoted and cannot read them back.)
    A query only the second decoding reads goes on as before.
    """
    try:
        prison.loads(value)
        return value
    except prison.decoder.ParserException:
        pass
    except Exception:  # prison's own number and end-of-text slips (ValueError, IndexError): FAB lets them out as a 500
        return None
    try:
        json.loads(value)
        return " " + urllib.parse.quote(value, safe="")
    except ValueError:
        pass
    try:
        json.loads(urllib.parse.parse_qs(f"q={value}")["q"][0])
        return value
    except Exception:
        return None


def read_api_query_once():
    """An API's `q`, Rison or JSON decoded once, handed on so that FAB reads it as sent; 400 with a message
    when it cannot be read at all ("1e", "1e-", "!"), before any view (FAB lets some of those out as a 500)."""
    value = request.args.get("q") if request.path.startswith("/api/") else None
    if not value:
        return None
    readable = _as_fab_reads_it(value)
    if readable is None:
        return jsonify(message=gettext("The argument q can be read neither as Rison nor as JSON.")), 400
    if readable != value:
        arguments = request.args.copy()
        arguments["q"] = readable
        request.args = ImmutableMultiDict(arguments)
    return None


def _method_not_allowed(error):
    """The API answers an unlisted method in JSON, like its other refusals, naming the methods it takes."""
    if not request.path.startswith("/api/"):
        return error
    response = jsonify(message=gettext("This address does not take the method %(method)s.", method=request.method))
    response.status_code = 405
    response.headers["Allow"] = ", ".join(error.valid_methods or ())
    return response


def init_app(app):
    app.register_error_handler(OverflowError, _no_such_record)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    app.before_request(refuse_nul_characters)
    app.before_request(read_api_query_once)
