"""A subscription's status changed through the API as on the card: the same permission, scope, rules and LOG
(issue 26, 6)."""
from datetime import date

import schemathesis

from app.clients.models import Subscription
from app.dealers.models import Dealer
from app.extensions import db
from app.security import permissions as p
from tests.conftest import api_token, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_service, make_subscription

PASSWORD = "operator-pass-123"


def a_subscription(app, dealer_name=None, status="active"):
    with app.app_context():
        dealer = make_dealer(dealer_name) if dealer_name else None
        client = make_client(dealer, f"Клиент {dealer_name or 'на офиса'}")
        subscription = make_subscription(client, make_service(f"Интернет {dealer_name or 'офис'}"), status=status,
                                         activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        return client.id, subscription.id, dealer.id if dealer else None


def api_as(app, username):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(client, username, PASSWORD)
    return client


def on_spec(api, response):
    """The answer as the published spec describes it (schemathesis's own check of status, headers and body)."""
    spec = schemathesis.openapi.from_dict(api.get("/api/v1/_openapi").json)
    spec["/api/v1/subscriptions/{pk}/status"]["POST"].validate_response(response)
    return response


def status_of(app, subscription_id):
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        return subscription.status, subscription.status_reason


def test_the_spec_publishes_the_status_change_with_its_reason(app, api):
    spec = api.get("/api/v1/_openapi").json
    operation = spec["paths"]["/api/v1/subscriptions/{pk}/status"]["post"]
    body = spec["components"]["schemas"]["SubscriptionStatusChange"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubscriptionStatusChange"}
    assert body["required"] == ["reason", "status"]
    assert body["properties"]["status"]["enum"] == ["active", "suspended", "terminated"]
    assert {"200", "403", "404", "409", "422"} <= set(operation["responses"])


def test_a_status_change_with_its_reason_shows_on_the_card_and_in_the_log(app, api, admin):
    client_id, subscription_id, _ = a_subscription(app)
    response = api.post(f"/api/v1/subscriptions/{subscription_id}/status",
                        json={"status": "suspended", "reason": "Неплатена фактура 17"})
    assert on_spec(api, response).status_code == 200, response.text
    assert (response.json["result"]["status"], response.json["result"]["status_reason"]) == (
        "suspended", "Неплатена фактура 17")
    assert status_of(app, subscription_id) == ("suspended", "Неплатена фактура 17")
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "Спряна (Неплатена фактура 17)" in card
    log = visible_text(admin.get("/log/list/?_flt_0_entity_type=Subscription").text)
    assert "Неплатена фактура 17" in log and "Спряна" in log
    back = api.post(f"/api/v1/subscriptions/{subscription_id}/status",
                    json={"status": "active", "reason": "Платена"})
    assert back.status_code == 200 and status_of(app, subscription_id) == ("active", "Платена")


def test_a_change_the_present_status_forbids_is_409_and_a_malformed_one_422_changing_nothing(app, api):
    _client_id, subscription_id, _ = a_subscription(app, status="terminated")
    url = f"/api/v1/subscriptions/{subscription_id}/status"
    response = on_spec(api, api.post(url, json={"status": "active", "reason": "по грешка"}))
    assert (response.status_code, response.json["message"]) == (
        409, {"status": ["Услугата не може да премине от това състояние в избраното."]})
    for body, messages in (
        ({"status": "active", "reason": "   "}, {"reason": ["Не може да е празно."]}),
        ({"status": "active"}, {"reason": ["Задължително поле."]}),
        ({"status": "pending", "reason": "x"}, {"status": ["Трябва да е едно от: active, suspended, terminated."]}),
    ):
        refused = on_spec(api, api.post(url, json=body))
        assert (refused.status_code, refused.json["message"]) == (422, messages), body
    # The generic PUT still has no status: a status changes only with its reason, through the operation above.
    put = api.put(f"/api/v1/subscriptions/{subscription_id}", json={"status": "active"})
    assert put.status_code == 422 and "status" in put.json["message"]
    assert status_of(app, subscription_id)[0] == "terminated"
    assert api.post("/api/v1/subscriptions/999999/status", json={"status": "active", "reason": "x"}).status_code == 404


def test_without_the_change_status_permission_or_outside_the_dealer_it_is_refused(app):
    _own_client, own_id, alpha_id = a_subscription(app, "Алфа")
    _foreign_client, foreign_id, _ = a_subscription(app, "Бета")
    with app.app_context():
        make_operator(None, "kasa", p.CASHIER, username="kasa9")  # sees subscriptions, may not change their status
        make_operator(db.session.get(Dealer, alpha_id), "alfa", p.DEALER_ADMINISTRATOR, username="alfa9")
    cashier = api_as(app, "kasa9")
    assert cashier.get(f"/api/v1/subscriptions/{own_id}").status_code == 200
    refused = cashier.post(f"/api/v1/subscriptions/{own_id}/status", json={"status": "suspended", "reason": "опит"})
    assert refused.status_code == 403
    dealer = api_as(app, "alfa9")
    foreign = dealer.post(f"/api/v1/subscriptions/{foreign_id}/status", json={"status": "suspended", "reason": "чужд"})
    assert foreign.status_code == 404
    own = dealer.post(f"/api/v1/subscriptions/{own_id}/status", json={"status": "suspended", "reason": "свой"})
    assert own.status_code == 200
    assert status_of(app, own_id) == ("suspended", "свой") and status_of(app, foreign_id)[0] == "active"


def test_the_operation_itself_refuses_an_operator_without_the_permission(app):
    """The rule is the operation's (change_status_by_hand), not only FAB's check in front of the card and the API."""
    import pytest

    from app.clients.subscriptions import change_status_by_hand
    from app.core.errors import FieldErrors

    _client_id, subscription_id, _ = a_subscription(app)
    with app.app_context():
        cashier = make_operator(None, "kasa", p.CASHIER, username="kasa8")
        with pytest.raises(FieldErrors) as refusal:
            change_status_by_hand(cashier, db.session.get(Subscription, subscription_id), "suspended", "опит")
        assert refusal.value.errors == {"status": ["Нямате право да сменяте състоянието на услуга."]}
        db.session.rollback()
    assert status_of(app, subscription_id) == ("active", None)
