"""Duties done once across processes: a claim per (duty, period); periodic jobs queued by two schedulers run once
per interval; the RADIUS servers' daily purge is done by one of them."""
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import BillingRun
from app.core import duties
from app.core.counters import Counter
from app.core.formatting import utcnow
from app.core.queue import run_periodic
from app.core.transaction import unit_of_work
from app.extensions import db
from app.radius.models import RadiusSession
from tests.conftest import REDIS_URL, app_config, migrate_and_prepare
from tests.core.test_jobs import redis_or_skip
from tests.core.test_migrations import fresh_postgres_database
from tests.radius.test_radius import nas, start_server, stop_server, subscriber

ROOT = Path(__file__).resolve().parents[2]


def count_a_run():
    """A periodic job for the tests: counts its runs in a counter row."""
    with unit_of_work():
        counter = db.session.get(Counter, "test-periodic-runs")
        if counter is None:
            db.session.add(Counter(name="test-periodic-runs", value=1))
        else:
            counter.value += 1


def runs():
    return db.session.scalar(select(Counter.value).where(Counter.name == "test-periodic-runs")) or 0


def test_of_several_claimers_at_once_exactly_one_gets_the_duty(app):
    results, start = [], threading.Barrier(4)

    def claimer():
        with app.app_context():
            start.wait()
            results.append(duties.claim("proba", "2026-12-07"))
            db.session.remove()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    with app.app_context():
        assert duties.claim("proba", "2026-12-08")  # the next period is free again
        assert not duties.claim("proba", "2026-12-08")


def test_a_periodic_job_queued_twice_in_an_interval_runs_once_and_again_in_the_next(app, monkeypatch):
    monkeypatch.setitem(app.extensions["periodic_jobs"], "test-periodic", (count_a_run, 5))
    moment = datetime(2026, 12, 7, 10, 1)
    with app.app_context():
        assert run_periodic("test-periodic", now=moment) is True
        assert run_periodic("test-periodic", now=moment + timedelta(minutes=3)) is False  # another scheduler
        assert runs() == 1
        assert run_periodic("test-periodic", now=moment + timedelta(minutes=5)) is True
        assert runs() == 2


def test_two_radius_processes_purge_old_sessions_once_a_day(app):
    with app.app_context():
        record = nas()
        subscription_id = subscriber()
        old = utcnow() - timedelta(days=200)
        db.session.add(RadiusSession(nas_id=record.id, acct_session_id="old", username="ivan",
                                     subscription_id=subscription_id, started_at=old, updated_at=old,
                                     stopped_at=old + timedelta(hours=1)))
        db.session.commit()
    server = start_server(app, processes=2, RADIUS_HOUSEKEEPING="0.2")
    try:
        time.sleep(2)
    finally:
        stop_server(server)
    with app.app_context():
        assert db.session.query(RadiusSession).count() == 0
        assert db.session.query(LogEntry).filter(LogEntry.operation == "job").count() == 1
        claims = db.session.scalars(select(duties.DutyClaim).where(duties.DutyClaim.duty == "radius-purge")).all()
        assert [claim.period for claim in claims] == [utcnow().date().isoformat()]


@pytest.mark.once
def test_two_cron_schedulers_at_once_have_each_periodic_job_run_once():
    """Two `worker.py --cron` (two machines, so the schedule outlives one) queue every job; the workers run each
    once: the nightly cycle's check starts the day's run once, whoever queued it."""
    from rq import Queue

    connection = redis_or_skip()
    url = fresh_postgres_database("billing_duties_cron_test")
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    queue_name = f"test-cron-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only", CYCLE_TIME="00:00")
    queue = Queue(queue_name, connection=connection)
    schedulers = [subprocess.Popen([sys.executable, "worker.py", "--cron"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while queue.count < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for scheduler in schedulers:
            scheduler.terminate()
            scheduler.wait(timeout=30)
    names = sorted(job.args[0] for job in queue.get_jobs())
    assert names == ["billing-cycle-schedule", "billing-cycle-schedule", "epay-expire-requests",
                     "epay-expire-requests"], [scheduler.stderr.read()[-2000:] for scheduler in schedulers]
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with app.app_context():
        claims = db.session.scalars(select(duties.DutyClaim.duty).order_by(duties.DutyClaim.duty)).all()
        assert claims == ["billing-cycle-schedule", "epay-expire-requests"]
        assert db.session.query(BillingRun).filter(BillingRun.scheduled_day.isnot(None)).count() == 1
        db.session.remove()
        db.engine.dispose()
