"""The OpenAPI spec the app publishes at /api/v1/_openapi, true to what the API answers.

Flask-AppBuilder writes each operation's spec from its docstrings, which
are generic and in places wrong for any application: ids typed as strings,
the `_info` column lists typed as objects, error bodies whose `message` is
only ever a string, and status codes that its own decorators answer but no
operation lists (403 without the permission, 400 for a request no view
reads). `PublishedOpenApi` serves FAB's spec with those corrected, so an
outside client (schemathesis in tests/core/test_api_fuzz.py) can hold the
API to it. Nullable related records are corrected at their source instead
(`NullableRelationsConverter`, used by every BillingModelApi).
"""
import copy
import re
from datetime import timezone

from flask import current_app
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.api.manager import OpenApi, SwaggerView
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from app.core.validators import InvalidValue, parse_day

# What every refusal carries: one sentence, or messages per field (a 422
# of a form: {"name": ["Вече съществува."]}; a list field's item errors are
# keyed by position).
ERROR_BODY = {
    "type": "object",
    "properties": {
        "message": {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": {
                    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]}},
            ],
        },
    },
    "required": ["message"],
}
ERROR_RESPONSES = {
    "400": "The request cannot be read: not JSON, a malformed argument, a NUL character",
    "401": "No valid access token, or a wrong login",
    "403": "The operator lacks the permission",
    "404": "No such record (or one of another dealer)",
    "405": "The address does not take this method",
    "409": "Refused by the record's present state (a terminated subscription is not activated again)",
    "422": "Refused: the messages say why, per field",
    "429": "Too many failed logins from this address or for this username; try later",
    "500": "Unexpected error",
}
# Every operation may meet these: the token check, the permission check, a
# request no view can read, and a bug. 404 is added where the path names a record.
ALWAYS = ("400", "401", "403", "422", "500")
LOGIN_PATHS = ("/security/login", "/security/refresh")
INFO_COLUMNS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": "string"},
            "required": {"type": "boolean"},
            "unique": {"type": "boolean"},
            "count": {"type": "integer"},
            "values": {"type": "array"},
        },
    },
}


def _describe_list_query(spec, path, schema):
    """A list's `q` as its API reads it (BillingModelApi.list_query_schema), in place of FAB's generic one."""
    for parameter in spec.get("paths", {}).get(path, {}).get("get", {}).get("parameters", []):
        if parameter.get("name") == "q" and parameter.get("in") == "query":
            parameter["content"] = {"application/json": {"schema": schema}}


def corrected(spec, login_providers=("db",)):
    """FAB's generated spec (a dict) with its generic mistakes corrected; the argument is not changed.

    `login_providers`: what the login takes as its provider (FAB offers "db" and "ldap" whatever the app uses).
    """
    spec = copy.deepcopy(spec)
    responses = spec.setdefault("components", {}).setdefault("responses", {})
    for status, description in ERROR_RESPONSES.items():
        responses[status] = {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            listed = operation.setdefault("responses", {})
            needed = list(ALWAYS)
            if "{" in path:
                # A malformed id can fall on another method's route of the same address.
                needed += ["404", "405"]
            if path.endswith(LOGIN_PATHS):
                needed.append("429")
            for status in needed:
                listed.setdefault(status, {"$ref": f"#/components/responses/{status}"})
            _correct_bodies(path, method, listed)
            if path.endswith("/security/login") and method == "post":
                body = _json_schema(operation.get("requestBody")) or {}
                if "provider" in body.get("properties", {}):
                    body["properties"]["provider"]["enum"] = [name for name in login_providers if name]
                body["required"] = ["username", "password"]  # FAB's LoginPost requires them (400 without)
                for name in ("username", "password"):  # and not empty: "" is refused 400 in the login's words
                    body.get("properties", {}).get(name, {})["minLength"] = 1
    return spec


def _correct_bodies(path, method, listed):
    # Records have integer ids; FAB's docstrings type `ids` (a list) and `id` (a creation) as strings.
    for status in ("200", "201"):
        schema = _json_schema(listed.get(status))
        properties = (schema or {}).get("properties", {})
        if "ids" in properties and properties["ids"].get("items", {}).get("type") == "string":
            properties["ids"]["items"]["type"] = "integer"
        if properties.get("id", {}).get("type") == "string":
            properties["id"]["type"] = "integer"
        if path.endswith("/_info"):
            # Lists of column descriptions, not objects.
            for name in ("add_columns", "edit_columns"):
                if name in properties:
                    properties[name] = copy.deepcopy(INFO_COLUMNS)


def _json_schema(response):
    if not isinstance(response, dict):
        return None
    return response.get("content", {}).get("application/json", {}).get("schema")


class PublishedOpenApi(OpenApi):
    """FAB's OpenApi view serving the corrected spec, under FAB's permission ("can get on OpenApi")."""

    class_permission_name = "OpenApi"

    @expose("/<version>/_openapi")
    @protect()
    @safe
    def get(self, version):
        """The OpenAPI spec of one API version (corrected, see app.core.openapi)
        ---
        get:
          description: >-
            Get the OpenAPI spec for a specific API version
          parameters:
          - in: path
            schema:
              type: string
            name: version
          responses:
            200:
              description: The OpenAPI spec
              content:
                application/json:
                  schema:
                    type: object
            404:
              $ref: '#/components/responses/404'
            500:
              $ref: '#/components/responses/500'
        """
        api_spec = self._create_api_spec(version)
        apis = [view for view in current_app.appbuilder.baseviews
                if isinstance(view, BaseApi) and view.version == version]
        if not apis:
            return self.response_404()
        for api in apis:
            api.add_api_spec(api_spec)
        spec = corrected(api_spec.to_dict(), login_providers=[current_app.appbuilder.sm.auth_type_provider_name])
        for api in apis:
            if hasattr(api, "list_query_schema"):
                _describe_list_query(spec, f"{api.route_base}/", api.list_query_schema())
        return self.response(200, **spec)


def register(appbuilder):
    """In place of FAB's own OpenApi view (FAB_ADD_OPENAPI_VIEWS is off in config.py)."""
    if current_app.config.get("FAB_API_SWAGGER_UI"):
        appbuilder.add_api(PublishedOpenApi)
        appbuilder.add_view_no_menu(SwaggerView)


class UtcDateTime(fields.DateTime):
    """A stored UTC time, answered with its zone ("2026-12-01T09:05:00+00:00"); a time sent with a zone is stored in UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value


# A field so named is a secret (a password, a RADIUS shared secret, the key of a
# one-time-code app, a token): the API takes it and never answers it, hashed or not.
SECRET_FIELD = re.compile(r"password|secret|totp|token", re.I)


def write_only_secrets(schema):
    """The schema, with every secret-named field (its nested records' too) taken on input and never answered."""
    for name, field in schema.fields.items():
        if SECRET_FIELD.search(name):
            field.load_only = True
            schema.dump_fields.pop(name, None)
        elif isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            write_only_secrets(field.schema)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            write_only_secrets(field.inner.schema)
    return schema


class NotBlank(validate.Validator):
    """Text holding more than spaces; published as the pattern `\\S` (JSON Schema's patterns search, like this)."""

    regex = re.compile(r"\S")  # apispec publishes a validator's `regex` as the field's pattern

    def __call__(self, value):
        if isinstance(value, str) and value and not self.regex.search(value):
            raise ValidationError(str(_l("Must not be blank.")))
        return value


class JsonBoolean(fields.Boolean):
    """true or false, as the spec says; marshmallow would also take 0, 1, "yes", "off"…"""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class JsonInteger(fields.Integer):
    """A JSON whole number, as the spec says; marshmallow would also take "5", 5.0 and true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class TypedDay(fields.Date):
    """A day as the spec says (yyyy-mm-dd), read by the one parser of days (app.core.validators.parse_day),
    which also takes the office's dd.mm.yyyy and says what is wrong in Bulgarian; empty is no day."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        try:
            return parse_day(value, None)
        except InvalidValue as error:
            raise ValidationError(str(error.message)) from None


def _required_text(datamodel, name, field):
    """A text column that must hold something: not nullable and without a default."""
    column = datamodel.list_columns.get(name)
    return (isinstance(field, fields.String) and not field.dump_only and column is not None
            and hasattr(column, "nullable") and not column.nullable
            and column.default is None and column.server_default is None)


class NullableRelationsConverter(Model2SchemaConverter):
    """FAB's schema converter, with nullable relations and exact amounts documented as they are answered,
    required text refused when empty or blank, and booleans and integers only as JSON has them.

    - FAB nests a many-to-one relation (a payment's dealer) as an object that
      is never null, while a head-office client's dealer is exactly that.
    - Amounts are decimals: answered as text ("12.90"), which keeps every
      cent (a JSON number may not); they are taken as text or as numbers.
    - Secrets are write-only (`write_only_secrets`): FAB answers a POST or
      PUT with the body's schema, which held the operator's password hash.
    """

    def convert(self, columns, model=None, nested=True, parent_schema_name=None):
        return write_only_secrets(super().convert(columns, model=model, nested=nested,
                                                  parent_schema_name=parent_schema_name))

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        field = super()._column2field(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        if isinstance(field, fields.DateTime) and not isinstance(field, UtcDateTime):
            # Times are stored in UTC without a zone; answered with it (RFC 3339 wants one).
            field.__class__ = UtcDateTime
        if _required_text(datamodel, column.name, field):
            # "" and "   " are no name: refused, and the spec says so (minLength 1, a pattern), as the panel's
            # forms refuse them (DataRequired).
            field.validators = [validate.Length(min=1), NotBlank(), *field.validators]
        if type(field) is fields.Boolean:
            field.__class__ = JsonBoolean
        elif type(field) is fields.Integer:
            field.__class__ = JsonInteger
        if isinstance(field, fields.Decimal):
            field.as_string = True
            field.metadata = {**field.metadata, "type": "string", "format": "decimal", "example": "12.90"}
        return field

    def _column2relation(self, datamodel, column, nested=False, parent_schema_name=None):
        field = super()._column2relation(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        if nested and not field.many and datamodel.is_nullable(column.name):
            field.allow_none = True
        return field


class TypedDaysConverter(NullableRelationsConverter):
    """NullableRelationsConverter whose days are TypedDay (an API that takes a day a person chooses)."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        field = super()._column2field(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        if type(field) is fields.Date:
            field.__class__ = TypedDay
        return field



class IdOrCode(fields.Field):
    """An entry of an office-edited list (a payment method, a payment type) named by its id — a whole number —
    or by its code — text, as the built-in entries have ("cash", "monthly"). Loaded as sent; the module
    looks it up and says when it names nothing."""

    default_error_messages = {"invalid": "Invalid value."}

    def __init__(self, max_code_length, **kwargs):
        self.max_code_length = max_code_length
        any_of = [{"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                  {"type": "string", "minLength": 1, "maxLength": max_code_length}]
        super().__init__(**{**kwargs, "metadata": {**kwargs.get("metadata", {}), "anyOf": any_of}})

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**63 - 1:
            return value
        if isinstance(value, str) and 1 <= len(value) <= self.max_code_length:
            return value
        raise self.make_error("invalid")


class AmountValue(fields.Field):
    """An amount as text ("12.90", "12,90") or as a JSON number; loaded as sent, judged by the module's money
    rules (app.core.money.check_amount), which say what is wrong with it in the office's words."""

    default_error_messages = {"invalid": "Invalid value."}

    def __init__(self, **kwargs):
        any_of = [{"type": "string", "format": "decimal", "example": "12.90"}, {"type": "number"}]
        super().__init__(**{**kwargs, "metadata": {**kwargs.get("metadata", {}), "anyOf": any_of}})

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return value
        raise self.make_error("invalid")
