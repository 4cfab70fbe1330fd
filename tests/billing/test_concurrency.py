"""Cashiers paying at the same moment, on a real PostgreSQL: nothing lost, nothing counted twice."""
import threading
from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.billing.models import Payment
from app.billing.services import find_by_request_key, record_payment
from app.clients.models import Client, Subscription
from app.extensions import db
from config import engine_options
from tests.conftest import app_config, migrate_and_prepare
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import head_office_cashier, make_client, make_service, make_subscription

# Each makes its own databases: nothing here depends on the run's database.
pytestmark = pytest.mark.once

THREADS = 10


@pytest.fixture(scope="module")
def postgres_app():
    url = fresh_postgres_database("billing_payments_race_test")
    app = create_app(app_config(url, SQLALCHEMY_ENGINE_OPTIONS={**engine_options(url), "pool_size": THREADS + 2}))
    migrate_and_prepare(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_together(app, work):
    """Runs work(index) in THREADS threads started at once, each in its own app context and session."""
    barrier = threading.Barrier(THREADS)
    results, errors = {}, []

    def run(index):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[index] = work(index)
            except Exception as error:  # noqa: BLE001 — reported by the callers' assertions
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_ten_cashiers_paying_one_month_each_extend_by_ten_months(postgres_app):
    with postgres_app.app_context():
        client = make_client(None, "Едновременен Платец")
        subscription = make_subscription(client, make_service("Интернет едновременно", monthly_fee="10.00"),
                                         activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        client_id, subscription_id = client.id, subscription.id

    def pay(_index):
        client = db.session.get(Client, client_id)
        record_payment(head_office_cashier(), client, periods={subscription_id: 1})
        db.session.commit()

    _results, errors = run_together(postgres_app, pay)
    assert errors == []
    with postgres_app.app_context():
        # each payment extended from where the one before it left "paid until"
        assert db.session.get(Subscription, subscription_id).paid_until == date(2027, 10, 31)
        allocations = sorted((payment.allocations[0].paid_until_before, payment.allocations[0].paid_until_after)
                             for payment in db.session.query(Payment).filter_by(client_id=client_id))
        assert len(allocations) == THREADS
        assert all(earlier[1] == later[0] for earlier, later in zip(allocations, allocations[1:]))


def test_one_form_sent_ten_times_at_once_records_one_payment(postgres_app):
    with postgres_app.app_context():
        client = make_client(None, "Двоен Клик")
        subscription = make_subscription(client, make_service("Интернет двоен клик", monthly_fee="10.00"),
                                         activation_date=date(2026, 1, 1), paid_until=date(2026, 12, 31))
        client_id, subscription_id = client.id, subscription.id

    def submit(_index):
        client = db.session.get(Client, client_id)
        try:
            result = record_payment(head_office_cashier(), client, periods={subscription_id: 1},
                                    request_key="same-form-token")
            db.session.commit()
            return result.payment.id
        except IntegrityError:  # what the panel does: the other request recorded it
            db.session.rollback()
            return find_by_request_key("same-form-token").id

    results, errors = run_together(postgres_app, submit)
    assert errors == []
    with postgres_app.app_context():
        payments = db.session.query(Payment).filter_by(client_id=client_id).all()
        assert len(payments) == 1 and set(results.values()) == {payments[0].id}
        assert db.session.get(Subscription, subscription_id).paid_until == date(2027, 1, 31)
