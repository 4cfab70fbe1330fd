"""Background jobs: in-process without Redis, through real Redis with worker.py."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.audit.jobs import record_heartbeat
from app.core.queue import enqueue, get_queue
from app.extensions import db
from tests.conftest import REDIS_URL, app_config, unavailable

ROOT = Path(__file__).resolve().parents[2]


def heartbeat_notes(app):
    with app.app_context():
        return db.session.scalars(select(LogEntry.note).where(LogEntry.operation == "job")).all()


def test_job_runs_in_process_without_redis(app):
    with app.app_context():
        assert enqueue(record_heartbeat, None, "in-process") is None
    assert heartbeat_notes(app) == ["in-process"]


def redis_or_skip():
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as error:
        unavailable("Redis", error)
    return connection


def test_job_runs_through_redis_in_worker_process(app, database_url):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    queued_app = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    note = f"through redis {queue_name}"
    with queued_app.app_context():
        job = enqueue(record_heartbeat, None, note)
    assert job is not None
    assert heartbeat_notes(app) == []  # queued, not run by the panel

    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        JOB_QUEUE_NAME=queue_name,
        SECRET_KEY="test-secret-key-for-the-test-suite-only",
    )
    worker = subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert heartbeat_notes(app) == [note]
    job.refresh()
    assert job.get_status() == "finished"


def test_worker_refuses_to_start_without_redis(database_url):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, SECRET_KEY="test-secret-key-for-the-test-suite-only")
    worker = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert worker.returncode != 0
    assert "REDIS_URL" in worker.stderr


def test_a_job_queued_first_goes_before_the_jobs_waiting(app, database_url):
    """The e-mails of a billing cycle's chunk (queue_mails) are taken before the run's chunks still waiting."""
    connection = redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    queued_app = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    with queued_app.app_context():
        queue = get_queue()
        try:
            waiting = [enqueue(record_heartbeat, None, f"chunk {number}") for number in range(2)]
            first = enqueue(record_heartbeat, None, "mail", first=True)
            assert queue.job_ids == [first.id] + [job.id for job in waiting]
        finally:
            queue.empty()
    assert connection.llen(f"rq:queue:{queue_name}") == 0
