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
