"""The payments API as an outside client meets it: it takes the fields its published spec names (issue 26, 6)."""
from datetime import date
from decimal import Decimal

import schemathesis

from app.billing.models import Payment, PaymentMethod, PaymentType
from app.clients.models import Subscription
from app.extensions import db
from app.security import permissions as p
from tests.billing.test_views import PASSWORD, client_with_subscription, operator_browser
from tests.conftest import api_token, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_service, make_subscription


def spec_of_recording(api):
    spec = api.get("/api/v1/_openapi").json
    body = spec["paths"]["/api/v1/payments/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]


def on_spec(api, response, path="/api/v1/payments/", method="POST"):
    """The answer as the published spec describes it (schemathesis's own check of status, headers and body)."""
    spec = schemathesis.openapi.from_dict(api.get("/api/v1/_openapi").json)
    spec[path][method].validate_response(response)
    return response


def entry_id(app, model, code):
    with app.app_context():
        return db.session.scalar(db.select(model.id).where(model.code == code))


def state(app, subscription_id):
    with app.app_context():
        return db.session.query(Payment).count(), db.session.get(Subscription, subscription_id).paid_until


def test_the_spec_names_the_client_by_id_and_the_method_and_type_by_id_or_code(app, api):
    schema = spec_of_recording(api)
    assert schema["required"] == ["client"] and schema["properties"]["client"]["type"] == "integer"
    for name in ("method", "payment_type"):
        assert [choice["type"] for choice in schema["properties"][name]["anyOf"]] == ["integer", "string"]
        assert "id or its code" in schema["properties"][name]["description"]
    assert {"periods", "charge_ids", "amount", "currency", "note", "request_id"} <= set(schema["properties"])
    assert "client_id" not in schema["properties"] and schema["additionalProperties"] is False
    info = api.get("/api/v1/payments/_info").json["add_columns"]
    methods = next(column for column in info if column["name"] == "method")
    assert {"id": entry_id(app, PaymentMethod, "bank"), "code": "bank", "value": "Банков превод"} in methods["values"]
    assert methods["label"] == "Начин на плащане" and "по id или по код" in methods["description"]


def test_a_payment_by_client_id_and_method_id_pays_what_it_names_and_shows_on_the_card(app, api, admin):
    client_id, subscription_id = client_with_subscription(app, paid_until=date(2026, 12, 31))
    bank = entry_id(app, PaymentMethod, "bank")
    response = api.post("/api/v1/payments/", json={"client": client_id, "method": bank,
                                                   "periods": {str(subscription_id): 2}, "note": "по извлечение"})
    assert on_spec(api, response).status_code == 201, response.text
    assert response.json["result"]["method"]["name"] == "Банков превод"
    assert response.json["result"]["payment_type"]["name"] == "Месечна такса"
    assert response.json["result"]["amount"] == "30.00" and response.json["warnings"] == []
    assert state(app, subscription_id) == (1, date(2027, 2, 28))
    card = visible_text(admin.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Банков превод" in card and "по извлечение" in card and "28.02.2027" in card


def test_a_payment_by_method_and_type_codes_and_an_amount_as_a_number(app, api):
    client_id, subscription_id = client_with_subscription(app, paid_until=date(2026, 12, 31))
    response = api.post("/api/v1/payments/", json={"client": client_id, "method": "epay", "payment_type": "deposit",
                                                   "amount": 40, "currency": "EUR"})
    assert response.status_code == 201, response.text
    result = response.json["result"]
    assert (result["method"]["name"], result["payment_type"]["name"]) == ("ePay", "Депозит / аванс")
    assert result["amount"] == "40.00"
    # 40 EUR: two months of 15.00, the rest an advance
    assert state(app, subscription_id) == (1, date(2027, 2, 28))
    by_type_id = api.post("/api/v1/payments/", json={"client": client_id, "amount": "5,00",
                                                     "payment_type": entry_id(app, PaymentType, "other")})
    assert by_type_id.status_code == 201 and by_type_id.json["result"]["payment_type"]["name"] == "Друго"
    assert by_type_id.json["result"]["method"]["name"] == "В брой"  # cash when left out, as at the desk


def test_what_names_nothing_is_refused_with_a_clear_422_and_nothing_is_written(app, api):
    client_id, subscription_id = client_with_subscription(app, paid_until=date(2026, 12, 31))
    before = state(app, subscription_id)
    with app.app_context():
        retired = PaymentMethod(name="Пощенски запис", active=False)
        db.session.add(retired)
        db.session.commit()
        retired_id = retired.id
    refusals = [
        ({"client": 999999, "amount": "5"}, {"client": ["Непознат клиент."]}),
        ({"client": client_id, "amount": "5", "method": 999999}, {"method": ["Непознат начин на плащане 999999."]}),
        ({"client": client_id, "amount": "5", "method": "crypto"}, {"method": ["Непознат начин на плащане crypto."]}),
        ({"client": client_id, "amount": "5", "payment_type": "gift"}, {"payment_type": ["Непознат тип на плащане gift."]}),
        ({"client": 999999, "amount": "5", "method": "crypto"},
         {"client": ["Непознат клиент."], "method": ["Непознат начин на плащане crypto."]}),
        ({"client": client_id, "amount": "5", "method": retired_id}, {"method": ["Изберете активен начин на плащане."]}),
        ({"client": client_id, "amount": "-5"}, {"amount": ["Сумата не може да е отрицателна."]}),
        ({"client": client_id, "amount": -5}, {"amount": ["Сумата не може да е отрицателна."]}),
        ({"client": client_id, "periods": {"99999999999999999999999": 1}},
         {"periods": ["Избрана услуга не е на този клиент."]}),
        ({"client": "1", "amount": "5"}, {"client": ["Очаква се цяло число."]}),
        ({"client_id": client_id, "amount": "5"},
         {"client": ["Задължително поле."], "client_id": ["Непознато поле."]}),
        ({"client": client_id, "amount": "5", "method": True}, {"method": ["Невалидна стойност."]}),
    ]
    for body, messages in refusals:
        response = on_spec(api, api.post("/api/v1/payments/", json=body))
        assert (response.status_code, response.json["message"]) == (422, messages), body
    assert state(app, subscription_id) == before


def test_a_dealers_operator_pays_only_for_its_own_clients(app):
    with app.app_context():
        alpha, beta = make_dealer("Алфа"), make_dealer("Бета")
        make_operator(alpha, "kasa-alfa", p.DEALER_ADMINISTRATOR, username="alfa1")
        service = make_service("Интернет 10", monthly_fee="10.00")
        own = make_client(alpha, "Свой Клиент")
        foreign = make_client(beta, "Чужд Клиент")
        own_sub = make_subscription(own, service, activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        foreign_sub = make_subscription(foreign, service, activation_date=date(2026, 1, 1),
                                        paid_until=date(2026, 12, 31))
        own_id, foreign_id, own_sub_id, foreign_sub_id = own.id, foreign.id, own_sub.id, foreign_sub.id
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "alfa1", PASSWORD)
    refused = api.post("/api/v1/payments/", json={"client": foreign_id, "method": "cash",
                                                  "periods": {str(foreign_sub_id): 1}})
    # Another dealer's client is as unknown as one that does not exist: the answer does not tell it exists.
    assert (refused.status_code, refused.json["message"]) == (422, {"client": ["Непознат клиент."]})
    assert state(app, foreign_sub_id) == (0, date(2026, 12, 31))
    paid = api.post("/api/v1/payments/", json={"client": own_id, "method": "cash", "periods": {str(own_sub_id): 1}})
    assert paid.status_code == 201, paid.text
    assert state(app, own_sub_id) == (1, date(2027, 1, 31))


def test_an_operator_without_the_right_to_record_is_refused_and_a_repeated_request_records_once(app, api):
    client_id, subscription_id = client_with_subscription(app)
    operator_browser(app, p.MANAGER, "mgr7")
    manager = app.test_client()
    manager.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(manager, "mgr7", PASSWORD)
    assert manager.post("/api/v1/payments/", json={"client": client_id, "amount": "5.00"}).status_code == 403
    body = {"client": client_id, "amount": "15.00", "method": "bank", "request_id": "bank-line-17"}
    first, again = api.post("/api/v1/payments/", json=body), api.post("/api/v1/payments/", json=body)
    assert (first.status_code, again.status_code) == (201, 200) and first.json["id"] == again.json["id"]
    on_spec(api, first) and on_spec(api, again)
    assert again.json["result"] == first.json["result"]
    with app.app_context():
        assert db.session.query(Payment).one().amount == Decimal("15.00")
