"""Each client's advance as the database keeps it (ClientAdvance, migration 0044's triggers) against the one
query of the advance (app.billing.charges.advances), after every operation that changes it."""
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select

from app import create_app
from app.billing.charges import advances
from app.billing.models import ClientAdvance, Payment, PaymentAllocation
from app.billing.opening import carry_credit
from app.billing.services import record_payment, reverse_payment
from app.clients.models import Client, Subscription
from app.extensions import db
from config import engine_options
from tests.billing.test_cycle import run_cycle, subscriber
from tests.conftest import app_config, migrate_and_prepare
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import head_office_cashier, make_client, make_payment, make_service, make_subscription

D = Decimal


def kept():
    """{client id: advance} as kept, clients with none left out."""
    return {client_id: D(str(amount)).quantize(D("0.01"))
            for client_id, amount in db.session.execute(select(ClientAdvance.client_id, ClientAdvance.advance_eur))
            if D(str(amount)) != 0}


def computed():
    """{client id: advance} by the one query of the advance, summed from every allocation now."""
    return {row.client_id: D(str(row.advance)).quantize(D("0.01"))
            for row in db.session.execute(advances(PaymentAllocation.client_id)) if D(str(row.advance)) != 0}


def same_advances():
    db.session.expire_all()
    assert kept() == computed()
    return kept()


def test_the_kept_advance_is_the_computed_one_after_payments_reversals_spending_and_a_cycle(app, outbox):
    with app.app_context():
        cashier = head_office_cashier()
        # An advance the cycle spends on the next period when the paid one ends.
        cycled_id, cycled_subscription_id = subscriber(fee="10.00", paid_until=date(2026, 11, 30), warning_days=0)
        subscription = db.session.get(Subscription, cycled_subscription_id)
        subscription.status = "terminated"  # while nothing is live, the payment stays an advance
        db.session.commit()
        make_payment(db.session.get(Client, cycled_id), amount="25.00")
        db.session.get(Subscription, cycled_subscription_id).status = "active"
        db.session.commit()
        assert same_advances()[cycled_id] == D("25.00")

        service = make_service("Интернет 20", monthly_fee="20.00")
        reversed_ = make_client(None, "Сторниран Аванс")
        first = make_payment(reversed_, amount="6.00")
        make_payment(reversed_, amount="4.00")
        assert same_advances()[reversed_.id] == D("10.00")
        reverse_payment(cashier, first, "грешка")
        db.session.commit()
        assert same_advances()[reversed_.id] == D("4.00")

        spent = make_client(None, "Похарчен Аванс")
        spent_subscription = make_subscription(spent, service, activation_date=date(2026, 1, 1),
                                               paid_until=date(2026, 10, 31))
        carry_credit(cashier, spent, D("12.00"), date(2026, 9, 15), "стар.csv, ред 3")
        db.session.commit()
        assert same_advances()[spent.id] == D("12.00")
        record_payment(cashier, spent, periods={spent_subscription.id: 1})  # 12,00 of the advance, 8,00 paid
        db.session.commit()
        assert spent.id not in same_advances()
        spender = make_payment(spent, amount="30.00")  # a month, and 10,00 left as an advance
        assert same_advances()[spent.id] > 0
        reverse_payment(cashier, spender, "грешка")
        db.session.commit()
        assert spent.id not in same_advances()

        moved_from = make_client(None, "Преместен От")
        moved_to = make_client(None, "Преместен При")
        moved = make_payment(moved_from, amount="7.00")
        db.session.get(Payment, moved.id).client_id = moved_to.id
        db.session.commit()
        advances_now = same_advances()
        assert moved_from.id not in advances_now and advances_now[moved_to.id] == D("7.00")

        # A rolled-back payment leaves the kept advance as it was.
        record_payment(cashier, db.session.get(Client, moved_to.id), amount="3.00")
        db.session.rollback()
        assert same_advances()[moved_to.id] == D("7.00")
        moved_to_id = moved_to.id

    run_cycle(app, date(2026, 12, 1))  # the advance pays December: 15,00 left
    with app.app_context():
        assert same_advances()[cycled_id] == D("15.00")
        # Written and deleted by SQL (as an import or a correction might): still counted again.
        payment_id = db.session.scalar(select(Payment.id).where(Payment.client_id == moved_to_id))
        db.session.execute(insert(PaymentAllocation).values(payment_id=payment_id, kind="advance",
                                                            amount_eur=D("2.50")))
        db.session.commit()
        assert same_advances()[moved_to_id] == D("9.50")
        db.session.execute(delete(PaymentAllocation).where(PaymentAllocation.payment_id == payment_id))
        db.session.commit()
        assert moved_to_id not in same_advances()


@pytest.fixture(scope="module")
def postgres_app():
    url = fresh_postgres_database("billing_client_advance_race_test")
    app = create_app(app_config(url, SQLALCHEMY_ENGINE_OPTIONS={**engine_options(url), "pool_size": 12}))
    migrate_and_prepare(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.once
def test_ten_transactions_changing_one_clients_advance_at_once_are_all_counted(postgres_app):
    """Five write an advance allocation of the same client and five reverse a payment of it (without the
    desk's lock of the client), each one statement kept open a moment before its commit: the kept advance is
    what the allocations add up to. Without the trigger's lock of the client's row, each counted what was
    committed when its statement began, and the last commit left out those it had waited for."""
    threads = 10
    with postgres_app.app_context():
        client = make_client(None, "Много Каси")
        payments = [make_payment(client, amount="1.00").id for _ in range(2 * threads)]
        client_id = client.id
        assert same_advances()[client_id] == D("20.00")
    barrier, errors = threading.Barrier(threads), []

    def work(index):
        with postgres_app.app_context():
            try:
                original = db.session.get(Payment, payments[threads + index])
                barrier.wait(timeout=30)
                if index % 2:
                    db.session.add(Payment(
                        client_id=client_id, dealer_id=original.dealer_id, method_id=original.method_id,
                        type_id=original.type_id, amount=-original.amount, currency=original.currency,
                        amount_eur=-original.amount_eur, reversal_of_id=original.id))
                    db.session.flush()
                else:
                    db.session.execute(insert(PaymentAllocation).values(
                        payment_id=payments[index], kind="advance", amount_eur=D("0.50")))
                time.sleep(0.3)  # the others' statements begin meanwhile
                db.session.commit()
            except Exception as error:  # noqa: BLE001 — asserted below
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    with postgres_app.app_context():
        # 20 × 1,00 + 5 × 0,50, less the 5 payments reversed
        assert same_advances()[client_id] == D("17.50")
