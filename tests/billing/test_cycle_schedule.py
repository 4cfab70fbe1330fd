"""The cycle by itself each night (embedded thread, or RQ's cron with Redis), and its pages."""
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, datetime

from sqlalchemy import func, select

from app.audit.models import LogEntry

from app.billing.models import BillingRun
from app.billing.schedule import EmbeddedScheduler, due_days, run_due_days
from app.clients.models import Subscription
from app.extensions import db
from tests.billing.test_cycle import subscriber
from tests.conftest import REDIS_URL, Browser, visible_text
from tests.core.test_jobs import ROOT, redis_or_skip


def utc(*parts):
    """A stored (naive UTC) moment; Sofia is UTC+2 in December."""
    return datetime(*parts)


def scheduled_days():
    return [run.scheduled_day for run in db.session.scalars(
        select(BillingRun).where(BillingRun.scheduled_day.is_not(None)).order_by(BillingRun.scheduled_day))]


def test_the_night_s_run_is_due_after_the_configured_local_time_and_missed_days_are_caught_up_in_order(app):
    with app.app_context():
        # 00:20 UTC is 02:20 in Sofia, before the default 02:30: the latest due night is yesterday's.
        assert due_days(utc(2026, 12, 10, 0, 20)) == [date(2026, 12, 9)]
        assert due_days(utc(2026, 12, 10, 0, 40)) == [date(2026, 12, 10)]
        assert run_due_days(utc(2026, 12, 6, 1, 0)) == [date(2026, 12, 6)]
        # The machine was off for three nights: each missed day runs, oldest first, once.
        assert run_due_days(utc(2026, 12, 10, 1, 0)) == [date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9),
                                                         date(2026, 12, 10)]
        assert run_due_days(utc(2026, 12, 10, 5, 0)) == []
        assert scheduled_days() == [date(2026, 12, d) for d in (6, 7, 8, 9, 10)]
        runs = db.session.scalars(select(BillingRun).order_by(BillingRun.id)).all()
        assert [run.day for run in runs] == [date(2026, 12, d) for d in (6, 7, 8, 9, 10)]
        assert {run.started_by for run in runs} == {"графика"}  # "Пуснат от графика"


def test_the_embedded_default_runs_the_cycle_on_schedule_without_redis(app):
    with app.app_context():
        _client_id, subscription_id = subscriber(paid_until=date(2020, 1, 31), tolerance_days=0, warning_days=0)
    scheduler = EmbeddedScheduler(app, interval=0.2)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.app_context():
                status = db.session.get(Subscription, subscription_id).status
                db.session.remove()
            if status == "suspended":
                break
            time.sleep(0.2)
    finally:
        scheduler.stop()
        scheduler.join(5)
    assert status == "suspended"
    with app.app_context():
        assert len(scheduled_days()) == 1


def test_with_redis_one_cron_process_queues_the_night_s_run_for_the_workers(app, database_url):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        _client_id, subscription_id = subscriber(paid_until=date(2020, 1, 31), tolerance_days=0, warning_days=0)
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only")
    cron = subprocess.Popen([sys.executable, "worker.py", "--cron"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from redis import Redis
        from rq import Queue

        queue = Queue(queue_name, connection=Redis.from_url(REDIS_URL))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and queue.count < 2:
            time.sleep(0.2)
        # The check, queued for a worker (beside the other module's periodic job: ePay.bg's expired requests).
        # Each as run_periodic(its name): once per interval however many schedulers queue it (app.core.duties).
        assert sorted((job.func_name, job.args) for job in queue.get_jobs()) == [
            ("app.core.queue.run_periodic", ("billing-cycle-schedule",)),
            ("app.core.queue.run_periodic", ("epay-expire-requests",))]
    finally:
        cron.send_signal(signal.SIGTERM)
        output, _ = cron.communicate(timeout=30)
    assert cron.returncode == 0, output[-2000:]
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).status == "suspended"
        assert len(scheduled_days()) == 1


def test_an_administrator_runs_a_day_from_the_panel_and_reads_what_it_did(app):
    with app.app_context():
        _client_id, subscription_id = subscriber("Стоян Длъжников", paid_until=date(2026, 11, 30), tolerance_days=0,
                                                 warning_days=0)
    admin = Browser(app)
    admin.login()
    page = admin.get("/billing-runs/list/")
    assert page.status_code == 200 and "Пускане на билинг цикъла за ден" in visible_text(page.text)
    response = admin.submit("/billing-runs/start", {"day": "01.12.2026"}, form_url="/billing-runs/list/")
    assert response.status_code == 302
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with app.app_context():
            run = db.session.scalar(select(BillingRun))
            finished = run is not None and run.status == "done"
            run_id = run.id if run else None
            db.session.remove()
        if finished:
            break
        time.sleep(0.1)
    assert finished
    text = visible_text(admin.get(f"/billing-runs/show/{run_id}").text)
    assert "обработени 1 от 1 абонамента" in text
    assert "Спиране" in text and "Стоян Длъжников" in text and "Неплатена услуга: платено до 30.11.2026" in text
    listing = visible_text(admin.get("/billing-runs/list/").text)
    assert "01.12.2026" in listing and "100 %" in listing and "завършен" in listing
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).status == "suspended"


def test_a_cashier_cannot_start_a_run(app):
    from tests.factories import make_operator

    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier-run")
        db.session.commit()
    cashier = Browser(app)
    cashier.login("cashier-run", "operator-pass-123")
    assert "Пускане на билинг цикъла за ден" not in cashier.get("/billing-runs/list/").text
    token = cashier.csrf_token("/clients/add")
    response = cashier.client.post("/billing-runs/start", data={"day": "2026-12-01", "csrf_token": token})
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(BillingRun)) is None


def test_a_day_after_today_is_refused_in_the_panel_and_on_the_command_line(app):
    """One typo in a date must not suspend subscriptions paid into the future; catching up on past days works."""
    from datetime import timedelta

    from app.core.formatting import local_today

    with app.app_context():
        tomorrow = local_today() + timedelta(days=1)
        _client_id, subscription_id = subscriber("Петя Платила", paid_until=tomorrow + timedelta(days=40),
                                                 tolerance_days=0, warning_days=0)
    admin = Browser(app)
    admin.login()
    response = admin.submit("/billing-runs/start", {"day": f"{tomorrow + timedelta(days=60):%d.%m.%Y}"},
                            form_url="/billing-runs/list/")
    assert response.status_code == 302
    page = visible_text(admin.get("/billing-runs/list/").text)
    assert "Цикълът се пуска за днес" in page
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", (tomorrow + timedelta(days=60)).isoformat()])
    assert result.exit_code != 0 and "Цикълът се пуска за днес" in result.output
    # The command line reads a day as the panel does: dd.mm.yyyy too, and a day the calendar has not is refused.
    result = app.test_cli_runner().invoke(
        args=["billing", "run-cycle", "--date", f"{tomorrow + timedelta(days=60):%d.%m.%Y}"])
    assert result.exit_code != 0 and "Цикълът се пуска за днес" in result.output
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", "31.11.2026"])
    assert result.exit_code != 0 and "31.11.2026" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 0
        assert db.session.get(Subscription, subscription_id).status == "active"
    # Explicitly allowed (tests, benchmarks): it runs, and the LOG says it was ahead of today.
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", tomorrow.isoformat(),
                                                "--allow-future"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        notes = db.session.scalars(select(LogEntry.note).where(LogEntry.operation == "job")).all()
        assert any("ден след днешния" in (note or "") for note in notes), notes
