"""The daily billing cycle, run as the office runs it (`flask billing run-cycle --date D`), on fixed dates."""
import email
import socket
from datetime import date
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app import create_app
from app.audit.models import LogEntry
from app.billing.charges import client_due
from app.billing.models import BillingRun, Charge, CycleEffect, DailyTraffic
from app.clients.models import Client, Subscription
from app.extensions import db
from app.notifications.models import Notification
from tests.conftest import app_config
from tests.factories import make_client, make_payment, make_service, make_subscription


def run_cycle(app, day):
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle", "--date", day.isoformat(), "--allow-future"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def subscriber(name="Мария Георгиева", email_address="maria@example.bg", *, fee="12.90", month_type="fixed",
               warning_days=5, tolerance_days=3, activation=date(2025, 1, 1), paid_until=date(2026, 11, 30),
               included_gb=None, extra_fee="0"):
    """An active subscriber of a service with these settings; returns (client id, subscription id)."""
    client = make_client(None, name, email=email_address)
    service = make_service(f"Интернет {name}", monthly_fee=fee)
    service.month_type, service.warning_days, service.tolerance_days = month_type, warning_days, tolerance_days
    service.included_traffic_gb, service.extra_traffic_fee = included_gb, Decimal(extra_fee)
    db.session.commit()
    subscription = make_subscription(client, service, activation_date=activation, paid_until=paid_until)
    return client.id, subscription.id


def status_of(app, subscription_id):
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        return subscription.status, subscription.paid_until


def mails(outbox):
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


def test_a_warning_goes_out_once_before_paid_until_however_often_the_cycle_runs(app, outbox):
    with app.app_context():
        client_id, subscription_id = subscriber(paid_until=date(2026, 12, 31), warning_days=5)
        number = db.session.get(Client, client_id).client_number
    run_cycle(app, date(2026, 12, 25))
    assert mails(outbox) == []  # six days before: not yet
    run_cycle(app, date(2026, 12, 26))
    run_cycle(app, date(2026, 12, 26))
    run_cycle(app, date(2026, 12, 27))
    sent = mails(outbox)
    assert len(sent) == 1
    assert sent[0]["To"] == "maria@example.bg"
    assert "31.12.2026" in sent[0]["Subject"]
    text = sent[0].get_content()
    assert "12,90 EUR" in text and number in text and "BG80BNBG96611020345678" in text
    assert "ePay" in text and "EasyPay" in text
    with app.app_context():
        notification = db.session.scalar(select(Notification))
        assert notification.status == "sent" and notification.attempts == 1
        assert db.session.scalar(select(func.count()).select_from(CycleEffect)) == 1
    assert status_of(app, subscription_id) == ("active", date(2026, 12, 31))


def test_no_warning_when_the_advance_covers_what_is_due(app, outbox):
    with app.app_context():
        client_id, _subscription_id = subscriber(paid_until=date(2026, 12, 10), fee="10.00")
        client = db.session.get(Client, client_id)
        # An advance first: no live subscription to pay yet, so it all stays an advance.
        db.session.get(Subscription, _subscription_id).status = "terminated"
        db.session.commit()
        make_payment(client, amount="30.00")
        db.session.get(Subscription, _subscription_id).status = "active"
        db.session.commit()
    run_cycle(app, date(2026, 12, 7))
    assert mails(outbox) == []


@pytest.mark.parametrize("month_type, activation, paid_until, tolerance, last_active_day", [
    ("fixed", date(2025, 1, 1), date(2026, 11, 30), 0, date(2026, 11, 30)),
    ("fixed", date(2025, 1, 1), date(2026, 11, 30), 3, date(2026, 12, 3)),
    ("floating", date(2025, 1, 15), date(2026, 11, 15), 0, date(2026, 11, 15)),
    ("floating", date(2025, 1, 15), date(2026, 11, 15), 2, date(2026, 11, 17)),
])
def test_suspension_comes_the_day_after_paid_until_plus_tolerance(app, outbox, month_type, activation, paid_until,
                                                                 tolerance, last_active_day):
    with app.app_context():
        _client_id, subscription_id = subscriber(month_type=month_type, activation=activation, paid_until=paid_until,
                                                 tolerance_days=tolerance, warning_days=0)
    run_cycle(app, last_active_day)
    assert status_of(app, subscription_id)[0] == "active"
    output = run_cycle(app, date.fromordinal(last_active_day.toordinal() + 1))
    assert "suspension 1" in output
    assert status_of(app, subscription_id)[0] == "suspended"
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status_reason == f"Неплатена услуга: платено до {paid_until:%d.%m.%Y}"
        run = db.session.scalar(select(BillingRun).order_by(BillingRun.id.desc()))
        entry = db.session.scalar(select(LogEntry).where(
            LogEntry.entity_type == "Subscription", LogEntry.entity_id == str(subscription_id),
            LogEntry.operation == "update").order_by(LogEntry.id.desc()))
        assert entry.username == f"билинг цикъл № {run.id}" and entry.user_id is None
    # Again the next day: nothing more happens.
    assert "effects: none" in run_cycle(app, date.fromordinal(last_active_day.toordinal() + 2))


def test_an_advance_pays_the_next_period_when_the_paid_one_ends_and_the_rest_stays(app, outbox):
    with app.app_context():
        client_id, subscription_id = subscriber(fee="10.00", paid_until=date(2026, 11, 30), warning_days=0)
        subscription = db.session.get(Subscription, subscription_id)
        subscription.status = "terminated"  # while nothing is live, the payment stays an advance
        db.session.commit()
        make_payment(db.session.get(Client, client_id), amount="25.00")
        db.session.get(Subscription, subscription_id).status = "active"
        db.session.commit()
    run_cycle(app, date(2026, 11, 30))
    assert status_of(app, subscription_id) == ("active", date(2026, 11, 30))  # the period has not ended yet
    output = run_cycle(app, date(2026, 12, 1))
    assert "advance 1" in output
    assert status_of(app, subscription_id) == ("active", date(2026, 12, 31))
    run_cycle(app, date(2026, 12, 1))
    assert status_of(app, subscription_id) == ("active", date(2026, 12, 31))  # not twice
    with app.app_context():
        due = client_due(db.session.get(Client, client_id), date(2027, 1, 1))
        assert due.advance_eur == Decimal("15.00")
        assert due.total_eur == Decimal("10.00") and due.payable_eur == Decimal("0.00")


def test_an_advance_reactivates_a_suspended_subscription_it_pays(app, outbox):
    with app.app_context():
        client_id, subscription_id = subscriber(fee="10.00", paid_until=date(2026, 10, 31), warning_days=0)
        subscription = db.session.get(Subscription, subscription_id)
        subscription.status = "terminated"
        db.session.commit()
        make_payment(db.session.get(Client, client_id), amount="20.00")
        subscription = db.session.get(Subscription, subscription_id)
        subscription.status, subscription.status_reason = "suspended", "Неплатена услуга"
        db.session.commit()
    output = run_cycle(app, date(2026, 12, 2))
    assert "advance 2" in output
    assert status_of(app, subscription_id) == ("active", date(2026, 12, 31))


def test_traffic_over_the_included_amount_becomes_one_charge_per_period(app, outbox):
    with app.app_context():
        client_id, subscription_id = subscriber(included_gb=10, extra_fee="0.50", paid_until=date(2026, 12, 31),
                                                warning_days=0)
        for day, gigabytes in ((date(2026, 11, 1), 4), (date(2026, 11, 15), 5), (date(2026, 11, 30), 3.3),
                               (date(2026, 12, 1), 50)):  # December's traffic is December's business
            db.session.add(DailyTraffic(subscription_id=subscription_id, day=day,
                                        bytes_in=int(gigabytes * 10 ** 9 * 0.9), bytes_out=int(gigabytes * 10 ** 9 * 0.1)))
        db.session.commit()
    run_cycle(app, date(2026, 11, 30))
    run_cycle(app, date(2026, 12, 1))
    run_cycle(app, date(2026, 12, 1))
    with app.app_context():
        charges = db.session.scalars(select(Charge).where(Charge.client_id == client_id)).all()
        assert [(charge.amount, charge.payment_type.code) for charge in charges] == [(Decimal("1.50"), "traffic")]
        assert "01.11.2026–30.11.2026" in charges[0].description and "3 GB" in charges[0].description


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def test_warnings_go_through_a_real_smtp_server_and_a_refused_one_is_retried_not_repeated(app, database_url):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailing_app = create_app(app_config(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                                            MAIL_FROM="billing@example.bg"))
        with mailing_app.app_context():
            subscriber(paid_until=date(2026, 12, 10))
            subscriber("Петър Иванов", "petar@example.bg", paid_until=date(2026, 12, 9))
        run_cycle(mailing_app, date(2026, 12, 6))
        run_cycle(mailing_app, date(2026, 12, 7))
        assert sorted(message["To"] for message in mailbox.messages) == ["maria@example.bg", "petar@example.bg"]
        assert all(message["From"] == "billing@example.bg" for message in mailbox.messages)
    finally:
        controller.stop()

    # The server is gone: the next warning fails, stays on record, and is sent on a later run.
    with mailing_app.app_context():
        subscriber("Елена Колева", "elena@example.bg", paid_until=date(2026, 12, 12))
    run_cycle(mailing_app, date(2026, 12, 8))
    with mailing_app.app_context():
        failed = db.session.scalar(select(Notification).where(Notification.recipient == "elena@example.bg"))
        assert failed.status == "failed" and failed.attempts == 1 and failed.error
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        run_cycle(mailing_app, date(2026, 12, 9))
    finally:
        controller.stop()
    assert sorted(message["To"] for message in mailbox.messages) == [
        "elena@example.bg", "maria@example.bg", "petar@example.bg"]
    with mailing_app.app_context():
        assert db.session.scalar(select(Notification).where(
            Notification.recipient == "elena@example.bg")).status == "sent"


def test_with_redis_the_chunks_run_on_worker_processes(app, database_url):
    import os
    import subprocess
    import sys
    import uuid

    from tests.conftest import REDIS_URL
    from tests.core.test_jobs import ROOT, redis_or_skip

    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    queued_app = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    with queued_app.app_context():
        overdue = [subscriber(f"Длъжник {n}", None, paid_until=date(2026, 11, 30), tolerance_days=0)[1]
                   for n in range(3)]
    output = run_cycle(queued_app, date(2026, 12, 1))
    assert "running, 0/3 subscriptions" in output  # queued for the workers
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only")
    workers = [subprocess.Popen([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        _out, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors[-3000:]
    assert [status_of(app, subscription_id)[0] for subscription_id in overdue] == ["suspended"] * 3
    with app.app_context():
        run = db.session.scalar(select(BillingRun))
        assert (run.status, run.done, run.total, run.failures) == ("done", 3, 3, 0)
