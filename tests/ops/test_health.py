"""/healthz, /readyz and /metrics as a load balancer and Prometheus use them: no login, no data, machine keys."""
import time

import pytest
import redis
from sqlalchemy import text

from app import create_app
from app.core.queue import enqueue
from app.extensions import db
from app.protection.models import AllowedAddress
from tests.conftest import REDIS_URL, app_config, unavailable


def _job(actor):  # queued only, never run: what the queue's gauges count
    pass


def test_health_and_readiness_answer_without_login_and_say_nothing_but_states(app):
    client = app.test_client()
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready",
                          "checks": {"database": "ok", "redis": "not_configured", "migrations": "ok"}}
    assert ready.headers["Cache-Control"] == "no-store"


def test_the_protection_list_does_not_hide_them_from_a_load_balancer(app):
    with app.app_context():
        db.session.add(AllowedAddress(network="192.0.2.0/24", comment="офис"))
        db.session.commit()
    balancer = app.test_client()
    balancer.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    assert balancer.get("/clients/list/").status_code == 403  # the panel itself stays closed to it
    assert balancer.get("/healthz").status_code == 200
    assert balancer.get("/readyz").status_code == 200


def test_a_schema_behind_or_ahead_of_the_code_makes_the_panel_unready(app):
    with app.app_context():
        head = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        db.session.commit()
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.json == {"status": "unready",
                               "checks": {"database": "ok", "redis": "not_configured", "migrations": "behind"}}
        # A later release migrated the database: this (old) code steps out of the balancer.
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
            db.session.commit()
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503 and answer.json["checks"]["migrations"] == "ahead"
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            db.session.commit()


def test_redis_is_checked_when_configured(app, database_url):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    with_redis = create_app(app_config(database_url, REDIS_URL=REDIS_URL))
    assert with_redis.test_client().get("/readyz").json["checks"]["redis"] == "ok"

    # Nothing listens on port 1: refused at once. The answer says which check failed, never why or where.
    gone = create_app(app_config(database_url, REDIS_URL="redis://127.0.0.1:1/0", READY_TIMEOUT=1))
    started = time.monotonic()
    answer = gone.test_client().get("/readyz")
    assert time.monotonic() - started < 5
    assert answer.status_code == 503
    assert answer.json == {"status": "unready",
                           "checks": {"database": "ok", "redis": "unreachable", "migrations": "ok"}}
    assert "127.0.0.1" not in answer.text and "Error" not in answer.text


def metric_value(text_format, name, **labels):
    """The value of one sample in Prometheus's text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text_format):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items()):
                return sample.value
    return 0


def test_metrics_need_the_token_and_count_requests_by_route_and_status(app, database_url):
    assert app.test_client().get("/metrics").status_code == 404  # no METRICS_TOKEN: no endpoint at all
    panel = create_app(app_config(database_url, METRICS_TOKEN="scrape-token-1"))
    client = panel.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape = {"Authorization": "Bearer scrape-token-1"}
    before = client.get("/metrics", headers=scrape).text
    for _ in range(3):
        assert client.get("/clients/show/123456789").status_code == 302  # not logged in: to the login page
    client.get("/no-such-page-at-all")
    after = client.get("/metrics", headers=scrape)
    assert after.status_code == 200 and after.headers["Content-Type"].startswith("text/plain")

    def grew(**labels):
        return (metric_value(after.text, "billing_http_requests_total", **labels)
                - metric_value(before, "billing_http_requests_total", **labels))

    assert grew(route="/clients/show/<pk>", method="GET", status="302") == 3
    assert grew(route="unmatched", method="GET", status="404") == 1  # never the raw path
    assert "no-such-page" not in after.text
    assert metric_value(after.text, "billing_http_request_duration_seconds_count",
                        route="/clients/show/<pk>", method="GET") >= 3


def test_metrics_show_the_job_queue_as_redis_holds_it(app, database_url):
    try:
        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        connection.ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    queue_name = "ops-metrics-test"
    panel = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
                                  METRICS_TOKEN="scrape-token-2"))
    from rq import Queue

    Queue(queue_name, connection=connection).empty()
    try:
        with panel.app_context():
            from app.core.actors import SystemActor

            for _ in range(2):
                enqueue(_job, SystemActor("тест"))
        scraped = panel.test_client().get("/metrics", headers={"Authorization": "Bearer scrape-token-2"}).text
        assert metric_value(scraped, "billing_redis_up") == 1
        assert metric_value(scraped, "billing_jobs", queue=queue_name, state="queued") == 2
        assert metric_value(scraped, "billing_jobs", queue=queue_name, state="failed") == 0
    finally:
        Queue(queue_name, connection=connection).empty()

    down = create_app(app_config(database_url, REDIS_URL="redis://127.0.0.1:1/0", READY_TIMEOUT=1,
                                 METRICS_TOKEN="scrape-token-3"))
    scraped = down.test_client().get("/metrics", headers={"Authorization": "Bearer scrape-token-3"})
    assert scraped.status_code == 200 and metric_value(scraped.text, "billing_redis_up") == 0
