"""What schemathesis found the API answering off its spec or with a server error (issue 25), one rule each."""
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
