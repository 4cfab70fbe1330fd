"""The REST API as an adapter over the operations: a refusal is a 422 in the same words, and changes nothing."""
from sqlalchemy import func, select

from app.clients.models import Client
from app.dealers.models import Dealer
from app.extensions import db
from tests.conftest import api_token
from tests.factories import make_operator

PASSWORD = "operator-pass-123"


def cashier_api(app):
    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(client, "cashier", PASSWORD)
    return client


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_nested_object_creates_no_related_record(app):
    """A cashier may add clients but not dealers: a client body carrying a new dealer is refused whole."""
    api = cashier_api(app)
    assert api.post("/api/v1/dealers/", json={"name": "Нелегален"}).status_code == 403
    response = api.post("/api/v1/clients/", json={"name": "Иван Петров", "kind": "individual",
                                                  "dealer": {"name": "Нелегален"}})
    assert response.status_code == 422, response.text
    assert response.json["message"] == {"dealer": ["Посочете съществуващ запис с номера му (id)."]}
    assert count(app, Dealer) == 0 and count(app, Client) == 0


def test_the_api_refuses_in_the_panels_words_and_keeps_nothing(app, api):
    response = api.post("/api/v1/clients/", json={"name": "Фирма без ЕИК", "kind": "company"})
    assert response.status_code == 422
    assert response.json["message"] == {"company_name": ["Фирмата трябва да има наименование."],
                                        "eik": ["Фирмата трябва да има ЕИК/Булстат."]}
    assert count(app, Client) == 0
    created = api.post("/api/v1/clients/", json={"name": "Иван Петров", "kind": "individual"})
    assert created.status_code == 201, created.text
    with app.app_context():
        assert db.session.get(Client, created.json["id"]).client_number == "100001"


def model_apis(app):
    """Every REST resource over a model: (resource name, API view)."""
    from flask_appbuilder.api import ModelRestApi

    return [(view.resource_name, view) for view in app.appbuilder.baseviews if isinstance(view, ModelRestApi)]


def table_counts(app):
    from flask_appbuilder import Model

    with app.app_context():
        return {table.name: db.session.scalar(select(func.count()).select_from(table))
                for table in Model.metadata.sorted_tables}


def test_no_api_takes_a_related_record_other_than_by_id(app, api):
    """Walks every API and every relation it accepts: an object, text or an impossible id is refused, nothing made."""
    from sqlalchemy import inspect as model_inspect

    from app.core.views import BillingModelApi

    before = table_counts(app)
    walked = []
    for resource, view in model_apis(app):
        relations = model_inspect(view.datamodel.obj).relationships
        for column in view.add_columns or []:
            if column not in relations:
                continue
            many = relations[column].uselist
            for value in ({"name": "Нелегален", "id": 999}, "1", 2**70):
                body = {column: [value] if many else value}
                response = api.post(f"/api/v1/{resource}/", json=body)
                walked.append((resource, column))
                if response.status_code == 405:  # the resource takes no POST
                    continue
                assert response.status_code == 422, (resource, column, value, response.text)
                if type(view).post_headless is BillingModelApi.post_headless:  # a body of the model's fields
                    assert response.json["message"].get(column) == ["Посочете съществуващ запис с номера му (id)."], \
                        (resource, column, response.text)
    assert {"clients", "subscriptions", "contracts", "networks", "operators", "services"} <= {r for r, _c in walked}
    assert table_counts(app) == before


def test_ids_no_record_can_have_are_not_found_everywhere(app, api, admin):
    for resource, _view in model_apis(app):
        assert api.get(f"/api/v1/{resource}/{2**70}").status_code == 404, resource
    big = 2**70
    for url in (f"/clients/show/{big}", f"/payments/record/{big}", f"/cashdesk/?collector={big}"):
        assert admin.get(url).status_code == 404, url
    # Pages filtered by such a client show nothing of it, as for any unknown client; never an error.
    for url in (f"/payments/list/?client={big}", f"/subscriptions/add?client={big}"):
        assert admin.get(url).status_code in (200, 404), url
    assert api.post(f"/api/v1/payments/{big}/reverse", json={"reason": "няма"}).status_code == 404


def test_a_malformed_token_is_no_login_and_a_login_needs_no_provider(app):
    caller = app.test_client()
    caller.environ_base["HTTP_AUTHORIZATION"] = "Bearer not.a.token"
    response = caller.get("/api/v1/clients/")
    assert response.status_code == 401 and response.json["message"] == "Невалиден ключ за достъп: влезте отново."
    anonymous = app.test_client()
    assert anonymous.post("/api/v1/security/login", json={"username": "admin", "password": "wrong"}).status_code == 401
    assert anonymous.post("/api/v1/security/login",
                          json={"username": "admin", "password": "admin-test-pass-1"}).status_code == 200


def test_info_describes_only_fields_that_have_a_help_text(app, api):
    info = api.get("/api/v1/clients/_info").json
    descriptions = {field["name"]: field.get("description") for field in info["add_columns"]}
    assert descriptions["phone"] == "Няколко номера, разделени със запетая."  # the panel's help text
    assert "name" in descriptions and descriptions["name"] is None  # absent, not the catalog's header
    assert "Project-Id-Version" not in api.get("/api/v1/payments/_info").text


def test_info_lists_to_a_dealers_operator_only_what_that_operator_may_see(app):
    """Every API's _info: related choices of dealer-owned models are the dealer's; no history rows at all."""
    from sqlalchemy import inspect as model_inspect

    from app.core.scoping import in_scope, is_scoped_model
    from app.security.models import Operator

    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    caller = app.test_client()
    caller.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(caller, "l.dimitrov", "demo12345")
    answers = {resource: caller.get(f"/api/v1/{resource}/_info") for resource, _view in model_apis(app)}
    checked = 0
    with app.app_context():
        dealer_operator = db.session.scalars(select(Operator).where(Operator.username == "l.dimitrov")).one()
        for resource, view in model_apis(app):
            info = answers[resource]
            if info.status_code == 403:
                continue
            relations = model_inspect(view.datamodel.obj).relationships
            for field in info.json.get("add_columns", []) + info.json.get("edit_columns", []):
                if "values" not in field:
                    continue
                relation = relations[field["name"]]
                assert relation.mapper.class_.__name__.endswith("Version") is False, (resource, field["name"])
                target = relation.mapper.class_
                if is_scoped_model(target):
                    for value in field["values"]:
                        record = db.session.get(target, value["id"])
                        assert in_scope(record, dealer_operator), (resource, field["name"], value)
                        checked += 1
    assert checked >= 5  # the dealer's own dealer, operators, clients… were listed and checked


def test_a_duplicate_name_is_refused_under_its_field_in_bulgarian_without_sql(app, api):
    assert api.post("/api/v1/dealers/", json={"name": "Дилър Люлин"}).status_code == 201
    second = api.post("/api/v1/dealers/", json={"name": "Дилър Надежда"})
    for response in (api.post("/api/v1/dealers/", json={"name": "Дилър Люлин"}),
                     api.put(f"/api/v1/dealers/{second.json['id']}", json={"name": "Дилър Люлин"})):
        assert response.status_code == 422
        assert response.json["message"] == {"name": ["Вече съществува."]}
        assert "SQL" not in response.text and "Unique" not in response.text
    assert count(app, Dealer) == 2


def test_a_page_no_list_has_is_refused_not_a_server_error(app, api):
    for resource, _view in model_apis(app):
        response = api.get(f"/api/v1/{resource}/?q=(page:-891374601427256082432000)")
        assert response.status_code == 400, (resource, response.text)
    assert api.get("/api/v1/clients/?q=(page:0,page_size:10)").status_code == 200


def test_text_with_the_nul_character_is_refused_before_it_reaches_the_database(app, api, admin):
    response = api.post("/api/v1/dealers/", json={"name": "Дилър\x00"})
    assert response.status_code == 400 and "NUL" in response.json["message"]
    assert admin.get("/clients/list/?q=Иван%00").status_code == 400
    assert count(app, Dealer) == 0


def test_an_unlisted_method_is_405_in_json_with_the_methods_allowed(app, api):
    for method, url in (("put", "/api/v1/payments/1"), ("delete", "/api/v1/payments/1"),
                        ("patch", "/api/v1/clients/1")):
        response = getattr(api, method)(url, json={})
        assert response.status_code == 405 and response.is_json, (method, url)
        assert response.json["message"] == f"Този адрес не приема метода {method.upper()}."
        assert "GET" in response.headers["Allow"]
