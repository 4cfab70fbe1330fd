"""`python worker.py` builds no panel: no FAB view, API or page. The modules' receivers and jobs are wired all
the same (app/<module>/wiring.py): a payment a job records is invoiced and reactivates the subscription, a
suspension by the billing cycle disconnects the subscriber, an export of a list is written."""
import csv
import io
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from decimal import Decimal

from pyrad import packet as radius_packet
from sqlalchemy import func, select

import worker
from app import create_app
from app.billing.cycle import start_run
from app.billing.jobs import record_payment_job
from app.billing.periods import add_months, month_end
from app.billing.services import record_payment
from app.clients.models import Subscription
from app.core import events, files
from app.core.formatting import local_today, utcnow
from app.core.queue import enqueue
from app.core.transaction import unit_of_work
from app.extensions import db
from app.invoices.models import Invoice
from app.radius.models import Nas, RadiusDisconnect, RadiusSession
from app.reports.exports import start_export
from app.reports.models import DONE, Export
from tests.conftest import REDIS_URL, app_config
from tests.core.test_jobs import ROOT, redis_or_skip
from tests.factories import head_office_cashier, make_client, make_dealer, make_service, make_subscription
from tests.radius.test_disconnect import SECRET, NasListener

EVENTS = (events.payment_recorded, events.payment_reversed, events.subscription_sold,
          events.subscription_status_changed, events.subscription_frozen, events.speed_changed,
          events.second_factor_link_issued, events.second_factor_changed)


def receivers():
    return {event.name: sorted(f"{receiver.__module__}.{receiver.__qualname__}"
                               for receiver in (ref() for ref in event.receivers.values()))
            for event in EVENTS}


def test_the_worker_s_app_has_no_view_api_or_page_and_the_receivers_connected_once(app, database_url):
    panel_receivers = receivers()
    first, second = worker.build_app(app_config(database_url)), worker.build_app(app_config(database_url))
    for worker_app in (first, second):
        assert worker_app.appbuilder.baseviews == []
        assert worker_app.appbuilder.menu.get_list() == []
        # FAB's static files are all that is routed: no page, no API, no login.
        assert {rule.endpoint for rule in worker_app.url_map.iter_rules()} <= {"static", "appbuilder.static"}
    assert receivers() == panel_receivers  # building apps again connected nothing twice
    assert "app.invoices.handlers.invoice_company_payment" in receivers()["payment-recorded"]
    assert "app.radius.handlers.disconnect_when_cut_off" in receivers()["subscription-status-changed"]
    assert sorted(first.extensions["periodic_jobs"]) == ["billing-cycle-schedule", "epay-expire-requests"]

    with first.app_context():
        client = make_client(make_dealer("Алфа"), "Север фирма", kind="company", company_name="Север ООД",
                             eik="204123454", mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5")
        recorded = record_payment(head_office_cashier(), client, amount="24.00")
        db.session.commit()
        assert recorded.warnings == []
        assert db.session.scalar(select(func.count(Invoice.id)).where(Invoice.payment_id == recorded.payment.id)) == 1


def company_subscriber_suspended_last_month():
    """A company whose subscription was suspended, paid until the end of last month; (client id, subscription id)."""
    client = make_client(make_dealer("Алфа"), "Север фирма", kind="company", company_name="Север ООД",
                         eik="204123454", mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5")
    service = make_service("Интернет Север", monthly_fee="12.90")
    subscription = make_subscription(client, service, status="suspended", activation_date=add_months(local_today(), -6),
                                     paid_until=month_end(add_months(local_today(), -1)))
    return client.id, subscription.id


def overdue_subscriber_online(nas_listener):
    """An active subscriber two months behind, online on the NAS; its subscription's id."""
    nas = Nas(name="MikroTik на работника", ip_address=nas_listener.address, secret=SECRET.decode(),
              coa_port=nas_listener.port)
    db.session.add(nas)
    service = make_service("Интернет Юг", username_type="radius")
    service.warning_days, service.tolerance_days = 0, 0
    subscription = make_subscription(make_client(None, "Петър Длъжников"), service,
                                     activation_date=add_months(local_today(), -6),
                                     paid_until=local_today() - timedelta(days=60), username="dlajnikov",
                                     password="parola-123")
    now = utcnow()
    db.session.add(RadiusSession(nas=nas, acct_session_id="81b00001", username="dlajnikov",
                                 subscription_id=subscription.id, framed_ip="10.20.0.19", started_at=now,
                                 updated_at=now))
    db.session.commit()
    return subscription.id


def test_python_worker_py_runs_the_jobs_and_their_receivers_without_the_panel(app, database_url, tmp_path):
    redis_or_skip()
    queue_name = f"billing-test-{uuid.uuid4().hex[:8]}"
    panel = create_app(app_config(database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name))
    nas = NasListener(radius_packet.DisconnectACK)
    try:
        with panel.app_context():
            company_id, suspended_id = company_subscriber_suspended_last_month()
            overdue_id = overdue_subscriber_online(nas)
            cashier = head_office_cashier()
            # Three pieces of work for the workers: a payment from outside the panel, the day's billing cycle,
            # an export of the client list.
            assert enqueue(record_payment_job, cashier, company_id, amount="12.90") is not None
            with unit_of_work():
                start_run(local_today(), "тест")
            with unit_of_work():
                export_id = start_export(cashier, "list:ClientView", "csv").id
            db.session.remove()

        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue_name,
                   SECRET_KEY="test-secret-key-for-the-test-suite-only",
                   MAIL_OUTBOX=str(tmp_path / "outbox"))
        run = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=180)
    finally:
        nas.close()
    assert run.returncode == 0, run.stderr[-3000:]

    with app.app_context():
        # The payment's receivers ran in the worker: the company's invoice, and its subscription active again.
        invoices = db.session.scalars(select(Invoice).where(Invoice.client_id == company_id)).all()
        assert [invoice.total for invoice in invoices] == [Decimal("12.90")]
        assert db.session.get(Subscription, suspended_id).status == "active"
        # The cycle suspended the overdue subscriber, and RADIUS's receiver had the NAS disconnect it.
        assert db.session.get(Subscription, overdue_id).status == "suspended"
        assert [(row.kind, row.result, row.acct_session_id)
                for row in db.session.scalars(select(RadiusDisconnect))] == [("disconnect", "ack", "81b00001")]
        # The export of a list, read through a view of its own: the worker has none registered.
        export = db.session.get(Export, export_id)
        assert export.status == DONE, export.error
        text = files.read_bytes(export.file_name).decode("utf-8-sig")
    assert nas.received == [{"code": radius_packet.DisconnectRequest, "User-Name": "dlajnikov",
                             "Acct-Session-Id": "81b00001"}]
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Клиентски номер"  # the panel's Bulgarian header
    assert sorted(row[1] for row in rows[1:]) == ["Петър Длъжников", "Север фирма"]
