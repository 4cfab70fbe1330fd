"""E-MAIL-type subscriptions as the mail server reads them: the read-only view mail_account (docs/dovecot.md)."""
import hashlib
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import update

from app.billing.models import SubscriptionFreeze
from app.catalog.models import Service, ServiceParameter
from app.clients.models import Client, Subscription
from app.extensions import db
from tests.factories import make_client, make_service, make_subscription


def _mailboxes(app):
    with app.app_context():
        rows = db.session.execute(sa.text(
            "SELECT username, password, home, quota_rule, active FROM mail_account ORDER BY username")).all()
        return {row.username: row for row in rows}


def _mail_service(app):
    with app.app_context():
        client = make_client(None, "Пощенски клиент")
        service = make_service("Пощенска кутия", username_type="email")
        db.session.add(ServiceParameter(service=service, name="quota_mb", value="2048"))
        db.session.commit()
        return client.id, service.id


def test_the_view_lists_email_subscriptions_and_says_which_may_log_in(app):
    client_id, service_id = _mail_service(app)
    with app.app_context():
        client, service = db.session.get(Client, client_id), db.session.get(Service, service_id)
        make_subscription(client, service, username="Ivan@Mail.bg", password="пощенска-1")
        make_subscription(client, service, username="spryan@mail.bg", password="x", status="suspended")
        frozen = make_subscription(client, service, username="vakancia@mail.bg", password="x")
        make_subscription(client, service, username="krai@mail.bg", password="x", status="terminated")
        other = make_service("Интернет", username_type="radius")
        make_subscription(client, other, username="radius-user", password="x")
        today = date.today()
        db.session.add(SubscriptionFreeze(subscription=frozen, client_id=client.id, starts_on=today,
                                          ends_on=today + timedelta(days=3), last_day=today + timedelta(days=3),
                                          reason="Ваканция"))
        db.session.commit()
        ivan_id = db.session.scalar(sa.select(Subscription.id).where(Subscription.username == "Ivan@Mail.bg"))
    boxes = _mailboxes(app)
    assert sorted(boxes) == ["ivan@mail.bg", "spryan@mail.bg", "vakancia@mail.bg"]
    ivan = boxes["ivan@mail.bg"]
    assert bool(ivan.active) is True and ivan.home == "/var/vmail/ivan@mail.bg"
    assert ivan.quota_rule == "*:storage=2048M"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert ivan.password == "{SHA512.HEX}" + hashlib.sha512("пощенска-1".encode()).hexdigest()
    else:
        assert ivan.password == "{PLAIN}пощенска-1"
    assert bool(boxes["spryan@mail.bg"].active) is False and bool(boxes["vakancia@mail.bg"].active) is False
    # Suspended in the panel: inactive at once, no cache in between.
    with app.app_context():
        db.session.execute(update(Subscription).where(Subscription.id == ivan_id).values(status="suspended"))
        db.session.commit()
    assert bool(_mailboxes(app)["ivan@mail.bg"].active) is False


def test_the_view_cannot_be_written_through(app):
    with app.app_context():
        try:
            db.session.execute(sa.text("UPDATE mail_account SET active = 1"))
        except sa.exc.DBAPIError:
            db.session.rollback()
        else:
            raise AssertionError("the view took an UPDATE")


DOVECOT_CONF = """
protocols =
listen = 127.0.0.1
ssl = no
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
auth_mechanisms = plain
!include {sql_conf_dir}/auth.conf
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
"""


def _dovecot_or_skip():
    import os
    import shutil

    import pytest

    if shutil.which("doveadm") is None or shutil.which("dovecot") is None:
        if os.environ.get("CI"):
            pytest.fail("the mailbox test needs Debian's dovecot-core and dovecot-pgsql")
        pytest.skip("no dovecot")


def test_dovecot_logs_in_an_active_mailbox_and_refuses_a_suspended_one(app, tmp_path):
    """Debian's Dovecot with the documented configuration (docs/dovecot.md), asked by `doveadm auth test`."""
    import shutil
    import subprocess
    import time
    from pathlib import Path

    import pytest

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the documented configuration is PostgreSQL's (run with TEST_DATABASE_URL)")
    _dovecot_or_skip()
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    documented = (Path(__file__).resolve().parents[2] / "docs" / "dovecot.md").read_text()
    sql_conf = documented.split("```sql-conf\n", 1)[1].split("```", 1)[0]
    auth_conf = documented.split("```auth-conf\n", 1)[1].split("```", 1)[0]
    connect = f"host={url.host or '127.0.0.1'} port={url.port or 5432} dbname={url.database} user={url.username}"
    if url.password:
        connect += f" password={url.password}"
    (tmp_path / "dovecot-sql.conf.ext").write_text(sql_conf.replace(
        "host=127.0.0.1 dbname=billing user=dovecot password=…", connect))
    (tmp_path / "auth.conf").write_text(auth_conf.replace("/etc/dovecot/dovecot-sql.conf.ext",
                                                          str(tmp_path / "dovecot-sql.conf.ext")))
    config = tmp_path / "dovecot.conf"
    config.write_text(DOVECOT_CONF.format(tmp=tmp_path, sql_conf_dir=tmp_path))
    (tmp_path / "run").mkdir()
    (tmp_path / "state").mkdir()
    tmp_path.chmod(0o755)

    client_id, service_id = _mail_service(app)
    with app.app_context():
        client, service = db.session.get(Client, client_id), db.session.get(Service, service_id)
        active = make_subscription(client, service, username="ivan@mail.bg", password="пощенска-1").id
        make_subscription(client, service, username="spryan@mail.bg", password="пощенска-2", status="suspended")

    server = subprocess.Popen(["dovecot", "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def auth(username, password):
            for _attempt in range(50):
                result = subprocess.run(["doveadm", "-c", str(config), "auth", "test", username, password],
                                        capture_output=True, text=True, timeout=20)
                if "connect(" not in result.stderr:  # the auth socket is there
                    return result
                time.sleep(0.2)
            raise AssertionError(result.stderr)

        ok = auth("ivan@mail.bg", "пощенска-1")
        assert ok.returncode == 0 and "auth succeeded" in ok.stdout, (ok.stdout, ok.stderr,
                                                                      (tmp_path / "dovecot.log").read_text())
        assert auth("ivan@mail.bg", "грешна").returncode != 0
        assert auth("spryan@mail.bg", "пощенска-2").returncode != 0
        with app.app_context():
            db.session.execute(update(Subscription).where(Subscription.id == active).values(status="suspended"))
            db.session.commit()
        assert auth("ivan@mail.bg", "пощенска-1").returncode != 0
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
