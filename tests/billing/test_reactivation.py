"""A payment that makes a suspended subscription current: reactivation through real Redis and worker.py."""
import os
import subprocess
import sys
import uuid
from datetime import date

from app import create_app
from app.billing.periods import add_months, month_end
from app.clients.models import Subscription
from app.core.formatting import local_today
from app.extensions import db
from tests.conftest import REDIS_URL, Browser, app_config
from tests.core.test_jobs import ROOT, redis_or_skip
from tests.factories import make_client, make_service, make_subscription


def test_payment_queues_the_reactivation_and_the_worker_runs_it(app, database_url):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    queued_app = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    with app.app_context():
        today = local_today()
        # paid until the end of last month; two months make it current again
        last_month_end, next_month_end = month_end(add_months(today, -1)), month_end(add_months(today, 1))
        client = make_client(None, "Спрян Абонат")
        subscription = make_subscription(client, make_service("Интернет спрян", monthly_fee="10.00"),
                                         status="suspended", activation_date=date(2026, 1, 1),
                                         paid_until=last_month_end)
        client_id, subscription_id = client.id, subscription.id
    cashier = Browser(queued_app)
    cashier.login()
    response = cashier.submit(f"/payments/record/{client_id}", {f"months_{subscription_id}": "2", "currency": "EUR",
                                                               "request_key": queue_name})
    assert response.status_code == 302
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        # paid at once; the reactivation waits in the queue for the worker
        assert (subscription.paid_until, subscription.status) == (next_month_end, "suspended")

    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
               SECRET_KEY="test-secret-key-for-the-test-suite-only")
    worker = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status == "active" and next_month_end.strftime("%d.%m.%Y") in subscription.status_reason
