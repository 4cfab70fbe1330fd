"""/readyz of a real panel (gunicorn, as docs/deploy/gunicorn.conf.py runs it) over a PostgreSQL cluster of the
test's own, stopped and started again; its two workers' request counts summed in /metrics.

The cluster is made by initdb in a temporary folder and served on a free
port (never the shared server); as root, its commands run as the postgres
user, which initdb requires.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import unavailable

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(command):
    """`command` as the postgres user when the tests run as root (initdb and postgres refuse root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    def __init__(self, folder, port):
        self.folder, self.port = folder, port
        self.data = folder / "data"

    def run(self, *command):
        subprocess.run(as_postgres([str(PG_BIN / command[0]), *command[1:]]), check=True, capture_output=True,
                       timeout=120)

    def start(self):
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                 "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def cluster():
    if not (PG_BIN / "initdb").exists():
        unavailable("PostgreSQL's initdb", f"not in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="billing-readyz-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    own = Cluster(folder, free_port())
    own.run("initdb", "-D", str(own.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    own.start()
    own.run("createdb", "-h", "127.0.0.1", "-p", str(own.port), "-U", "postgres", "billing")
    yield own
    try:
        own.stop("immediate")
    except subprocess.CalledProcessError:
        pass  # stopped already
    shutil.rmtree(folder, ignore_errors=True)


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(port, status, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = readyz(port)
        except OSError:
            answer = None
        if (answer and answer[0] == status) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def scrape(port, token):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read().decode()


def test_readyz_follows_the_database_and_its_migrations(cluster, tmp_path):
    from tests.ops.test_health import metric_value

    url = f"postgresql://postgres@127.0.0.1:{cluster.port}/billing"
    web_port = free_port()
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="readyz-test", READY_TIMEOUT="1", CYCLE_SCHEDULE="0",
               PYTHONUNBUFFERED="1", GUNICORN_BIND=f"127.0.0.1:{web_port}", GUNICORN_WORKERS="2",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), METRICS_TOKEN="readyz-scrape")
    env.pop("REDIS_URL", None)
    panel = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "docs/deploy/gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "gunicorn.log", "w"))
    try:
        # Code newer than the schema (nothing migrated yet): alive, not ready.
        answer = wait_for(web_port, 503, seconds=60)
        assert answer and answer[0] == 503, (tmp_path / "gunicorn.log").read_text()[-3000:]
        assert '"migrations":"behind"' in answer[1] and '"database":"ok"' in answer[1]

        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=600)
        assert readyz(web_port)[0] == 200

        cluster.stop()
        started = time.monotonic()
        status, body = readyz(web_port)
        assert status == 503 and time.monotonic() - started < 5
        assert '"database":"unreachable"' in body and '"status":"unready"' in body
        assert "127.0.0.1" not in body and str(cluster.port) not in body  # where, or why: only in the log
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=10) as alive:
            assert alive.status == 200  # the process is fine: a supervisor must not restart it

        cluster.start()
        assert wait_for(web_port, 200, seconds=30)[0] == 200

        # Two workers answer; whichever answers the scrape, it counts both workers' requests.
        for _ in range(20):
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=10).close()
        for _ in range(4):
            scraped = scrape(web_port, "readyz-scrape")
            assert metric_value(scraped, "billing_http_requests_total", route="/healthz", status="200") == 21
    finally:
        panel.terminate()
        panel.wait(timeout=20)
