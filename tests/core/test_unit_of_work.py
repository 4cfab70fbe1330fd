"""One transaction boundary, an explicit actor, domain events — as the entry points use them.

A payment recorded through the panel, the REST API, a payment collector and
a job leaves the same rows, LOG entries and events; a failure after a flush
leaves nothing behind at any entry point; an effect waiting for the commit
never runs for a rolled-back unit; a job acting for a dealer's operator sees
only that dealer's rows; a page view commits nothing unless it logs.
"""
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import LogEntry
from app.billing.charges import payment_method
from app.billing.jobs import reactivate, record_payment_job
from app.billing.models import Payment
from app.billing.periods import month_end
from app.clients.models import Client, Subscription
from app.collectors.models import PaymentCollector
from app.core import events
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.core.queue import enqueue
from app.core.transaction import after_commit, discard, unit_of_work
from app.demo.services import DEMO_CLIENTS
from app.extensions import db
from app.security import permissions as p
from tests.collectors.test_collectors import COLLECTOR_ADDRESS, SECRET, signed
from tests.conftest import Browser, visible_text
from tests.factories import (
    head_office_cashier,
    make_client,
    make_contract,
    make_dealer,
    make_operator,
    make_payment,
    make_service,
    make_subscription,
)

FEE = "12.90"


def debtor(app, name):
    """A client whose 12,90 EUR subscription is paid to the end of last month: 12,90 pays this month."""
    with app.app_context():
        client = make_client(None, name, egn="7501020018")
        last_month_end = local_today().replace(day=1) - timedelta(days=1)
        subscription = make_subscription(client, make_service(f"Интернет {name}", monthly_fee=FEE),
                                         activation_date=date(2026, 1, 1), paid_until=last_month_end)
        return client.id, subscription.id, client.client_number


def engine_of(app):
    with app.app_context():
        return db.engine


@contextmanager
def receiving(event, receiver):
    event.connect(receiver)
    try:
        yield
    finally:
        event.disconnect(receiver)


class Witness:
    """Listens to payment_recorded like a module would: notes each event and an effect after the commit."""

    def __init__(self, engine):
        self.engine = engine
        self.events, self.effects = [], []

    def __call__(self, actor, payment, **_details):
        self.events.append((getattr(actor, "username", None) or str(actor), payment.id))
        after_commit(self.effect, payment.id)

    def effect(self, payment_id):
        # Another connection sees the payment: the effect runs after the commit, not before.
        with self.engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT count(*) FROM payment WHERE id = :id"),
                                        {"id": payment_id}).scalar()
        self.effects.append((payment_id, stored))


def collector(app):
    with app.app_context():
        record = PaymentCollector(code="epay", name="ePay", secret=SECRET, allowed_addresses="203.0.113.0/24",
                                  method=payment_method("epay"), active=True)
        db.session.add(record)
        db.session.commit()


def pay_in_panel(app, client_id, key):
    cashier = Browser(app)
    cashier.login()
    return cashier.submit(f"/payments/record/{client_id}", {"amount": FEE, "currency": "EUR", "request_key": key})


def pay_through_api(api, client_id, key):
    return api.post("/api/v1/payments/", json={"client": client_id, "amount": FEE, "currency": "EUR",
                                               "request_id": key})


def pay_through_collector(app, number, key):
    caller = app.test_client()
    caller.environ_base["REMOTE_ADDR"] = COLLECTOR_ADDRESS
    return caller.post("/collect/epay/confirm", data=signed(IDN=number, TID=key, AMOUNT="1290"))


def pay_in_job(app, client_id, key):
    with app.app_context():
        enqueue(record_payment_job, head_office_cashier(), client_id, amount=FEE,
                request_key=key)


def what_was_stored(app, client_id, subscription_id):
    """The client's payments, paid-until and the LOG entries the payment's transaction wrote."""
    with app.app_context():
        payments = db.session.scalars(select(Payment).where(Payment.client_id == client_id)).all()
        subscription = db.session.get(Subscription, subscription_id)
        shape = [(payment.amount, payment.currency, payment.amount_eur,
                  sorted((allocation.kind, allocation.amount_eur) for allocation in payment.allocations))
                 for payment in payments]
        log = []
        if payments:
            transaction_id = db.session.scalar(select(LogEntry.transaction_id).where(
                LogEntry.entity_type == "Payment", LogEntry.entity_id == str(payments[0].id),
                LogEntry.operation == "insert"))
            log = sorted((entry.entity_type, entry.operation) for entry in db.session.scalars(
                select(LogEntry).where(LogEntry.transaction_id == transaction_id,
                                       LogEntry.entity_type.in_(["Payment", "Subscription"]))))
        return shape, subscription.paid_until, log, [payment.id for payment in payments]


def test_a_payment_is_the_same_through_the_panel_the_api_a_collector_and_a_job(app, api):
    collector(app)
    witness = Witness(engine_of(app))
    debtors = {entry: debtor(app, f"Платец {entry}") for entry in ("panel", "api", "collector", "job")}
    with app.app_context():
        this_month_end = month_end(local_today())
    with receiving(events.payment_recorded, witness):
        assert pay_in_panel(app, debtors["panel"][0], "uow-panel").status_code == 302
        assert pay_through_api(api, debtors["api"][0], "uow-api").status_code == 201
        answer = pay_through_collector(app, debtors["collector"][2], "uow-collector")
        assert answer.json["STATUS"] == "00", answer.text
        pay_in_job(app, debtors["job"][0], "uow-job")

    stored = {entry: what_was_stored(app, client_id, subscription_id)
              for entry, (client_id, subscription_id, _number) in debtors.items()}
    fee = Decimal(FEE)
    for entry, (shape, paid_until, log, payment_ids) in stored.items():
        assert shape == [(fee, "EUR", fee, [("periods", fee)])], entry
        assert paid_until == this_month_end, entry
        assert log == [("Payment", "insert"), ("Subscription", "update")], entry
    # One event per payment, from the actor who recorded it; its effect ran once, after the commit.
    payment_ids = [stored[entry][3][0] for entry in ("panel", "api", "collector", "job")]
    assert witness.events == [("admin", payment_ids[0]), ("admin", payment_ids[1]),
                              ("Колектор ePay", payment_ids[2]), ("admin", payment_ids[3])]
    assert witness.effects == [(payment_id, 1) for payment_id in payment_ids]
    with app.app_context():
        # The LOG names who acted: the operator, or the collector by its name (no operator account).
        users = {entry: tuple(db.session.execute(select(LogEntry.user_id, LogEntry.username).where(
            LogEntry.entity_type == "Payment", LogEntry.entity_id == str(stored[entry][3][0]),
            LogEntry.operation == "insert")).one())
            for entry in stored}
        admin_id = head_office_cashier().id
        assert users == {"panel": (admin_id, None), "api": (admin_id, None), "collector": (None, "Колектор ePay"),
                         "job": (admin_id, None)}


def boom(actor, payment, **_details):
    raise RuntimeError("a module failed after the payment was flushed")


def assert_nothing_stored(app, client_id, subscription_id, paid_until, witness):
    shape, now_paid_until, _log, _ids = what_was_stored(app, client_id, subscription_id)
    assert shape == [] and now_paid_until == paid_until
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LogEntry).where(
            LogEntry.entity_type == "Payment")) == 0
    assert witness.effects == []


def test_a_failure_after_a_flush_leaves_nothing_behind_at_any_entry_point(app, api, monkeypatch):
    collector(app)
    witness = Witness(engine_of(app))
    # What a browser, an API client and a collector get in production: a 500, not a traceback.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    debtors = {entry: debtor(app, f"Неуспял {entry}") for entry in ("panel", "api", "collector", "job")}
    with app.app_context():
        paid_until = db.session.get(Subscription, debtors["panel"][1]).paid_until
    with receiving(events.payment_recorded, witness), receiving(events.payment_recorded, boom):
        assert pay_in_panel(app, debtors["panel"][0], "fail-panel").status_code == 500
        assert pay_through_api(api, debtors["api"][0], "fail-api").status_code == 500
        assert pay_through_collector(app, debtors["collector"][2], "fail-collector").status_code == 500
        with pytest.raises(RuntimeError):
            pay_in_job(app, debtors["job"][0], "fail-job")
    for client_id, subscription_id, _number in debtors.values():
        assert_nothing_stored(app, client_id, subscription_id, paid_until, witness)
    with app.app_context():
        # The collector's transaction id was not used up: the collector may retry it.
        assert db.session.scalar(sa.text("SELECT count(*) FROM collector_transaction")) == 0
    # Retried without the failing module, each goes through once.
    assert pay_in_panel(app, debtors["panel"][0], "fail-panel").status_code == 302
    assert pay_through_collector(app, debtors["collector"][2], "fail-collector").json["STATUS"] == "00"


def test_a_failing_cli_command_keeps_nothing_of_its_unit(app):
    runner = app.test_cli_runner()
    with receiving(events.payment_recorded, boom):
        result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    with app.app_context():
        # Each demo client with its payments is one unit: the first, whose payment failed, left nothing.
        assert db.session.scalar(select(func.count()).select_from(Client)) == 0
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == len(DEMO_CLIENTS)


def test_an_effect_waiting_for_the_commit_never_runs_for_a_rolled_back_unit(app):
    ran = []
    with app.app_context():
        with pytest.raises(RuntimeError):
            with unit_of_work():
                db.session.add(LogEntry(operation="job", note="rolled back", changes={}))
                after_commit(ran.append, "rolled back")
                raise RuntimeError("the job failed")
        with unit_of_work():
            db.session.add(LogEntry(operation="job", note="discarded", changes={}))
            after_commit(ran.append, "discarded")
            discard()  # a refused form: what was flushed and planned is gone
        with unit_of_work():
            db.session.add(LogEntry(operation="job", note="kept", changes={}))
            after_commit(ran.append, "kept")
            assert ran == []  # not before the commit
        assert ran == ["kept"]
        assert db.session.scalars(select(LogEntry.note).where(LogEntry.operation == "job")).all() == ["kept"]


def test_a_refused_payment_form_runs_no_effect(app):
    """The reactivation waits for the commit; a payment refused after it was planned reactivates nothing."""
    with app.app_context():
        client = make_client(None, "Спрян Абонат")
        last_month_end = local_today().replace(day=1) - timedelta(days=1)
        subscription = make_subscription(client, make_service("Интернет 10", monthly_fee="10.00"),
                                         status="suspended", activation_date=date(2026, 1, 1),
                                         paid_until=last_month_end)
        client_id, subscription_id = client.id, subscription.id

    def refuse(actor, payment, **_details):
        raise FieldErrors({"amount": ["Отказано от модул след записа."]})

    with receiving(events.payment_recorded, refuse):
        response = pay_in_panel(app, client_id, "refused")
    assert response.status_code == 200 and "Отказано от модул след записа." in visible_text(response.text)
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert (subscription.status, subscription.paid_until) == ("suspended", last_month_end)
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_job_acting_for_a_dealers_operator_sees_only_that_dealers_rows(app):
    with app.app_context():
        today = local_today()
        alpha, beta = make_dealer("Алфа"), make_dealer("Бета")
        alpha_cashier = make_operator(alpha, "алфа", "Администратор на дилър")
        beta_cashier = make_operator(beta, "бета", "Администратор на дилър")
        client = make_client(beta, "Клиент на Бета")
        # Suspended but paid again (e.g. by a payment whose reactivation is queued).
        subscription = make_subscription(client, make_service("Интернет Бета", monthly_fee="10.00"),
                                         status="suspended", activation_date=date(2026, 1, 1),
                                         paid_until=today + timedelta(days=20))
        subscription_id, client_id = subscription.id, client.id

        enqueue(reactivate, alpha_cashier, subscription_id)
        assert db.session.get(Subscription, subscription_id).status == "suspended"
        with pytest.raises(FieldErrors) as refusal:
            enqueue(record_payment_job, alpha_cashier, client_id, amount="10.00")
        assert "client" in refusal.value.errors
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0

        enqueue(reactivate, beta_cashier, subscription_id)
        db.session.expire_all()
        assert db.session.get(Subscription, subscription_id).status == "active"
        activation = db.session.scalars(select(LogEntry).where(
            LogEntry.entity_type == "Subscription", LogEntry.entity_id == str(subscription_id),
            LogEntry.operation == "update")).one()
        assert activation.user_id == beta_cashier.id  # the job's changes are the operator's, in the LOG


@contextmanager
def counting_commits():
    commits = []

    def count(session):
        commits.append(session)

    sa.event.listen(Session, "after_commit", count)
    try:
        yield commits
    finally:
        sa.event.remove(Session, "after_commit", count)


def test_a_page_view_commits_nothing_unless_it_logs(app, admin):
    client_id, _subscription_id, _number = debtor(app, "Иван Петров")
    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier")
        assert p.SEE_PERSONAL_DATA not in p.ROLE_DEFAULTS[p.CASHIER]["rights"]
    cashier = Browser(app)
    cashier.login("cashier", "operator-pass-123")
    with counting_commits() as commits:
        for url in ("/clients/list/", f"/clients/show/{client_id}", "/payments/list/", "/log/list/"):
            assert cashier.get(url).status_code in (200, 403), url
    assert commits == []  # the cashier sees the ЕГН masked: nothing to log, nothing committed
    with counting_commits() as commits:
        assert admin.get(f"/clients/show/{client_id}").status_code == 200
    assert len(commits) == 1  # the administrator saw the full ЕГН: that view is in the LOG
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LogEntry).where(
            LogEntry.operation == "personal_data")) == 1


def test_the_client_card_asks_the_database_few_questions(app, admin):
    """Rights are read once per request: the card's statements do not grow with the buttons on it."""
    client_id, subscription_id, _number = debtor(app, "Иван Петров")
    with app.app_context():
        client = db.session.get(Client, client_id)
        make_payment(client, periods={subscription_id: 1})
        make_contract(client, [db.session.get(Subscription, subscription_id)])
    admin.get(f"/clients/show/{client_id}")
    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert admin.get(f"/clients/show/{client_id}").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    role_lookups = [s for s in statements if "ab_permission" in s]
    assert len(role_lookups) == 1, role_lookups
    # 35 before rights were read once per unit of work and the card stopped committing on a GET; 16 now,
    # and one more for the organizer's tasks part (a client without tasks: one query), and one for the
    # tabs' counters (every part's count in one statement). The History tab then reads the client's business and
    # the ЕГН views apart (two, where one read the client's own entries), and the records its rows name once per
    # kind, not per row (here six: client, contract type, operator, payment method and type, service). The
    # portal's line (access and last login) is one more, and the subscriptions' IPv6 prefixes one more (loaded for
    # all of them at once, as their IPv4 addresses).
    assert len(statements) <= 29, f"{len(statements)}\n" + "\n".join(s[:90] for s in statements)


def test_a_refused_api_login_stays_on_record_although_its_request_fails(app):
    """The security-event path: the 401's unit rolls back, the LOG entry was written on its own."""
    caller = app.test_client()
    caller.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    response = caller.post("/api/v1/security/login", json={"username": "admin", "password": "wrong",
                                                           "provider": "db", "refresh": False})
    assert response.status_code == 401
    with app.app_context():
        failed = db.session.scalars(select(LogEntry).where(LogEntry.operation == "login_failed")).all()
        assert [(entry.username, entry.remote_addr) for entry in failed] == [("admin", "198.51.100.23")]
