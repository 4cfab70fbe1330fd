"""The organizer in the panel, on the phone page and through the API: who sees what, the day's plan and its
PDF, the week, the client card's tasks and its fault button, the home page's today."""
import re
import subprocess
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy_continuum import version_class

from app.core.formatting import local_today
from app.extensions import db
from app.organizer.models import Task, TaskStep
from tests.conftest import Browser, api_token, visible_text
from tests.factories import make_client
from tests.organizer.conftest import (
    PASSWORD,
    client_in,
    form_values,
    make_fault_type,
    make_installation_type,
    make_task,
    make_technician,
)


def _technician_world(app):
    with app.app_context():
        task_type = make_installation_type()
        ivan, petar = make_technician("иван"), make_technician("петър")
        today = local_today()
        own = make_task(task_type, make_client(None, "Клиент на Иван", phone="0888 111 222"), [ivan], day=today,
                        start=(9, 0), end=(10, 0))
        other = make_task(task_type, make_client(None, "Клиент на Петър"), [petar], day=today, start=(11, 0))
        return {"own": own.id, "other": other.id, "other_step": other.steps[0].id, "own_step": own.steps[0].id,
                "ivan": ivan.username, "petar": petar.username}


def test_a_technician_sees_and_changes_only_their_own_tasks_in_the_panel_phone_page_and_api(app):
    world = _technician_world(app)
    ivan = Browser(app)
    ivan.login(world["ivan"], PASSWORD)
    listing = visible_text(ivan.get("/tasks/list/").text)
    assert "Клиент на Иван" in listing and "Клиент на Петър" not in listing
    assert ivan.get(f"/tasks/show/{world['other']}").status_code == 404
    phone = visible_text(ivan.get("/tasks/mine/").text)
    assert "Клиент на Иван" in phone and "Клиент на Петър" not in phone
    day = visible_text(ivan.get("/tasks/day/").text)
    assert "Клиент на Иван" in day and "Клиент на Петър" not in day
    token = ivan.csrf_token("/tasks/mine/")
    refused = ivan.client.post(f"/tasks/step/{world['other_step']}", data={"csrf_token": token, "status": "done"})
    assert refused.status_code == 404
    assert ivan.client.post(f"/tasks/close/{world['other']}", data={"csrf_token": token}).status_code == 404
    # No planning for a technician: no new task, no editing, no cancelling.
    assert ivan.get("/tasks/add").status_code == 403
    cancel = ivan.client.post(f"/tasks/cancel/{world['own']}", data={"csrf_token": token, "reason": "x"})
    assert cancel.status_code == 403

    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, world["ivan"], PASSWORD)
    ids = api.get("/api/v1/tasks/").json["ids"]
    assert ids == [world["own"]]
    assert api.get(f"/api/v1/tasks/{world['other']}").status_code == 404
    answer = api.post(f"/api/v1/tasks/{world['other']}/steps/{world['other_step']}", json={"status": "done"})
    assert answer.status_code == 404
    assert api.post(f"/api/v1/tasks/{world['other']}/close").status_code == 404
    with app.app_context():
        assert db.session.get(TaskStep, world["other_step"]).status == "pending"
    mine = api.post(f"/api/v1/tasks/{world['own']}/steps/{world['own_step']}",
                    json={"status": "done", "request_key": "k-1"})
    assert mine.status_code == 200 and mine.json["changed"] is True
    again = api.post(f"/api/v1/tasks/{world['own']}/steps/{world['own_step']}",
                     json={"status": "done", "request_key": "k-1"})
    assert again.status_code == 200 and again.json["changed"] is False
    assert api.post(f"/api/v1/tasks/{world['own']}/steps/{world['own_step']}",
                    json={"status": {"nested": "object"}}).status_code == 422


def test_a_double_tap_on_the_phone_page_marks_a_step_once(app):
    world = _technician_world(app)
    ivan = Browser(app)
    ivan.login(world["ivan"], PASSWORD)
    page = ivan.get("/tasks/mine/").text
    assert 'href="tel:0888111222"' in page and 'name="viewport"' in page
    key = re.search(rf'action="/tasks/step/{world["own_step"]}".*?name="request_key" value="([^"]+)"', page,
                    re.S).group(1)
    token = ivan.csrf_token("/tasks/mine/")
    form = {"csrf_token": token, "status": "done", "request_key": key, "next": "/tasks/mine/"}
    first = ivan.client.post(f"/tasks/step/{world['own_step']}", data=form)
    assert first.status_code == 302 and first.headers["Location"].endswith("/tasks/mine/")
    with app.app_context():
        marked_at = db.session.get(TaskStep, world["own_step"]).marked_at
        versions = db.session.scalar(select(func.count()).select_from(version_class(TaskStep)))
    ivan.client.post(f"/tasks/step/{world['own_step']}", data=form)
    with app.app_context():
        step = db.session.get(TaskStep, world["own_step"])
        assert step.status == "done" and step.marked_at == marked_at
        assert db.session.scalar(select(func.count()).select_from(version_class(TaskStep))) == versions
    phone = visible_text(ivan.get("/tasks/mine/").text)
    assert "Готово" in phone and "В изпълнение" in phone


def _plan_world(app):
    with app.app_context():
        task_type = make_installation_type()
        ivan = make_technician("иван")
        day = date(2026, 12, 3)
        # Made out of order: the plan sorts by time window, then neighbourhood, then block.
        make_task(task_type, client_in("Люлин 5", "520", "Цветелина Бонева"), [ivan], day=day, start=(14, 0))
        make_task(task_type, client_in("Младост 1", "105", "Ангел Ангелов"), [ivan], day=day, start=(9, 0))
        make_task(task_type, client_in("Дружба 2", "210", "Борислав Жеков"), [ivan], day=day, start=(9, 0))
        make_task(task_type, client_in("Младост 1", "12", "Веселин Стоев"), [ivan], day=day, start=(9, 0))
        make_task(task_type, make_client(None, "Другият ден"), [ivan], day=day + timedelta(days=1), start=(8, 0))
        return day, ivan.id


def test_the_days_plan_lists_the_round_in_order_on_screen_and_as_a_cyrillic_pdf(app, admin, tmp_path):
    day, ivan_id = _plan_world(app)
    order = ["Борислав Жеков", "Веселин Стоев", "Ангел Ангелов", "Цветелина Бонева"]
    page = visible_text(admin.get(f"/tasks/day/?day={day.strftime('%d.%m.%Y')}&technician={ivan_id}").text)
    positions = [page.index(name) for name in order]
    assert positions == sorted(positions) and "Другият ден" not in page
    assert "вх. Б, ет. 3, ап. 12" in page and "Монтаж на модем" in page
    response = admin.get(f"/tasks/day/pdf?day={day.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(response.data)
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Задачи за деня 03.12.2026" in text
    positions = [text.index(name) for name in order]
    assert positions == sorted(positions) and "Другият ден" not in text
    assert "☐ Прокарване на кабел" in text and "ж.к. Младост 1, бл. 105, вх. Б, ет. 3, ап. 12" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts


def test_the_week_shows_each_technicians_load(app, admin):
    day, ivan_id = _plan_world(app)
    page = visible_text(admin.get(f"/tasks/week/?day={day.strftime('%d.%m.%Y')}").text)
    assert "Седмицата на техниците 30.11.2026 – 06.12.2026" in page
    # Four tasks of 90 minutes on Thursday, one on Friday.
    assert "4 · 6:00 ч." in page and "1 · 1:30 ч." in page and "5 · 7:30 ч." in page


def test_a_fault_opens_from_the_client_card_in_two_clicks_and_shows_on_the_card_and_home_page(app, admin):
    with app.app_context():
        make_fault_type()
        client = client_in("Младост 1", "105", "Стефан Повредов")
        client_id = client.id
    card = admin.get(f"/clients/show/{client_id}?tab=all").text
    link = re.search(r'href="([^"]*purpose=fault[^"]*)"', card).group(1).replace("&amp;", "&")
    form = admin.get(link).text  # click 1
    assert "ж.к. Младост 1, бл. 105, вх. Б, ет. 3, ап. 12" in form
    saved = admin.client.post(link, data=form_values(form))  # click 2: Save
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/clients/show/{client_id}")
    with app.app_context():
        task = db.session.scalar(select(Task))
        assert task.task_type.name == "Повреда" and task.priority == "high"
        assert task.scheduled_on == local_today() and [s.name for s in task.steps] == ["Диагностика",
                                                                                        "Подмяна на кабел"]
    card = visible_text(admin.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Задачи" in card and "Повреда" in card and "Отворена" in card
    home = visible_text(admin.get("/").text)
    assert "Задачи днес (1)" in home and "Стефан Повредов" in home


def test_the_phone_page_opens_only_the_task_at_hand(app):
    with app.app_context():
        task_type = make_installation_type()
        ivan = make_technician("фонов")
        today = local_today()
        first = make_task(task_type, make_client(None, "Първи Клиент"), [ivan], day=today, start=(9, 0))
        second = make_task(task_type, make_client(None, "Втори Клиент"), [ivan], day=today, start=(11, 0))
        first_id, second_id, username = first.id, second.id, ivan.username
    phone = Browser(app)
    phone.login(username, PASSWORD)
    html = phone.get("/tasks/mine/").text
    opened = re.findall(r'<details class="task" id="task-(\d+)"[^>]*\bopen\b', html)
    assert opened == [str(first_id)]
    assert f'id="task-{second_id}"' in html and "Втори Клиент" in visible_text(html)  # folded, named
    assert "Стъпки: 0/4" in visible_text(html)
