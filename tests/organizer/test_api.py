"""/api/v1/tasks/: the panel's operations over JSON, refusals in Bulgarian, nothing kept when refused."""
from sqlalchemy import func, select

from app.clients.models import Subscription
from app.extensions import db
from app.organizer.models import Task
from tests.factories import make_client, make_service, make_subscription
from tests.organizer.conftest import make_installation_type, make_technician


def test_a_task_is_planned_worked_and_closed_through_the_api(app, api):
    with app.app_context():
        type_id = make_installation_type().id
        client = make_client(None, "Клиент по API", address_text="гр. Варна, ул. Морска 3")
        subscription_id = make_subscription(client, make_service("Интернет API"), status="pending").id
        client_id, technician_id = client.id, make_technician("апи").id
    refused = api.post("/api/v1/tasks/", json={"task_type": type_id, "client": client_id, "time_from": "10:00:00"})
    assert refused.status_code == 422 and refused.json["message"] == {"scheduled_on": ["Часовият интервал изисква ден."]}
    nested = api.post("/api/v1/tasks/", json={"task_type": {"name": "Нов вид"}, "client": client_id})
    assert nested.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count(Task.id))) == 0
    created = api.post("/api/v1/tasks/", json={
        "task_type": type_id, "client": client_id, "subscription": subscription_id, "technicians": [technician_id],
        "scheduled_on": "2026-12-03", "time_from": "09:00:00", "time_to": "10:30:00", "priority": "high"})
    assert created.status_code == 201, created.text
    task_id = created.json["id"]
    task = api.get(f"/api/v1/tasks/{task_id}").json["result"]
    assert task["address"] == "гр. Варна, ул. Морска 3" and task["status"] == "open"
    assert [step["name"] for step in task["steps"]][:2] == ["Прокарване на кабел", "Монтаж на модем"]
    steps = {step["name"]: step["id"] for step in task["steps"]}
    early = api.post(f"/api/v1/tasks/{task_id}/close")
    assert early.status_code == 422 and "Още не е направено" in early.json["message"]["status"][0]
    wrong = api.post(f"/api/v1/tasks/{task_id}/steps/{steps['Монтаж на модем']}", json={"status": "done"})
    assert wrong.status_code == 422 and wrong.json["message"] == {"value": ["Въведете MAC на модема."]}
    for name, body in (("Прокарване на кабел", {"status": "done"}),
                       ("Монтаж на модем", {"status": "done", "value": "AA:BB:CC:00:11:22"}),
                       ("Подпис на клиента", {"status": "done", "note": "Подписа"})):
        assert api.post(f"/api/v1/tasks/{task_id}/steps/{steps[name]}", json=body).status_code == 200
    closed = api.post(f"/api/v1/tasks/{task_id}/close")
    assert closed.status_code == 200 and closed.json["result"]["status"] == "done"
    assert closed.json["warnings"] == ["Услугата Интернет API е активна."]
    assert api.post(f"/api/v1/tasks/{task_id}/close").json["changed"] is False
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).status == "active"
    assert api.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": "Късно"}).status_code == 422


def test_cancelling_through_the_api_takes_a_reason_and_ends_the_sale_instead_of_activating_it(app, api):
    with app.app_context():
        type_id = make_installation_type().id
        client = make_client(None, "Отказал се")
        subscription_id = make_subscription(client, make_service("Интернет отказ"), status="pending").id
        client_id = client.id
    task_id = api.post("/api/v1/tasks/", json={"task_type": type_id, "client": client_id,
                                               "subscription": subscription_id}).json["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": ""}).json["message"] == {
        "cancel_reason": ["Кажете защо задачата се отказва."]}
    cancelled = api.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": "Клиентът се отказа"})
    assert cancelled.status_code == 200 and cancelled.json["result"]["cancel_reason"] == "Клиентът се отказа"
    with app.app_context():
        # The sale never started: it ends with the cancellation's reason.
        assert db.session.get(Subscription, subscription_id).status == "terminated"
