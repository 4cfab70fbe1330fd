"""`flask --app app check-config`: each unsafe setting is named on a line of its own and the exit status is 1;
a production configuration exits 0 saying all is well. Passwords are never printed."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.core.transaction import unit_of_work
from app.extensions import db
from app.protection.models import AllowedAddress
from tests.conftest import REDIS_URL, app_config, migrate_and_prepare, unavailable
from tests.core.test_migrations import fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))


def run_check(tmp_path, **environment):
    """The command as an administrator types it, in a process of its own with only these variables."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "INSTANCE_PATH": str(tmp_path / "instance"), **environment}
    return subprocess.run([FLASK, "--app", "app", "check-config"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_an_unsafe_environment_is_named_line_by_line_and_exits_1(tmp_path):
    # Production without SECRET_KEY: the processes refuse to start, the check still runs and says why.
    result = run_check(tmp_path, BILLING_ENV="production", PUBLIC_BASE_URL="https://billing.example.bg",
                       DATABASE_URL=f"sqlite:///{tmp_path / 'missing.db'}", RATELIMIT_ENABLED="false",
                       METRICS_TOKEN="change-me-too")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    expected = ["SECRET_KEY не е зададен", "DATABASE_URL е SQLite", "REDIS_URL не е зададен",
                "TRUSTED_PROXIES е 0", "RATELIMIT_ENABLED е изключен", "METRICS_TOKEN е стойността от примера",
                "Базата данни", "MAIL_SERVER (SMTP) не е зададен"]
    for words in expected:
        assert sum(words in line for line in lines) == 1, f"{words!r} not on exactly one line:\n{result.stdout}"
    assert lines[-1] == "Опасни: 7, предупреждения: 1 — не е готово за производство.", result.stdout
    assert not (tmp_path / "missing.db").exists()  # the check made no database of its own

    # Development defaults: no DATABASE_URL at all, http on loopback, the example's key.
    result = run_check(tmp_path, SECRET_KEY="change-me-to-64-hex-characters")
    assert result.returncode == 1
    for words in ("BILLING_ENV не е „production“", "SECRET_KEY е стойността от примера",
                  "DATABASE_URL не е зададен", "PUBLIC_BASE_URL (http://127.0.0.1:5000)"):
        assert words in result.stdout, result.stdout
    assert "TRUSTED_PROXIES" not in result.stdout  # no proxy in front of http://127.0.0.1:5000



def test_a_short_secret_key_is_named(database_url):
    short = create_app(app_config(database_url, SECRET_KEY="short-key"))
    result = short.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 1 and "SECRET_KEY е твърде къс (9 знака, поне 32)." in result.output


def test_demo_data_default_passwords_and_an_open_protection_list_are_found(app):
    with app.app_context():
        from app.demo import services as demo

        demo.seed_everything("demo12345")
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    weak = [line for line in lines if "парола по подразбиране" in line]
    assert len(weak) == 1 and "m.ivanova" in weak[0] and "t.stoyanov" in weak[0] and "admin," not in weak[0]
    assert any("Списъкът за защита е празен" in line for line in lines)
    demo_line = [line for line in lines if "Демо данни" in line]
    assert len(demo_line) == 1 and "NAS с демо тайната" in demo_line[0] and "FREEFTP" in demo_line[0]
    assert "demo12345" not in result.output and "demo-radius-secret" not in result.output

    with app.app_context():
        with unit_of_work():
            db.session.add(AllowedAddress(network="0.0.0.0/0", comment="всички"))
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert "пуска всеки адрес (0.0.0.0/0)" in result.output


@pytest.fixture
def production_app(database_url, app, monkeypatch):
    """The application as production runs it: PostgreSQL (the run's, else a new one), Redis, a long key."""
    for name in ("BILLING_ADMIN_PASSWORD", "BILLING_DEMO_PASSWORD", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    url = database_url if database_url.startswith("postgresql") else None
    if url is None:
        if os.environ.get("CI"):
            pytest.skip("CI's PostgreSQL run checks it on the run's database (a new one here is a minute's migration)")
        url = fresh_postgres_database("billing_check_config")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as error:  # noqa: BLE001
        unavailable("Redis", error)
    production = create_app(app_config(
        url, BILLING_ENV="production", SECRET_KEY=secrets.token_hex(32), REDIS_URL=REDIS_URL,
        PUBLIC_BASE_URL="https://billing.example.bg", TRUSTED_PROXIES=1, MAIL_SERVER="smtp.example.bg",
        RATELIMIT_ENABLED=True, METRICS_TOKEN=secrets.token_hex(16)))
    if url != database_url:
        migrate_and_prepare(production)
    with production.app_context():
        with unit_of_work():
            db.session.add(AllowedAddress(network="192.0.2.0/24", comment="офисът"))
        db.session.remove()
    return production


def test_a_production_configuration_exits_0_saying_all_is_well(production_app):
    result = production_app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Всичко е наред: нищо не липсва и нищо не е опасно за работа в производство."

    # Without SMTP, an outbox folder of one machine while workers run on several: a warning, not a refusal.
    production_app.config.update(MAIL_SERVER=None, MAIL_OUTBOX="/var/spool/billing-outbox")
    result = production_app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("ВНИМАНИЕ: MAIL_SERVER не е зададен")
    assert "/var/spool/billing-outbox" in lines[0] and "обща" in lines[0]
    assert lines[1] == "Нищо опасно; предупреждения: 1."


def test_the_ftp_folders_are_checked_as_the_ftp_server_checks_them_at_start(app, tmp_path):
    """The check names what `flask freeftp serve` would refuse to start on, in its words: a folder missing, and
    homes this machine cannot write in (/proc: a folder, listable, nothing can be created in it)."""
    from tests.freeftp.conftest import configure

    missing = tmp_path / "не-е-монтирана"
    configure(app, ftp_root=str(missing), homes_root="/proc")
    result = app.test_cli_runner().invoke(args=["check-config"])
    lines = result.output.splitlines()
    assert f"ВНИМАНИЕ: FTP папката {missing} не е достъпна от тази машина: не съществува." in lines, result.output
    assert ("ВНИМАНИЕ: Папката с личните папки на абонаментите /proc не е достъпна от тази машина: в нея не може "
            "да се пише.") in lines, result.output

    # Reachable folders: no FTP line at all.
    public, homes = tmp_path / "pub", tmp_path / "homes"
    public.mkdir()
    homes.mkdir()
    configure(app, ftp_root=str(public), homes_root=str(homes))
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert "FTP" not in result.output and "папките" not in result.output, result.output


def test_the_password_check_runs_on_every_core_and_still_finds_each_weak_operator(app, monkeypatch):
    """Hundreds of operators × the candidates are a minute of KDF runs on one core: the checks run at once (the
    stand-in below sleeps, releasing the GIL as hashlib's scrypt does), every operator still checked."""
    import threading
    import time

    from werkzeug.security import check_password_hash, generate_password_hash

    from app import check_config
    from app.security.models import Operator

    threads = check_config._check_threads()
    if threads < 2:
        pytest.skip("one core: nothing to run at once")
    with app.app_context():
        weak = {"op05", "op11"}
        for number in range(16):
            username = f"op{number:02d}"
            password = "admin123" if username in weak else secrets.token_hex(8)
            db.session.add(Operator(username=username, first_name="Оператор", last_name=str(number),
                                    email=f"{username}@billing.local", active=True,
                                    password=generate_password_hash(password, method="pbkdf2:sha256:1000")))
        db.session.commit()
        operators = db.session.scalar(sa.select(sa.func.count()).select_from(Operator).where(Operator.active))
    calls, running, peak, lock = [], [0], [0], threading.Lock()

    def a_slow_kdf(password_hash, password):
        started = time.monotonic()
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.03)
        matches = check_password_hash(password_hash, password)
        with lock:
            running[0] -= 1
            calls.append((started, time.monotonic()))
        return matches

    monkeypatch.setattr(check_config, "check_password_hash", a_slow_kdf)
    result = app.test_cli_runner().invoke(args=["check-config"])
    elapsed = max(end for _start, end in calls) - min(start for start, _end in calls)
    lines = [line for line in result.output.splitlines() if "парола по подразбиране" in line]
    assert len(lines) == 1 and "op05, op11" in lines[0] and "op04" not in lines[0], result.output
    # Every operator against every candidate: the check is not weakened.
    assert len(calls) == operators * len(check_config.DEFAULT_PASSWORDS)
    one_after_another = sum(end - start for start, end in calls)
    assert peak[0] == threads and elapsed < one_after_another * 0.75, (peak, elapsed, one_after_another)
