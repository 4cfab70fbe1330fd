"""What the REST API's own operations (beyond FAB's generated add, edit and delete) share.

An operation such as "reverse a payment" or "close a task" reads a JSON
object, finds its record (404 when the operator cannot see it), calls the
module's operation and turns its refusal into a 422 with nothing kept.
`@api_operation` and `BillingModelApi.json_body`/`found`/`loaded` say each
of those once: a helper raises `Answer` with the early response, the
decorator returns it. The spec's common parts (the record's id in the path,
a body with a reason, an answer with the record) are built here too, so an
operation's docstring states only what is its own.
"""
import functools

import yaml

from app.core.errors import FieldErrors

# The record as the API's GET shows it; FAB puts the API's class name in.
RECORD_SCHEMA = {"$ref": "#/components/schemas/{{self.__class__.__name__}}.get"}
RECORD_ID = {"in": "path", "schema": {"type": "integer"}, "name": "pk"}


class Answer(Exception):
    """An API operation's early answer (400, 404, 422), raised by a helper and returned by @api_operation."""

    def __init__(self, response):
        super().__init__(response)
        self.response = response


def api_operation(method):
    """Runs an API operation: an Answer raised inside it is its response; a FieldErrors refusal is undone
    (discard) and answered 422 with its messages (BillingModelApi._refused). Put it nearest the function:
    FAB's decorators and the docstring (the spec) stay the operation's."""

    @functools.wraps(method)
    def answered(api, *args, **kwargs):
        try:
            return method(api, *args, **kwargs)
        except Answer as answer:
            return answer.response
        except FieldErrors as refusal:
            return api._refused(refusal)

    return answered


def body_text(body, name):
    """A text value of the body, None when it is missing or not text (the operation then refuses it as missing)."""
    value = body.get(name)
    return value if isinstance(value, str) else None


def json_request(schema):
    """The spec's requestBody: a required JSON body of `schema`."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def reason_request(max_length):
    """The spec's requestBody of an operation that only asks why (a reversal, a cancellation)."""
    return json_request({"type": "object", "required": ["reason"],
                         "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": max_length}}})


def json_answer(description, properties, required=None):
    """The spec's answer of an operation: a JSON object of `properties`."""
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def record_answer(description, **properties):
    """The spec's answer with the record's id and the record as GET shows it (`result`), and any more properties."""
    return json_answer(description, {"id": {"type": "integer"}, **properties, "result": RECORD_SCHEMA})


def documented(method="post", path=(), **operation):
    """Adds the operation's spec (`operation`, with `path` parameters first) to the function's docstring, where
    FAB reads it. The refusals every operation may answer (400, 401, 403, 404 on a record's path, 422) are added
    to the published spec by app.core.openapi.corrected."""
    if path:
        operation = {"parameters": list(path), **operation}

    def document(func):
        func.__doc__ = f"{func.__doc__.rstrip()}\n---\n{yaml.safe_dump({method: operation}, sort_keys=False)}"
        return func

    return document
