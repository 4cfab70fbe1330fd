"""The organizer at scale: the day's plan, its PDF, the week and the phone page with 2,000 open tasks and
50 technicians.

`.venv/bin/python bench/organizer.py` — SQLite in a temporary folder unless BENCH_DATABASE_URL names a
PostgreSQL database (its public schema is then dropped and migrated from empty). 2,000 tasks of a type with
5 steps, spread over the 5 working days of one week (400 a day, 8 per technician a day), each for a client in
one of 300 blocks of 10 neighbourhoods. Server time per request in process (the test client), 3 warm-up and
20 timed requests each, median and p95, and SQL statements per request.
"""
import os
import random
import statistics
import sys
import tempfile
import time as clock
from datetime import date, time, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.addresses.models import Block, City, Neighbourhood  # noqa: E402
from app.clients.models import Client  # noqa: E402
from app.core.transaction import unit_of_work  # noqa: E402
from app.extensions import db  # noqa: E402
from app.organizer.models import Task, TaskStep, TaskType, TaskTypeStep, task_technician  # noqa: E402
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Browser, app_config, migrate_and_prepare  # noqa: E402

TASKS = 2_000
TECHNICIANS = 50
CLIENTS = 1_500
MONDAY = date(2026, 12, 7)
PASSWORD = "bench-pass-123"
WARM, TIMED = 3, 20


def database_url():
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from tests.conftest import reset_postgres

        reset_postgres(url)
        return url
    return f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-organizer.db'}"


def seed(app):
    """Technicians, clients in blocks, and the tasks written set-based (the bench measures reading them)."""
    started = clock.perf_counter()
    with app.app_context():
        security = app.appbuilder.sm
        role = security.find_role("Техник")
        technicians = [security.add_user(username=f"tech{n:02d}", first_name=f"Техник{n:02d}", last_name="Пробен",
                                         email=f"tech{n:02d}@example.bg", role=role, password=PASSWORD).id
                       for n in range(TECHNICIANS)]
        with unit_of_work():
            sofia = City(name="София")
            blocks = []
            for n in range(10):
                neighbourhood = Neighbourhood(city=sofia, kind="ж.к.", name=f"Квартал {n}")
                blocks += [Block(neighbourhood=neighbourhood, name=str(100 + b)) for b in range(30)]
            db.session.add_all(blocks)
            task_type = TaskType(name="Нова инсталация", purpose="installation", duration_minutes=60, steps=[
                TaskTypeStep(position=p, name=f"Стъпка {p}", required=p != 3, asks="value" if p == 2 else "nothing",
                             value_label="MAC" if p == 2 else None) for p in range(1, 6)])
            db.session.add(task_type)
            db.session.flush()
            block_ids = [block.id for block in blocks]
            db.session.execute(sa.insert(Client), [
                {"client_number": f"{100000 + n}", "kind": "individual", "name": f"Клиент Пробен {n}",
                 "search_name": f"клиент пробен {n}", "phone": f"0888 {n:06d}", "block_id": block_ids[n % 300],
                 "entrance": "А", "floor": str(n % 8 + 1), "apartment": str(n % 40 + 1), "vat_registered": False,
                 "created_at": MONDAY} for n in range(CLIENTS)])
            client_ids = db.session.scalars(sa.select(Client.id)).all()
            rng = random.Random(15)
            rows = []
            for n in range(TASKS):
                start = 8 + n % 8
                rows.append({"task_type_id": task_type.id, "client_id": rng.choice(client_ids),
                             "address": "гр. София, бл. пробен", "scheduled_on": MONDAY + timedelta(days=n % 5),
                             "time_from": time(start), "time_to": time(start + 1), "duration_minutes": 60,
                             "priority": "normal", "status": "open", "activates_subscription": False,
                             "created_at": MONDAY})
            db.session.execute(sa.insert(Task), rows)
            task_ids = db.session.scalars(sa.select(Task.id).order_by(Task.id)).all()
            db.session.execute(sa.insert(TaskStep), [
                {"task_id": task_id, "position": p, "name": f"Стъпка {p}", "required": p != 3,
                 "asks": "value" if p == 2 else "nothing", "status": "pending"}
                for task_id in task_ids for p in range(1, 6)])
            # 8 tasks a day for each technician: task n goes to technician (n // 5) % 50.
            db.session.execute(sa.insert(task_technician), [
                {"task_id": task_id, "operator_id": technicians[(index // 5) % TECHNICIANS]}
                for index, task_id in enumerate(task_ids)])
        return technicians, clock.perf_counter() - started


def measure(browser, url, engine):
    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    for _ in range(WARM):
        assert browser.get(url).status_code == 200, url
    times = []
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(TIMED):
            statements.clear()
            started = clock.perf_counter()
            response = browser.get(url)
            times.append((clock.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(statements), len(response.data)


def main():
    url = database_url()
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    technicians, seconds = seed(app)
    print(f"seeded {TASKS} tasks × 5 steps, {TECHNICIANS} technicians, {CLIENTS} clients in {seconds:.1f} s "
          f"on {sa.engine.make_url(url).get_backend_name()}")
    with app.app_context():
        engine = db.engine
        first = db.session.get(type(app.appbuilder.sm.find_user(username="tech00")),
                               technicians[0]).username
    office = Browser(app)
    office.login(ADMIN_USERNAME, ADMIN_PASSWORD)
    technician = Browser(app)
    technician.login(first, PASSWORD)
    tuesday = (MONDAY + timedelta(days=1)).isoformat()
    cases = [
        ("day plan, every technician (400 tasks)", office, f"/tasks/day/?day={tuesday}"),
        ("day plan, one technician (8 tasks)", office, f"/tasks/day/?day={tuesday}&technician={technicians[0]}"),
        ("day plan PDF, one technician", office, f"/tasks/day/pdf?day={tuesday}&technician={technicians[0]}"),
        ("week, every technician (2,000 tasks)", office, f"/tasks/week/?day={tuesday}"),
        ("week, one technician", office, f"/tasks/week/?day={tuesday}&technician={technicians[0]}"),
        ("phone page of a technician (8 tasks)", technician, f"/tasks/mine/?day={tuesday}"),
        ("task list, first page", office, "/tasks/list/"),
    ]
    print(f"| request | median ms | p95 ms | SQL statements | bytes |\n|---|---|---|---|---|")
    for label, browser, path in cases:
        median, p95, statements, size = measure(browser, path, engine)
        print(f"| {label} | {median:.1f} | {p95:.1f} | {statements} | {size:,} |")


if __name__ == "__main__":
    main()
