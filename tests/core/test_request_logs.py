"""Structured logs (app.core.logs): every panel request has an id, returned in X-Request-ID and carried by each
line logged while it is handled; a hostile incoming id is replaced; a job the request queues carries it to the
worker's lines (worker.py with LOG_FORMAT=json, one JSON object per line)."""
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app import create_app
from app.audit.jobs import record_heartbeat
from app.core import logs
from app.core.queue import enqueue
from tests.conftest import REDIS_URL, app_config
from tests.core.test_jobs import redis_or_skip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """What the process's JSON log would hold: the root logger's records through logs.JsonFormatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_request_s_log_lines_carry_the_id_its_response_returns(app, json_lines):
    client = app.test_client()
    response = client.get("/login/")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    access = [line for line in json_lines() if line["logger"] == "app.request" and line["path"] == "/login/"]
    assert len(access) == 1 and access[0]["request_id"] == request_id and access[0]["status"] == 200

    # A proxy's id (nginx's $request_id) is kept, and a second request gets its own.
    given = client.get("/healthz", headers={"X-Request-ID": "4f2a9c0e-nginx-1"})
    assert given.headers["X-Request-ID"] == "4f2a9c0e-nginx-1"
    other = client.get("/healthz")
    assert other.headers["X-Request-ID"] not in (request_id, "4f2a9c0e-nginx-1")
    ids = [line["request_id"] for line in json_lines() if line["logger"] == "app.request"]
    assert ids == [request_id, "4f2a9c0e-nginx-1", other.headers["X-Request-ID"]]

    assert logs.current_request_id() is None  # nothing leaks out of a request


def test_a_line_logged_while_handling_the_request_has_its_id(database_url, json_lines):
    # /readyz logs a warning when Redis does not answer (nothing listens on port 1).
    panel = create_app(app_config(database_url, REDIS_URL="redis://127.0.0.1:1/0", READY_TIMEOUT=0.5))
    response = panel.test_client().get("/readyz")
    assert response.status_code == 503
    warning = [line for line in json_lines() if line["message"] == "readiness: Redis did not answer"]
    assert len(warning) == 1 and warning[0]["request_id"] == response.headers["X-Request-ID"]
    assert "ConnectionError" in warning[0]["exception"] and warning[0]["level"] == "WARNING"


@pytest.mark.parametrize("hostile", ["abc\nFORGED log line", "a" * 500, "<script>", "id with spaces", ""])
def test_a_hostile_request_id_is_replaced(app, json_lines, hostile):
    # As the WSGI server hands it over (the test client itself refuses a newline in a header).
    response = app.test_client().get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": hostile})
    request_id = response.headers["X-Request-ID"]
    assert request_id != hostile and re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = json_lines()
    assert [line["request_id"] for line in lines if line["logger"] == "app.request"] == [request_id]
    assert not any("FORGED" in json.dumps(line) for line in lines)


def test_a_job_queued_during_a_request_logs_its_id_in_the_worker(app, database_url):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    panel = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    with panel.test_request_context("/healthz", headers={"X-Request-ID": "req-from-the-panel-42"}):
        panel.preprocess_request()  # the request's hooks, as the panel runs them
        job = enqueue(record_heartbeat, None, "a job with a request id")
        response = panel.process_response(panel.response_class())
    assert response.headers["X-Request-ID"] == "req-from-the-panel-42"
    assert job.meta["request_id"] == "req-from-the-panel-42"

    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only", LOG_FORMAT="json")
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    output = [line for line in (worker.stdout + worker.stderr).splitlines() if line.strip()]
    lines = [json.loads(line) for line in output]  # every line is one JSON object
    of_the_job = [line for line in lines if line.get("job_id") == job.id]
    assert of_the_job and all(line["request_id"] == "req-from-the-panel-42" for line in of_the_job)
    assert any("Job OK" in line["message"] for line in of_the_job), of_the_job
    assert not any(line.get("request_id") for line in lines if line.get("job_id") != job.id)
