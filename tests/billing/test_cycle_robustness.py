"""Never twice: two runs of a day at once, and a worker killed halfway followed by a rerun."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import BillingRun, CycleEffect
from app.clients.models import Subscription
from app.extensions import db
from app.notifications.models import Notification
from tests.billing.test_cycle import mails, subscriber
from tests.conftest import REDIS_URL, app_config, migrate_and_prepare
from tests.core.test_jobs import ROOT, redis_or_skip
from tests.core.test_migrations import fresh_postgres_database

DAY = date(2026, 12, 1)


def debtors(overdue, to_warn):
    """`overdue` subscribers past their tolerance and `to_warn` inside their warning window on DAY."""
    ids = [subscriber(f"Длъжник {n}", f"overdue{n}@example.bg", paid_until=date(2026, 11, 20), tolerance_days=3)[1]
           for n in range(overdue)]
    ids += [subscriber(f"Предупреден {n}", f"warned{n}@example.bg", paid_until=date(2026, 12, 3), warning_days=5)[1]
            for n in range(to_warn)]
    return ids


def final_state(app):
    """What a user can see after the runs: statuses, effects per subscription and kind, mails, LOG lines."""
    with app.app_context():
        statuses = dict(db.session.execute(select(Subscription.id, Subscription.status)).all())
        effects = db.session.execute(select(CycleEffect.subscription_id, CycleEffect.kind, func.count())
                                     .group_by(CycleEffect.subscription_id, CycleEffect.kind)).all()
        notifications = db.session.scalars(select(Notification.recipient).order_by(Notification.recipient)).all()
        suspensions_logged = db.session.scalar(select(func.count()).select_from(LogEntry).where(
            LogEntry.entity_type == "Subscription", LogEntry.operation == "update",
            LogEntry.username.like("билинг цикъл%")))
        db.session.remove()
    return statuses, sorted(effects), notifications, suspensions_logged


@pytest.mark.once
def test_two_runs_of_the_same_day_at_once_act_once_on_postgresql(tmp_path):
    url = fresh_postgres_database("billing_cycle_test")
    app = create_app(app_config(url, MAIL_SERVER=None, MAIL_OUTBOX=str(tmp_path / "outbox")))
    migrate_and_prepare(app)
    try:
        with app.app_context():
            debtors(8, 8)
        start, errors = threading.Barrier(2), []

        def run():
            start.wait()
            result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", DAY.isoformat(), "--allow-future"])
            if result.exit_code != 0:
                errors.append(result.output + repr(result.exception))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        statuses, effects, notifications, logged = final_state(app)
        assert sorted(statuses.values()) == ["active"] * 8 + ["suspended"] * 8
        assert all(count == 1 for _subscription, _kind, count in effects) and len(effects) == 16
        assert len(notifications) == 8 == len(set(notifications))
        assert len(mails(tmp_path / "outbox")) == 8
        assert logged == 8
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 2
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_worker_killed_halfway_then_a_rerun_ends_as_an_uninterrupted_run(app, database_url, outbox):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    settings = dict(REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name, CYCLE_CHUNK=1, MAIL_SERVER=None,
                    MAIL_OUTBOX=str(outbox))
    queued_app = create_app(app_config(database_url, **settings))
    with app.app_context():
        debtors(30, 30)
    result = queued_app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", DAY.isoformat(), "--allow-future"])
    assert result.exit_code == 0, result.output
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only", CYCLE_CHUNK="1", MAIL_OUTBOX=str(outbox))
    env.pop("MAIL_SERVER", None)
    # Its own process group: the worker and RQ's scheduler process beside it die together, as with a crashed machine.
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and done < 10:
            with app.app_context():
                done = db.session.scalar(select(BillingRun.done)) or 0
                db.session.remove()
            time.sleep(0.01)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    with app.app_context():
        interrupted = db.session.scalar(select(BillingRun))
        assert interrupted.status == "running" and 10 <= interrupted.done < interrupted.total == 60
        db.session.remove()

    # The office runs the day again (here without Redis: in this process); it finishes what was left.
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", DAY.isoformat(), "--allow-future"])
    assert result.exit_code == 0, result.output
    # The mail the killed worker's chunks queued waits on Redis; a worker sends it when it is back.
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]

    statuses, effects, notifications, logged = final_state(app)
    assert sorted(statuses.values()) == ["active"] * 30 + ["suspended"] * 30
    assert all(count == 1 for _subscription, _kind, count in effects) and len(effects) == 60
    assert len(notifications) == 30 == len(set(notifications))
    assert logged == 30
    with app.app_context():
        outcome = dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    # At most one message was being written when the worker died: it is left "sending" for a person, never resent.
    assert outcome.get("sent", 0) + outcome.get("sending", 0) == 30 and outcome.get("sending", 0) <= 1
    written = [message["To"] for message in mails(outbox)]
    assert len(written) == len(set(written)) and outcome["sent"] <= len(written) <= 30
