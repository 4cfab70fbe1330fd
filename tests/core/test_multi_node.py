"""Several machines, one PostgreSQL and one Redis: two gunicorn panels (each with its own empty instance folder),
two workers, one cron scheduler, two RADIUS servers (as on two hosts), and a NAS.

An export asked through panel A is downloaded through panel B (logged in through A: the session is the
browser's, not a panel's); the cron's nightly check has the workers run the day's cycle once, and the overdue
subscriber it suspends is disconnected at the NAS once; a suspension made through panel B disconnects the
subscriber at the NAS and the RADIUS servers refuse the next login. Then, mid-way, one panel, the worker
holding a job and one RADIUS server are killed (SIGKILL: a machine lost): nothing any of them acknowledged is
lost — an export asked through the killed panel, the accounting the killed RADIUS server answered — and the
survivors carry on: the other panel serves a new export, the other worker finishes the killed one's job
(worker.py: its heartbeat stopped, the job is queued again), the other RADIUS server takes the NAS's
accounting and answers its logins.
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
from pyrad.client import Timeout
from rq import Queue
from sqlalchemy import select

from app import create_app
from app.billing.models import BillingRun
from app.billing.periods import add_months
from app.clients.models import Subscription
from app.core.formatting import local_today, utcnow
from app.extensions import db
from app.core.queue import run_job
from app.radius.models import Nas, RadiusSession
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, REDIS_URL, app_config, migrate_and_prepare
from tests.core.test_jobs import redis_or_skip
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import make_client, make_service, make_subscription
from tests.radius.test_disconnect import SECRET, NasListener
from tests.core.multi_node_jobs import hold_until_killed
from tests.radius.test_radius import ROOT, access, accounting, client, free_port

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
    redis = redis_or_skip()
    url = fresh_postgres_database("billing_multi_node_test")
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    listener = NasListener(radius_packet.DisconnectACK)
    with app.app_context():
        nas = Nas(name="NAS на възела", ip_address="127.0.0.1", secret=SECRET.decode(), coa_port=listener.port)
        db.session.add(nas)
        paying_id = subscriber(nas, "Иван Редовен", "ivan", "sess-ivan", local_today() + timedelta(days=300))
        overdue_id = subscriber(nas, "Петър Длъжников", "dlajnikov", "sess-petar", local_today() - timedelta(days=60))
        subscriber(nas, "Мария Точна", "maria", "sess-maria", local_today() + timedelta(days=300))
        paying_client_id = db.session.get(Subscription, paying_id).client_id
        db.session.remove()
        db.engine.dispose()

    queue_name = f"nodes-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name, PYTHONUNBUFFERED="1",
               SECRET_KEY="test-secret-key-for-the-test-suite-only", CYCLE_TIME="00:00", RADIUS_NAS_REFRESH="1",
               JOB_ABANDONED_SECONDS="10")
    processes, logs = {}, {}

    def start(name, command, **extra):
        logs[name] = open(tmp_path / f"{name}.log", "w+")
        # A session of its own: a "machine lost" kills the process with its children (gunicorn's worker).
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=dict(env, **extra), stdout=logs[name],
                                           stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def lose(name):
        """The machine of `name` lost: SIGKILL to the process and its children, no clean shutdown."""
        os.killpg(processes[name].pid, signal.SIGKILL)
        processes[name].wait(timeout=10)

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
    radius_ports = {}
    for name in ("radius-1", "radius-2"):
        auth_port, acct_port = radius_ports[name] = free_port(), free_port()
        start(name, [sys.executable, "-m", "flask", "--app", "app", "radius", "serve", "--host", "127.0.0.1",
                     "--auth-port", str(auth_port), "--acct-port", str(acct_port)])
    acknowledged, stored_by = [], {}
    held = f"held-{uuid.uuid4().hex[:8]}"
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
        assert sorted(row[1] for row in rows[1:]) == ["Иван Редовен", "Мария Точна", "Петър Длъжников"]

        # The cron queues the nightly check at its start (the cycle is due at 00:00): the workers run it once.
        start("cron", [sys.executable, "worker.py", "--cron"])
        wait_for(lambda: any(packet["Acct-Session-Id"] == "sess-petar" for packet in listener.received), 90,
                 f"the cycle's disconnect: {log_of('cron')} {log_of('worker-1')} {log_of('worker-2')}")

        # A suspension through B: the NAS is told to disconnect; the RADIUS servers refuse the next login.
        for ports in radius_ports.values():
            wait_for(lambda ports=ports: access_code(*ports, "ivan", or_none=True) == radius_packet.AccessAccept,
                     30, f"RADIUS to answer: {log_of('radius-1')} {log_of('radius-2')}")
        suspended = browser.post(panel_b + f"/subscriptions/status/{paying_id}", allow_redirects=False,
                                 data={"status": "suspended", "reason": "по молба на клиента",
                                       "csrf_token": csrf(browser, panel_b + f"/clients/show/{paying_client_id}")})
        assert suspended.status_code == 302, suspended.text[:500]
        wait_for(lambda: any(packet["Acct-Session-Id"] == "sess-ivan" for packet in listener.received), 60,
                 f"the suspension's disconnect: {log_of('worker-1')} {log_of('worker-2')}")
        for name, ports in radius_ports.items():
            wait_for(lambda ports=ports: access_code(*ports, "ivan") == radius_packet.AccessReject, 30,
                     f"{name} to refuse the suspended login: {log_of(name)}")

        # Mid-way: a worker holds a job, the NAS sends accounting to radius-1, panel A has just acknowledged
        # an export. Then the three machines are lost.
        Queue(queue_name, connection=redis).enqueue(run_job, hold_until_killed, (held,), {}, None)
        holder = {process.pid: name for name, process in processes.items() if name.startswith("worker-")}[
            int(wait_for(lambda: redis.lindex(f"{held}:runs", 0), 60, f"a worker to take the job: "
                         f"{log_of('worker-1')} {log_of('worker-2')}"))]
        survivor = "worker-2" if holder == "worker-1" else "worker-1"
        nas_client = client(type("Server", (), {"auth_port": radius_ports["radius-1"][0],
                                                "acct_port": radius_ports["radius-1"][1]}), secret=SECRET)
        nas_client.retries = 3  # a NAS retransmits; a retransmit lands on the same session
        for number in range(10):
            try:
                accounting(None, "Start", session_id=f"mid-{number}", username="gost", radius_client=nas_client)
            except Timeout:
                raise AssertionError(f"radius-1 does not answer accounting: {log_of('radius-1')}") from None
            acknowledged.append(f"mid-{number}")
        asked_of_a = browser.post(panel_a + "/exports/start", allow_redirects=False,
                                  data={"source": "list:ClientView", "fmt": "csv", "query": "",
                                        "csrf_token": csrf(browser, panel_a + "/reports/revenue/")})
        assert asked_of_a.status_code == 302
        lose("panel-a")
        lose(holder)
        lose("radius-1")

        # The NAS's accounting: what radius-1 no longer answers goes to radius-2 (a NAS's failover).
        nas_client.retries = 1
        for number in range(10, 20):
            try:
                accounting(None, "Start", session_id=f"mid-{number}", username="gost", radius_client=nas_client)
            except Timeout:
                stored_by["radius-2"] = number
                nas_client = client(type("Server", (), {"auth_port": radius_ports["radius-2"][0],
                                                        "acct_port": radius_ports["radius-2"][1]}),
                                    secret=SECRET, retries=3)
                accounting(None, "Start", session_id=f"mid-{number}", username="gost", radius_client=nas_client)
            acknowledged.append(f"mid-{number}")
        assert stored_by == {"radius-2": 10}  # radius-1 was dead from the first packet after its loss
        # radius-2 answers logins: the paying subscriber in, the suspended one out.
        assert access_code(*radius_ports["radius-2"], "maria") == radius_packet.AccessAccept
        assert access_code(*radius_ports["radius-2"], "ivan") == radius_packet.AccessReject

        # Panel B carries on: the export panel A acknowledged, and a new one asked of B, both downloaded.
        with pytest.raises(requests.ConnectionError):
            requests.get(panel_a + "/healthz", timeout=5)
        first = asked_of_a.headers["Location"].replace(panel_a, "")
        wait_for(lambda: _done(browser.get(panel_b + first + "/status").json()), 60,
                 f"the export asked of panel A: {log_of(survivor)}")
        assert browser.get(panel_b + first + "/download").status_code == 200
        again = browser.post(panel_b + "/exports/start", allow_redirects=False,
                             data={"source": "list:ClientView", "fmt": "xlsx", "query": "",
                                   "csrf_token": csrf(browser, panel_b + "/reports/revenue/")})
        assert again.status_code == 302
        second = again.headers["Location"].replace(panel_b, "")
        wait_for(lambda: _done(browser.get(panel_b + second + "/status").json()), 60,
                 f"the second export: {log_of(survivor)}")
        assert browser.get(panel_b + second + "/download").content[:2] == b"PK"  # an XLSX (a zip)

        # The job the lost worker held: its heartbeat stopped, it is queued again and the survivor finishes it.
        done_by = wait_for(lambda: redis.get(f"{held}:done"), 60, f"the held job to be run again: {log_of(survivor)}")
        assert int(done_by) == processes[survivor].pid
        assert [int(pid) for pid in redis.lrange(f"{held}:runs", 0, -1)] == [processes[holder].pid,
                                                                              processes[survivor].pid]
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
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
        # Every accounting packet acknowledged — by radius-1 before its loss, by radius-2 after — is stored.
        stored = set(db.session.scalars(select(RadiusSession.acct_session_id).where(
            RadiusSession.username == "gost")))
        assert stored == set(acknowledged) == {f"mid-{number}" for number in range(20)}
        db.session.remove()
        db.engine.dispose()
    # Each disconnect sent once, by whichever worker ran it.
    assert sorted(packet["Acct-Session-Id"] for packet in listener.received) == ["sess-ivan", "sess-petar"]
    redis.delete(f"{held}:runs", f"{held}:done")
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


def access_code(auth_port, acct_port, username, or_none=False):
    """The RADIUS server's answer to a PAP login of `username` (with `or_none`, None when it does not answer)."""
    server = type("Server", (), {"auth_port": auth_port, "acct_port": acct_port})
    try:
        return access(server, username, "parola-123", secret=SECRET).code
    except Timeout:
        if or_none:
            return None
        raise
