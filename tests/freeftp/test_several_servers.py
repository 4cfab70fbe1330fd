"""FTP on several machines: two `flask freeftp serve` processes on one database share an account's sessions,
a process killed stops counting after a few beats, and a server that cannot reach its folders does not start.

Each server is a process of its own (as on two machines), reached with ftplib; the database is the run's
(SQLite: its file, shared; PostgreSQL: TEST_DATABASE_URL).
"""
import ftplib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.freeftp.models import FreeFtpSession
from tests.freeftp.conftest import configure
from tests.freeftp.test_server import PASSWORD, _account
from tests.ops.test_radius_metrics import free_tcp_port
from tests.radius.test_radius import ROOT

BEAT = 1.0  # seconds: FREEFTP_SESSION_BEAT of the servers started here; a process unseen for 3 beats is dead
TOO_MANY = "530 Твърде много връзки за този акаунт."


def _environment(app, beat=BEAT):
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="ftp-several-servers",
               PYTHONUNBUFFERED="1", CYCLE_SCHEDULE="0", FREEFTP_SESSION_BEAT=str(beat),
               FREEFTP_AUTH_FAILED_DELAY="0.05", FREEFTP_PASSIVE_PORTS="", FREEFTP_METRICS_ADDRESS="")
    env.pop("REDIS_URL", None)
    return env


def _command(port):
    return [sys.executable, "-m", "flask", "--app", "app", "freeftp", "serve", "--host", "127.0.0.1",
            "--port", str(port)]


@pytest.fixture
def start_server(app):
    """Starts `flask freeftp serve` processes on free ports (each one's port returned); all stopped after."""
    processes = []

    def start(beat=BEAT):
        port = free_tcp_port()
        process = subprocess.Popen(_command(port), cwd=ROOT, env=_environment(app, beat), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        processes.append(process)
        line = process.stdout.readline()
        assert "FTP on 127.0.0.1" in line, process.stderr.read()
        return port, process

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)
        process.stdout.close()
        process.stderr.close()


def _login(port):
    ftp = ftplib.FTP(timeout=20, encoding="utf-8")
    ftp.connect("127.0.0.1", port)
    ftp.login("gosho", PASSWORD)
    return ftp


def _refused(port):
    with pytest.raises(ftplib.error_perm) as refused:
        _login(port)
    return str(refused.value)


def _login_within(port, seconds):
    """A login that succeeds within `seconds` (what a client retrying sees), and after how long."""
    started = time.monotonic()
    while True:
        try:
            return _login(port), time.monotonic() - started
        except ftplib.error_perm as error:
            if time.monotonic() - started > seconds:
                raise AssertionError(f"still refused after {seconds} s: {error}") from None
            time.sleep(0.05)


def _rows(app, **where):
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(FreeFtpSession).filter_by(**where))
        finally:
            db.session.rollback()


def test_two_servers_share_an_accounts_sessions(app, settings, start_server):
    configure(app, ftp_root=str(settings[0]), homes_root=str(settings[1]), max_sessions=2)
    (settings[0] / "общ.txt").write_text("на всички машини")
    _account(app)
    (port_a, _a), (port_b, _b) = start_server(), start_server()
    first, second = _login(port_a), _login(port_a)
    assert second.nlst() == ["общ.txt"]
    # The third session goes to the other machine: still the account's third, refused in Bulgarian.
    assert _refused(port_b) == TOO_MANY
    assert _refused(port_a) == TOO_MANY
    assert _rows(app) == 2
    first.quit()
    third, waited = _login_within(port_b, 2)
    assert third.nlst() == ["общ.txt"]
    assert _refused(port_a) == TOO_MANY
    # Beats keep the open sessions counted past the stale interval (3 beats).
    time.sleep(4 * BEAT)
    assert _refused(port_b) == TOO_MANY
    second.quit()
    third.quit()
    fourth, _waited = _login_within(port_a, 2)
    fourth.quit()


def test_a_killed_servers_sessions_stop_counting_after_a_few_beats(app, settings, start_server):
    configure(app, ftp_root=str(settings[0]), max_sessions=2)
    _account(app)
    (port_a, process_a), (port_b, _b) = start_server(), start_server()
    sessions = [_login(port_a), _login(port_a)]
    assert _refused(port_b) == TOO_MANY
    process_a.send_signal(signal.SIGKILL)  # no goodbye: its rows stay in the database
    process_a.wait(timeout=10)
    killed = time.monotonic()
    assert _rows(app) == 2
    assert _refused(port_b) == TOO_MANY  # right after: its rows are still fresh
    # After 3 beats unseen they no longer count: B lets the account in again, soon after.
    ftp, _waited = _login_within(port_b, 10 * BEAT)
    assert time.monotonic() - killed >= BEAT
    second, _waited = _login_within(port_b, 2)
    assert _refused(port_b) == TOO_MANY
    # The dead process's rows are taken over or purged: only B's two sessions remain.
    deadline = time.monotonic() + 15 * BEAT
    while _rows(app) != 2 and time.monotonic() < deadline:
        time.sleep(BEAT)
    assert _rows(app) == 2
    ftp.quit()
    second.quit()
    for session in sessions:
        session.close()


def test_a_server_stopped_with_sigterm_frees_its_sessions_at_once(app, settings, start_server):
    configure(app, ftp_root=str(settings[0]), max_sessions=1)
    _account(app)
    (port_a, process_a), (port_b, _b) = start_server(), start_server()
    ftp = _login(port_a)
    assert _refused(port_b) == TOO_MANY
    process_a.terminate()
    process_a.wait(timeout=20)
    assert _rows(app) == 0
    _login(port_b).quit()
    ftp.close()


@pytest.mark.parametrize("limit", [1, 3])
def test_simultaneous_logins_on_two_servers_never_exceed_the_limit(app, settings, start_server, limit):
    """Many clients send their password at the same moment, half to each server: `limit` get in, the rest
    are told there are too many sessions (on PostgreSQL, the race the unique slot settles)."""
    configure(app, ftp_root=str(settings[0]), max_sessions=limit)
    _account(app)
    # Beats of 3 s here (a row stale after 9 s): on a loaded machine a login waiting its turn must not be
    # mistaken for a dead process's; staleness has its own test above.
    ports = [start_server(beat=3)[0], start_server(beat=3)[0]]
    clients = 24
    ready = threading.Barrier(clients)
    opened, refused, failed = [], [], []

    def client(number):
        ftp = ftplib.FTP(timeout=30, encoding="utf-8")
        try:
            ftp.connect("127.0.0.1", ports[number % 2])
            ftp.sendcmd("USER gosho")
            ready.wait(timeout=30)
            ftp.sendcmd(f"PASS {PASSWORD}")
            opened.append(ftp)
        except ftplib.error_perm as error:
            refused.append(str(error))
            ftp.close()
        except Exception as error:  # noqa: BLE001 - reported below
            failed.append(repr(error))
            ftp.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failed == []
        assert (len(opened), _rows(app)) == (limit, limit)
        assert refused == [TOO_MANY] * (clients - limit)
        assert _rows(app) == limit
    finally:
        for ftp in opened:
            ftp.close()


def _start_refused(app):
    """`flask freeftp serve` as an operator starts it: its exit code and what it wrote on stderr."""
    result = subprocess.run(_command(free_tcp_port()), cwd=ROOT, env=_environment(app), capture_output=True,
                            text=True, timeout=60)
    return result.returncode, result.stderr


def test_a_server_that_cannot_reach_the_ftp_folder_does_not_start_and_says_which(app, folders):
    public, homes = folders
    missing = public.parent / "не-е-монтирана"
    configure(app, ftp_root=str(missing), homes_root=str(homes))
    code, stderr = _start_refused(app)
    assert code != 0
    assert f"FTP папката {missing} не е достъпна от тази машина: не съществува." in stderr
    assert "FTP сървърът не стартира" in stderr
    assert "Папката с личните папки" not in stderr  # the homes are fine


def test_a_server_whose_homes_are_not_a_folder_does_not_start(app, folders, tmp_path):
    public, _homes = folders
    not_a_folder = tmp_path / "homes.txt"
    not_a_folder.write_text("файл, не папка")
    configure(app, ftp_root=str(public), homes_root=str(not_a_folder))
    code, stderr = _start_refused(app)
    assert code != 0
    assert f"Папката с личните папки на абонаментите {not_a_folder} не е достъпна от тази машина: не е папка." \
        in stderr
    assert "FTP папката" not in stderr


def test_the_embedded_server_does_not_start_without_its_folders(app, folders, monkeypatch, caplog):
    import logging

    from app.freeftp.server import start_embedded

    # The run's migrations (alembic's fileConfig, in this process) switched the module's logger off; run.py's
    # process never migrates (`make run` upgrades first, in a process of its own).
    monkeypatch.setattr(logging.getLogger("app.freeftp.server"), "disabled", False)
    public, homes = folders
    monkeypatch.setitem(app.config, "FREEFTP_EMBEDDED", True)
    monkeypatch.setitem(app.config, "FREEFTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "FREEFTP_PORT", 0)
    missing = homes.parent / "няма-ги"
    configure(app, ftp_root=str(public), homes_root=str(missing))
    assert start_embedded(app) is None
    assert f"Папката с личните папки на абонаментите {missing} не е достъпна от тази машина: не съществува." \
        in caplog.text
    configure(app, ftp_root=str(public), homes_root=str(homes))
    server = start_embedded(app)
    assert server is not None
    with ftplib.FTP(timeout=10) as ftp:
        assert ftp.connect("127.0.0.1", server.address[1]).startswith("220")
    server.close()


def test_the_metrics_count_each_servers_sessions_and_logins(app, settings):
    """What Prometheus reads on an FTP process's side port: its open sessions, and its logins accepted, refused
    (wrong password) and limited (the account's sessions all taken)."""
    from tests.ops.test_radius_metrics import get

    configure(app, ftp_root=str(settings[0]), homes_root=str(settings[1]), max_sessions=2)
    _account(app)
    port, metrics_port = free_tcp_port(), free_tcp_port()
    env = dict(_environment(app), FREEFTP_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}", METRICS_TOKEN="ftp-scrape")
    process = subprocess.Popen(_command(port), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)

    def scraped():
        code, text = get(metrics_port, "/metrics", token="ftp-scrape")
        assert code == 200
        values = {}
        for line in text.splitlines():
            if line.startswith(("billing_ftp_sessions ", "billing_ftp_logins_total{")):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    try:
        assert "FTP on 127.0.0.1" in process.stdout.readline(), process.stderr.read()
        first, second = _login(port), _login(port)
        assert _refused(port) == TOO_MANY
        with pytest.raises(ftplib.error_perm):
            ftp = ftplib.FTP(timeout=20, encoding="utf-8")
            ftp.connect("127.0.0.1", port)
            ftp.login("gosho", "не-е-паролата")
        assert scraped() == {"billing_ftp_sessions": 2.0, 'billing_ftp_logins_total{outcome="accepted"}': 2.0,
                             'billing_ftp_logins_total{outcome="limited"}': 1.0,
                             'billing_ftp_logins_total{outcome="refused"}': 1.0}
        first.quit()
        deadline = time.monotonic() + 10
        while scraped()["billing_ftp_sessions"] != 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scraped()["billing_ftp_sessions"] == 1.0
        second.quit()
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stdout.close()
        process.stderr.close()
