"""A head-office cashier takes the client's call and logs the fault from the card: an urgent task of the fault
type with no technician or day, among the planners' unplanned tasks; the card's Задачи tab lists the client's
tasks for the desk (and says what goes there when there are none)."""
from sqlalchemy import select

from app.dealers.models import Dealer
from app.extensions import db
from app.organizer.models import HIGH, PURPOSE_FAULT, Task
from app.security.permissions import CASHIER, MANAGER
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_operator
from tests.organizer.conftest import PASSWORD, make_fault_type


def test_a_head_office_cashier_logs_a_fault_from_the_card(app, admin):
    with app.app_context():
        make_fault_type()
        make_operator(None, "каса", CASHIER, username="kasa-faults")
        client_id = make_client(None, "Клиент с повреда").id
        db.session.commit()
    desk = Browser(app)
    desk.login("kasa-faults", PASSWORD)
    card = visible_text(desk.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Повреда" in card and "Клиентът няма задачи." in card
    refused = desk.submit(f"/faults/{client_id}", {"description": "  "}, form_url=f"/clients/show/{client_id}",
                          follow_redirects=True)
    assert "Опишете какво не работи" in visible_text(refused.text)
    with app.app_context():
        assert db.session.scalar(select(Task.id)) is None
    logged = desk.submit(f"/faults/{client_id}", {"description": "Няма интернет от снощи"},
                         form_url=f"/clients/show/{client_id}", follow_redirects=True)
    text = visible_text(logged.text)
    assert "Повредата е въведена като задача №" in text
    with app.app_context():
        task = db.session.scalar(select(Task))
        assert (task.client_id, task.task_type.purpose, task.priority) == (client_id, PURPOSE_FAULT, HIGH)
        assert task.technicians == [] and task.scheduled_on is None and task.description == "Няма интернет от снощи"
    # The card now lists it for the desk, unplanned, without a link to the task page the cashier may not open.
    card = visible_text(desk.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Непланирана" in card and "Няма интернет" not in card.split("Задачи")[0]
    assert desk.get(f"/tasks/show/{task.id}").status_code in (403, 404) or \
        "/login" in desk.get(f"/tasks/show/{task.id}").headers.get("Location", "")
    # Among head office's unplanned tasks, for a planner.
    assert "Клиент с повреда" in visible_text(admin.get("/tasks/unplanned/").text)


def test_a_dealers_cashier_logs_no_fault_of_head_offices_client_and_a_manager_none(app):
    with app.app_context():
        make_fault_type()
        north = Dealer(name="Север")
        db.session.add(north)
        db.session.flush()
        make_operator(north, "каса", CASHIER, username="kasa-faults")
        make_operator(None, "мениджър", MANAGER, username="manager-faults")
        theirs = make_client(north, "Клиент на Север").id
        ours = make_client(None, "Наш клиент").id
        db.session.commit()
    desk = Browser(app)
    desk.login("kasa-faults", PASSWORD)
    token = desk.csrf_token(f"/clients/show/{theirs}")
    answer = desk.client.post(f"/faults/{ours}", data={"csrf_token": token, "description": "x"})
    assert answer.status_code == 404
    manager = Browser(app)
    manager.login("manager-faults", PASSWORD)
    card = visible_text(manager.get(f"/clients/show/{ours}?tab=all").text)
    assert "Задачите на клиента се виждат от техническата поддръжка" in card
    token = manager.csrf_token("/resetmypassword/form")  # the card has no form for him
    manager.client.post(f"/faults/{ours}", data={"csrf_token": token, "description": "Няма интернет"})
    with app.app_context():
        assert db.session.scalar(select(Task.id)) is None
