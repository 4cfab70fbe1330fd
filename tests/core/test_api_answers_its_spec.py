"""What schemathesis found the API answering off its spec or with a server error (issue 25), one rule each."""
import json

from app.dealers.models import Dealer
from tests.core.test_api_adapters import count, model_apis


def test_an_id_no_record_has_is_404_to_every_method_and_info_takes_only_get(app, api):
    """A negative id was 405 to GET (PUT and DELETE took any text); _info took PUT and DELETE (400)."""
    for resource, _view in model_apis(app):
        for method in ("get", "put", "delete"):
            response = getattr(api, method)(f"/api/v1/{resource}/-1", json={})
            assert response.status_code == 404 and response.is_json, (resource, method, response.status_code)
        for method in ("put", "delete"):
            response = getattr(api, method)(f"/api/v1/{resource}/_info", json={})
            assert response.status_code == 405, (resource, method, response.status_code)
            assert {m.strip() for m in response.headers["Allow"].split(",")} <= {"GET", "HEAD", "OPTIONS"}


def test_a_refused_token_says_why_under_message_as_every_refusal_does(app):
    anonymous = app.test_client()
    for response in (anonymous.get("/api/v1/clients/"), anonymous.post("/api/v1/security/refresh"),
                     anonymous.get("/api/v1/clients/", headers={"Authorization": "Token x"})):
        assert response.status_code == 401
        assert set(response.json) == {"message"}, response.json  # Flask-JWT-Extended's own key was "msg"
    assert anonymous.get("/api/v1/clients/").json["message"] == "Липсва заглавката Authorization с ключ за достъп."


def test_a_list_query_that_cannot_be_read_is_400_with_a_message_on_every_list(app, api):
    for resource, _view in model_apis(app):
        for q in ("1e", "1e-", "!", "(page:1e)", "--1"):
            response = api.get(f"/api/v1/{resource}/", query_string={"q": q})
            assert response.status_code == 400, (resource, q, response.status_code)
            assert response.json["message"] == "Аргументът q не може да се прочете нито като Rison, нито като JSON."
    assert api.get("/api/v1/clients/", query_string={"q": "(page:0)"}).status_code == 200
    assert api.get("/api/v1/clients/", query_string={"q": '{"page": 0}'}).status_code == 200  # JSON too


def test_a_number_or_boolean_for_text_is_refused_by_type_before_any_query(app, api):
    """On PostgreSQL `name = 5` was an SQL error (a 500) in the check for a name already taken."""
    assert api.post("/api/v1/dealers/", json={"name": "Дилър Люлин"}).status_code == 201
    dealer = api.post("/api/v1/dealers/", json={"name": "Дилър Надежда"}).json["id"]
    for resource, body in (("dealers", {"name": 5, "email": True}), ("services", {"name": 7}),
                           ("operators", {"username": 5, "email": False}), ("networks", {"name": 1}),
                           ("subscriptions", {"username": 3})):
        response = api.post(f"/api/v1/{resource}/", json=body)
        assert response.status_code == 422, (resource, response.text)
        for name in body:
            assert response.json["message"][name] == ["Очаква се текст."], (resource, response.json)
    response = api.put(f"/api/v1/dealers/{dealer}", json={"name": 12})
    assert response.status_code == 422 and response.json["message"] == {"name": ["Очаква се текст."]}
    # A boolean is true or false, a whole number is one: not 0, "yes", "5" or 5.0.
    for value in (0, 1, "true", "yes"):
        response = api.post("/api/v1/dealers/", json={"name": "Дилър Младост", "vat_registered": value})
        assert response.json["message"] == {"vat_registered": ["Очаква се да или не (true/false)."]}, value
    assert count(app, Dealer) == 2


def test_a_required_name_is_not_empty_or_blank_and_the_spec_says_so(app, api):
    for name, message in (("", "Поне 1 знака."), ("   ", "Не може да е празно.")):
        response = api.post("/api/v1/dealers/", json={"name": name})
        assert response.status_code == 422 and response.json["message"] == {"name": [message]}, response.json
    assert count(app, Dealer) == 0
    spec = api.get("/api/v1/_openapi").json
    name = spec["components"]["schemas"]["DealerApi.post"]["properties"]["name"]
    assert name["minLength"] == 1 and name["pattern"] == r"\S"
    assert "name" in spec["components"]["schemas"]["DealerApi.post"]["required"]


def test_a_list_query_is_what_the_spec_publishes_for_that_list_and_nothing_else(app, api):
    """FAB published one q for all lists (any column, any operator, any value): a 400 for what it allowed,
    and a boolean compared with a text column was a 500."""
    spec = api.get("/api/v1/_openapi").json
    q = spec["paths"]["/api/v1/dealers/"]["get"]["parameters"][0]["content"]["application/json"]["schema"]
    by_column = {item["properties"]["col"]["enum"][0]: item["properties"]
                 for item in q["properties"]["filters"]["items"]["anyOf"] if "in" not in item["properties"]["opr"]["enum"]}
    assert set(by_column) == {"name", "company_name", "eik", "email", "phone"}  # DealerApi.search_columns
    assert by_column["name"]["value"] == {"type": "string"} and "ct" in by_column["name"]["opr"]["enum"]
    assert q["properties"]["order_column"]["enum"] == ["name", "eik"]
    for query in ("(filters:!((col:name,opr:ct,value:!t)))", "(filters:!((col:iban,opr:eq,value:x)))",
                  "(filters:!((col:name,opr:gt,value:x)))", "(order_column:iban)", "(page_size:0)"):
        response = api.get("/api/v1/dealers/", query_string={"q": query})
        assert response.status_code == 400, (query, response.text)
        assert response.json["message"].startswith("Заявката q не отговаря на този списък"), response.json
    query = "(filters:!((col:paid_at,opr:gt,value:'2026-13-01T00:00:00Z')))"
    assert api.get("/api/v1/payments/", query_string={"q": query}).status_code == 400
    query = "(filters:!((col:paid_at,opr:gt,value:'2026-12-01T00:00:00Z')),order_column:paid_at,page_size:5)"
    assert api.get("/api/v1/payments/", query_string={"q": query}).status_code == 200
    assert api.get("/api/v1/dealers/", query_string={"q": "(filters:!((col:name,opr:ct,value:Лю)))"}).status_code == 200
    # "in" and "not_in" take a list (one value was a 500), every other operator one value.
    assert api.get("/api/v1/contracts/", query_string={"q": "(filters:!((col:number,opr:not_in,value:0)))"}
                   ).status_code == 400
    assert api.get("/api/v1/contracts/", query_string={"q": "(filters:!((col:number,opr:not_in,value:!(0,1))))"}
                   ).status_code == 200


def test_the_login_offers_only_the_provider_it_takes(app, api):
    spec = api.get("/api/v1/_openapi").json
    body = spec["paths"]["/api/v1/security/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["provider"]["enum"] == ["db"]  # FAB offered "ldap" too, and refused it with 400
    assert body["required"] == ["username", "password"]  # {} was a valid body by the spec, and a 400
    # An empty username was valid by the spec, and a 400 in the login's words.
    assert body["properties"]["username"]["minLength"] == body["properties"]["password"]["minLength"] == 1
    assert api.post("/api/v1/security/login", json={"username": "", "password": "x"}).status_code == 400


def test_a_json_list_query_is_read_as_sent_so_plus_ampersand_and_percent_stay_what_they_are(app, api):
    """FAB URL-decoded a JSON q a second time: "+359" searched " 359", and a name with "&" was a 400."""
    for name in ("Нет & Ко", "+359 Телеком", "100% Кабел"):
        assert api.post("/api/v1/dealers/", json={"name": name}).status_code == 201
    for text, expected in (("& Ко", ["Нет & Ко"]), ("+359", ["+359 Телеком"]), ("100%", ["100% Кабел"])):
        query = json.dumps({"filters": [{"col": "name", "opr": "ct", "value": text}]})
        response = api.get("/api/v1/dealers/", query_string={"q": query})
        assert response.status_code == 200, response.json
        assert [row["name"] for row in response.json["result"]] == expected
