"""A sale's installation task starts with no technician and no day: it is listed as Непланирани (the menu, the
home page's and the day plan's counter), its page has Планирай, and the plan form (a technician of the task's
dealer, a day dd.mm.yyyy, a 24-hour time) puts it on that day's plan, with the change in the LOG."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import LogEntry
from app.clients.subscriptions import sell_subscription
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import Task
from app.organizer.services import plan_task, technicians_for, unplanned_count
from app.security.models import Operator
from app.security.permissions import CASHIER, DEALER_ADMINISTRATOR
from tests.conftest import Browser, visible_text
from tests.factories import head_office_cashier, make_client, make_dealer, make_operator, make_service
from tests.organizer.conftest import PASSWORD, make_installation_type, make_technician


def _sale(client):
    service = make_service(f"Интернет {client.id}")
    service.needs_installation = True
    subscription = sell_subscription(head_office_cashier(), client, service)
    db.session.commit()
    return db.session.scalar(select(Task).where(Task.subscription_id == subscription.id))


@pytest.fixture
def world(app):
    with app.app_context():
        make_installation_type()
        north = make_dealer("Север")
        ours = make_technician("наш")
        theirs = make_technician("чужд", dealer=north)
        make_operator(None, "каса", CASHIER, username="kasierka")
        make_operator(north, "планира", DEALER_ADMINISTRATOR, username="north-planner")
        task = _sale(make_client(None, "Анна Стоянова", phone="0888 100 200"))
        north_task = _sale(make_client(north, "Клиент на Север"))
        return {"task": task.id, "north_task": north_task.id, "ours": ours.id, "theirs": theirs.id}


def test_a_sale_s_task_is_unplanned_until_planned_and_then_on_the_day_s_plan(app, admin, world):
    task_id = world["task"]
    home = visible_text(admin.get("/").text)
    assert "Непланирани задачи: 2" in home
    listing = admin.get("/tasks/unplanned/").text
    assert "Анна Стоянова" in visible_text(listing) and f"/tasks/plan/{task_id}" in listing
    assert "Непланирани задачи" in visible_text(admin.get("/tasks/day/").text)
    page = visible_text(admin.get(f"/tasks/show/{task_id}").text)
    assert "Планирай" in page and "Непланирана" in page
    with app.app_context():
        client_id = db.session.get(Task, task_id).client_id
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    assert f"/tasks/plan/{task_id}" in card and "Непланирана" in visible_text(card)

    form = admin.get(f"/tasks/plan/{task_id}").text
    offered = visible_text(form)
    # Technicians only: neither the administrator nor another dealer's technician, nor a cashier.
    assert "Оператор-наш" in offered
    assert "Оператор-чужд" not in offered and "Оператор-каса" not in offered and "Оператор-планира" not in offered
    assert 'class="form-control billing-date"' in form  # the panel's Bulgarian picker

    with app.app_context():
        day = local_today() + timedelta(days=2)
    answer = admin.submit(f"/tasks/plan/{task_id}", {"technician": world["ours"], "day": day.strftime("%d.%m.%Y"),
                                                      "time_from": "9:30", "time_to": "11:00",
                                                      "next": "/tasks/unplanned/"}, form_url=f"/tasks/plan/{task_id}")
    assert answer.status_code == 302 and answer.location.endswith("/tasks/unplanned/")
    after = visible_text(admin.get("/tasks/unplanned/").text)
    assert f"Задача № {task_id} е планирана за {day.strftime('%d.%m.%Y')} 09:30–11:00: Оператор-наш Централа" \
        in after
    assert "Анна Стоянова" not in after
    plan = visible_text(admin.get(f"/tasks/day/?day={day.strftime('%d.%m.%Y')}").text)
    assert "Анна Стоянова" in plan and "09:30–11:00" in plan and "Оператор-наш" in plan
    assert "Непланирани задачи: 1" in visible_text(admin.get("/").text)
    assert f"/tasks/plan/{task_id}" not in admin.get(f"/clients/show/{client_id}?tab=all").text
    history = visible_text(admin.get(f"/tasks/show/{task_id}").text)
    assert "Планирана за" in history and "09:30" in history and "09:30:00" not in history  # times as typed
    with app.app_context():
        entries = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Task",
                                                            LogEntry.entity_id == str(task_id),
                                                            LogEntry.operation == "update")).all()
        changed = {name for entry in entries for name in entry.changes}
        assert {"scheduled_on", "time_from", "technicians"} <= changed


def test_the_plan_form_refuses_in_bulgarian_and_stores_nothing(app, admin, world):
    task_id = world["task"]
    url = f"/tasks/plan/{task_id}"
    with app.app_context():
        yesterday = (local_today() - timedelta(days=1)).strftime("%d.%m.%Y")
    cases = [
        ({"technician": world["ours"], "day": "31.11.2027"}, "Няма такава дата: 31.11.2027."),
        ({"technician": world["ours"], "day": "2027/12/01"}, "Въведете деня като дд.мм.гггг"),
        ({"technician": world["ours"], "day": yesterday}, "Денят е минал"),
        ({"technician": world["ours"], "day": "01.12.2099", "time_from": "25:00"}, "Няма такъв час: 25:00."),
        ({"technician": world["ours"], "day": "01.12.2099", "time_from": "3:30 PM"}, "Въведете часа като чч:мм"),
        ({"technician": world["ours"], "day": "01.12.2099", "time_from": "12:00", "time_to": "11:00"},
         "Краят на интервала е след началото му."),
        ({"technician": "", "day": "01.12.2099"}, "Изберете техник."),
        ({"technician": world["theirs"], "day": "01.12.2099"}, "не е техник на дилъра на задачата"),
        ({"technician": 1, "day": "01.12.2099"}, "не е техник на дилъра на задачата"),  # the administrator
    ]
    for data, message in cases:
        answer = admin.submit(url, data)
        assert answer.status_code == 200, data
        text = visible_text(answer.text)
        assert "Задачата не е планирана" in text and message in text, (data, text[:600])
    with app.app_context():
        task = db.session.get(Task, task_id)
        assert task.scheduled_on is None and task.technicians == [] and task.time_from is None


def test_planning_is_a_planner_s_in_his_dealer_s_scope(app, world):
    with app.app_context():
        cashier = db.session.query(Operator).filter_by(username="kasierka").one()
        with pytest.raises(FieldErrors) as refused:
            plan_task(cashier, db.session.get(Task, world["task"]), technician=world["ours"], day="01.12.2099")
        assert str(refused.value) == "Нямате право да планирате задачи."
        planner = db.session.query(Operator).filter_by(username="north-planner").one()
        assert unplanned_count(planner) == 1
        offered = technicians_for(planner, db.session.get(Task, world["north_task"]))
        assert [operator.username for operator in offered] == ["tech-чужд"]
        # Head office plans a dealer's task with the dealer's technicians or its own.
        offered = technicians_for(head_office_cashier(), db.session.get(Task, world["north_task"]))
        assert sorted(operator.username for operator in offered) == ["tech-наш", "tech-чужд"]
    north = Browser(app)
    north.login("north-planner", PASSWORD)
    listing = visible_text(north.get("/tasks/unplanned/").text)
    assert "Клиент на Север" in listing and "Анна Стоянова" not in listing
    assert north.get(f"/tasks/plan/{world['task']}").status_code == 404
    answer = north.submit(f"/tasks/plan/{world['north_task']}", {"technician": world["theirs"], "day": "01.12.2099",
                                                                  "time_from": "10:00"})
    assert answer.status_code == 302
    technician = Browser(app)
    technician.login("tech-наш", PASSWORD)
    assert technician.get(f"/tasks/plan/{world['task']}").status_code == 403
    with app.app_context():
        task = db.session.get(Task, world["north_task"])
        assert task.scheduled_on.year == 2099 and [op.username for op in task.technicians] == ["tech-чужд"]
