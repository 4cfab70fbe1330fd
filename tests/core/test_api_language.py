"""The API answers in Bulgarian, or in English when the client asks; the libraries' own messages included."""
import inspect

import marshmallow_sqlalchemy.fields
from marshmallow import Schema, fields, validate

from app.core.api_language import VALIDATION_MESSAGES


def test_a_refused_body_is_explained_in_bulgarian_by_default_and_in_english_when_asked(api):
    body = {"name": "", "unknown": 1, "vat_registered": "може би"}
    bulgarian = api.post("/api/v1/dealers/", json=body)
    english = api.post("/api/v1/dealers/", json=body, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert bulgarian.status_code == english.status_code == 422
    assert bulgarian.json["message"]["unknown"] == ["Непознато поле."]
    assert bulgarian.json["message"]["vat_registered"] == ["Очаква се да или не (true/false)."]
    assert english.json["message"]["unknown"] == ["Unknown field."]
    assert english.json["message"]["vat_registered"] == ["Not a valid boolean."]


def test_a_too_long_value_names_its_limit_in_the_language_asked(api):
    name = "Д" * 500
    bulgarian = api.post("/api/v1/dealers/", json={"name": name})
    english = api.post("/api/v1/dealers/", json={"name": name}, headers={"Accept-Language": "en"})
    assert bulgarian.status_code == english.status_code == 422
    assert bulgarian.json["message"]["name"][0].startswith("Най-много ")
    assert english.json["message"]["name"][0].startswith("Longer than maximum length ")


def test_our_own_refusals_and_unknown_addresses_follow_the_language_too(api):
    assert api.post("/api/v1/dealers/", json={"name": "Дилър Изток"}).status_code == 201
    taken = api.post("/api/v1/dealers/", json={"name": "Дилър Изток"}, headers={"Accept-Language": "en"})
    assert taken.json["message"] == {"name": ["Already exists."]}
    assert api.post("/api/v1/dealers/", json={"name": "Дилър Изток"}).json["message"] == {"name": ["Вече съществува."]}
    missing = api.get("/api/v1/dealers/999999")
    assert missing.status_code == 404 and missing.json["message"] == "Няма такъв запис."
    assert api.get("/api/v1/dealers/999999", headers={"Accept-Language": "en"}).json["message"] == "Not found"
    nowhere = api.get("/api/v1/no-such-resource/")
    assert nowhere.status_code == 404 and nowhere.is_json and nowhere.json["message"] == "Няма такъв адрес или запис."


def test_a_language_the_app_does_not_have_gets_bulgarian(api):
    response = api.post("/api/v1/dealers/", json={"unknown": 1}, headers={"Accept-Language": "de-DE,fr;q=0.8"})
    assert response.json["message"]["unknown"] == ["Непознато поле."]


def test_the_api_login_explains_a_missing_field_in_bulgarian(app):
    response = app.test_client().post("/api/v1/security/login", json={"provider": "db"})
    assert response.status_code == 400
    assert response.json["message"]["username"] == ["Задължително поле."]


def _marshmallow_messages():
    messages = set(Schema._default_error_messages.values())
    for module in (fields, marshmallow_sqlalchemy.fields):
        for field_class in vars(module).values():
            if inspect.isclass(field_class) and issubclass(field_class, fields.Field):
                messages.update(getattr(field_class, "default_error_messages", {}).values())
    for validator in (validate.Length, validate.OneOf, validate.Regexp, validate.Email, validate.URL):
        for name in ("message_min", "message_max", "message_all", "message_equal", "default_message"):
            if isinstance(getattr(validator, name, None), str):
                messages.add(getattr(validator, name))
    return messages


def test_every_marshmallow_message_a_client_can_meet_has_a_translation_listed():
    # Filled in by marshmallow from the field's kind ("Not a valid datetime."), listed in their filled-in forms,
    # or quoting the value sent back (only reached by a nested object, which the API refuses before marshmallow).
    filled_in = {"Not a valid {obj_type}.", "Not a valid {awareness} {obj_type}.",
                 '"{input}" cannot be formatted as a {obj_type}.', '"{input}" cannot be formatted as a date.',
                 "{input!r} cannot be formatted as a timedelta.",
                 "Could not deserialize related value {value!r}; expected a dictionary with keys {keys!r}"}
    assert {"Not a valid datetime.", "Not a valid date.", "Not a valid time."} <= set(VALIDATION_MESSAGES)
    assert _marshmallow_messages() - filled_in <= set(VALIDATION_MESSAGES)
