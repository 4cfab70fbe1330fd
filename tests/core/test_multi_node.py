"""Several machines, one PostgreSQL and one Redis: two gunicorn panels (each with its own empty instance folder),
two workers, one cron scheduler, one RADIUS server, and a NAS.

An export asked through panel A is downloaded through panel B (logged in through A: the session is the
browser's, not a panel's); the cron's nightly check has the workers run the day's cycle once, and the overdue
subscriber it suspends is disconnected at the NAS once; a suspension made through panel B disconnects the
subscriber at the NAS and the RADIUS server refuses the next login; with one worker killed, the other does
what is asked next, and nothing acknowledged is lost.
"""
import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import requests
from pyrad import packet as radius_packet
from sqlalchemy import select

from app import create_app
from app.billing.models import BillingRun
from app.billing.periods import add_months
from app.clients.models import Subscription
from app.core.formatting import local_today, utcnow
from app.extensions import db
from app.radius.models import Nas, RadiusSession
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, REDIS_URL, app_config, migrate_and_prepare
from tests.core.test_jobs import redis_or_skip
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import make_client, make_service, make_subscription
from tests.radius.test_disconnect import SECRET, NasListener
from tests.radius.test_radius import ROOT, access, free_port

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subscriber(nas, name, username, session_id, paid_until):
    """A subscriber online on `nas`; its subscription's id."""
    service = make_service(f"Интернет {username}", username_type="radius")
    service.warning_days, service.tolerance_days = 0, 0
    service.simultaneous_use = 0  # the open session does not refuse the login: only a suspension does
    subscription = make_subscription(make_client(None, name), service, activation_date=add_months(local_today(), -6),
                                     paid_until=paid_until, username=username, password="parola-123")
    now = utcnow()
    db.session.add(RadiusSession(nas=nas, acct_session_id=session_id, username=username,
                                 subscription_id=subscription.id, started_at=now, updated_at=now))
    db.session.commit()
    return subscription.id


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"waited {seconds} s for {what}")


def csrf(session, url):
    page = session.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return CSRF.search(page.text).group(1)


@pytest.mark.once
def test_two_panels_two_workers_a_cron_and_radius_share_one_database_and_redis(tmp_path):
    redis_or_skip()
    url = fresh_postgres_database("billing_multi_node_test")
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    listener = NasListener(radius_packet.DisconnectACK)
    with app.app_context():
        nas = Nas(name="NAS на възела", ip_address="127.0.0.1", secret=SECRET.decode(), coa_port=listener.port)
        db.session.add(nas)
        paying_id = subscriber(nas, "Иван Редовен", "ivan", "sess-ivan", local_today() + timedelta(days=300))
        overdue_id = subscriber(nas, "Петър Длъжников", "dlajnikov", "sess-petar", local_today() - timedelta(days=60))
        paying_client_id = db.session.get(Subscription, paying_id).client_id
        db.session.remove()
        db.engine.dispose()

    queue_name = f"nodes-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name, PYTHONUNBUFFERED="1",
               SECRET_KEY="test-secret-key-for-the-test-suite-only", CYCLE_TIME="00:00", RADIUS_NAS_REFRESH="1")
    processes, logs = {}, {}

    def start(name, command, **extra):
        logs[name] = open(tmp_path / f"{name}.log", "w+")
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=dict(env, **extra), stdout=logs[name],
                                           stderr=subprocess.STDOUT, text=True)

    def log_of(name):
        logs[name].flush()
        return (tmp_path / f"{name}.log").read_text()[-3000:]

    panels = {}
    for name in ("a", "b"):
        instance = tmp_path / f"instance-{name}"
        instance.mkdir()
        port = tcp_port()
        panels[name] = (f"http://127.0.0.1:{port}", instance)
        start(f"panel-{name}", [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                                "app:create_app()"], INSTANCE_PATH=str(instance))
    for name in ("worker-1", "worker-2"):
        start(name, [sys.executable, "worker.py"])
    auth_port, acct_port = free_port(), free_port()
    start("radius", [sys.executable, "-m", "flask", "--app", "app", "radius", "serve", "--host", "127.0.0.1",
                     "--auth-port", str(auth_port), "--acct-port", str(acct_port)])
    try:
        panel_a, panel_b = panels["a"][0], panels["b"][0]
        for name, base in (("panel-a", panel_a), ("panel-b", panel_b)):
            wait_for(lambda base=base: _answers(base + "/login/"), 60, f"{name}: {log_of(name)}")
        browser = requests.Session()
        login = browser.post(panel_a + "/login/", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD,
                                                        "csrf_token": csrf(browser, panel_a + "/login/")},
                             allow_redirects=False)
        assert login.status_code == 302

        # An export asked through A, followed and downloaded through B.
        asked = browser.post(panel_a + "/exports/start", allow_redirects=False,
                             data={"source": "list:ClientView", "fmt": "csv", "query": "",
                                   "csrf_token": csrf(browser, panel_a + "/reports/revenue/")})
        assert asked.status_code == 302, asked.text[:500]
        page = asked.headers["Location"].replace(panel_a, "")
        status = wait_for(lambda: _done(browser.get(panel_b + page + "/status").json()), 60,
                          f"the export: {log_of('worker-1')} {log_of('worker-2')}")
        download = browser.get(panel_b + status["download"].replace(panel_a, ""))
        assert download.status_code == 200
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
        assert sorted(row[1] for row in rows[1:]) == ["Иван Редовен", "Петър Длъжников"]

        # The cron queues the nightly check at its start (the cycle is due at 00:00): the workers run it once.
        start("cron", [sys.executable, "worker.py", "--cron"])
        wait_for(lambda: any(packet["Acct-Session-Id"] == "sess-petar" for packet in listener.received), 90,
                 f"the cycle's disconnect: {log_of('cron')} {log_of('worker-1')} {log_of('worker-2')}")

        # A suspension through B: the NAS is told to disconnect; the RADIUS server refuses the next login.
        assert access_code(auth_port, acct_port, "ivan") == radius_packet.AccessAccept
        suspended = browser.post(panel_b + f"/subscriptions/status/{paying_id}", allow_redirects=False,
                                 data={"status": "suspended", "reason": "по молба на клиента",
                                       "csrf_token": csrf(browser, panel_b + f"/clients/show/{paying_client_id}")})
        assert suspended.status_code == 302, suspended.text[:500]
        wait_for(lambda: any(packet["Acct-Session-Id"] == "sess-ivan" for packet in listener.received), 60,
                 f"the suspension's disconnect: {log_of('worker-1')} {log_of('worker-2')}")
        wait_for(lambda: access_code(auth_port, acct_port, "ivan") == radius_packet.AccessReject, 30,
                 f"RADIUS to refuse the suspended login: {log_of('radius')}")

        # One worker killed: the other takes what is asked next; what was acknowledged is all there.
        processes["worker-1"].send_signal(signal.SIGKILL)
        processes["worker-1"].wait(timeout=10)
        again = browser.post(panel_b + "/exports/start", allow_redirects=False,
                             data={"source": "list:ClientView", "fmt": "xlsx", "query": "",
                                   "csrf_token": csrf(browser, panel_b + "/reports/revenue/")})
        assert again.status_code == 302
        second = again.headers["Location"].replace(panel_b, "")
        wait_for(lambda: _done(browser.get(panel_a + second + "/status").json()), 60,
                 f"the second export: {log_of('worker-2')}")
        assert browser.get(panel_a + second + "/download").content[:2] == b"PK"  # an XLSX (a zip)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        listener.close()
        for log in logs.values():
            log.close()

    with app.app_context():
        runs = db.session.scalars(select(BillingRun).where(BillingRun.scheduled_day.isnot(None))).all()
        assert [run.scheduled_day for run in runs] == [local_today()]
        assert db.session.get(Subscription, overdue_id).status == "suspended"
        assert db.session.get(Subscription, paying_id).status == "suspended"
        db.session.remove()
        db.engine.dispose()
    # Each disconnect sent once, by whichever worker ran it.
    assert sorted(packet["Acct-Session-Id"] for packet in listener.received) == ["sess-ivan", "sess-petar"]
    # Nothing was written to either panel's own folder.
    assert [list(instance.iterdir()) for _base, instance in panels.values()] == [[], []]


def _answers(url):
    try:
        return requests.get(url, timeout=10).status_code == 200
    except requests.RequestException:  # not listening yet, or still loading
        return False


def _done(status):
    assert status["status"] != "failed", status
    return status if status["status"] == "done" else None


def access_code(auth_port, acct_port, username):
    """The RADIUS server's answer to a PAP login of `username`."""
    server = type("Server", (), {"auth_port": auth_port, "acct_port": acct_port})
    return access(server, username, "parola-123", secret=SECRET).code
