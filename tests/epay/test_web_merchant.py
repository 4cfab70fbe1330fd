"""ePay.bg's WEB-merchant protocol: the payment request we send, and ePay.bg's notification of what became of it."""
import base64
import hashlib
import hmac
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import Payment
from app.billing.periods import add_months, month_end
from app.clients.models import Subscription
from app.core.formatting import local_time, local_today, utcnow
from app.epay.jobs import expire_requests
from app.epay.models import EpayRequest, EpaySettings
from app.epay.services import start_online_payment
from app.extensions import db
from app.invoices.models import Invoice
from tests.conftest import app_config, migrate_and_prepare, visible_text
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import head_office_cashier, make_client, make_service, make_subscription

KIN = "D476235845"
# ePay.bg's secret words are 64 characters.
SECRET = "NB7C2F5A8E0D3B6F9A1C4E7B0D2F5A8C3E6B9D1F4A7C0E2B5D8F1A3C6E9B2D4"


def configure(secret=SECRET):
    db.session.add(EpaySettings(id=1, kin=KIN, secret=secret, environment="demo", valid_hours=48))
    db.session.commit()


def suspended_debtor(kind="individual", **values):
    """A client whose subscription (10,00 EUR a month) was suspended at the end of last month."""
    today = local_today()
    client = make_client(None, values.pop("name", "Спрян Абонат"), kind=kind, **values)
    subscription = make_subscription(client, make_service("Интернет онлайн", monthly_fee="10.00"),
                                     status="suspended", activation_date=date(2026, 1, 1),
                                     paid_until=month_end(add_months(today, -1)))
    return client, subscription


def company_debtor():
    return suspended_debtor(kind="company", name="Фирма Онлайн", company_name="Онлайн ООД", eik="204123454",
                            mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5")


def started(client, amount="10.00"):
    form = start_online_payment(head_office_cashier(), client, amount, url_ok="http://localhost/my/ok",
                                url_cancel="http://localhost/my/cancel")
    db.session.commit()
    return form


def encoded(lines):
    return base64.b64encode("\n".join(lines).encode("utf-8")).decode("ascii")


def sign(text, secret=SECRET):
    """The CHECKSUM as ePay.bg computes it: hex HMAC-SHA1 of the base64 text."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()


def notification(*lines, secret=SECRET):
    text = encoded(lines)
    return {"ENCODED": text, "CHECKSUM": sign(text, secret)}


def paid_line(invoice, stan="123456"):
    return f"INVOICE={invoice}:STATUS=PAID:PAY_TIME=20261207101500:STAN={stan}:BCODE=AB12CD"


def notify(app, data):
    response = app.test_client().post("/epay/notify", data=data)
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    return response.text


def payments():
    return db.session.scalar(select(func.count()).select_from(Payment))


def test_the_request_is_what_epay_reads_and_its_checksum_is_recomputed(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        form = started(client, "22.80")
        request = db.session.scalars(select(EpayRequest)).one()
        assert request.invoice.isdigit() and request.status == "pending" and request.amount == Decimal("22.80")
        assert request.client_id == client.id
        assert request.expires_at - request.created_at == timedelta(hours=48)
        expiry = local_time(request.expires_at).strftime("%d.%m.%Y %H:%M")
        number = client.client_number
    assert form.url == "https://demo.epay.bg/"
    fields = form.fields
    assert fields["PAGE"] == "paylogin"
    assert (fields["URL_OK"], fields["URL_CANCEL"]) == ("http://localhost/my/ok", "http://localhost/my/cancel")
    assert fields["CHECKSUM"] == hmac.new(SECRET.encode(), fields["ENCODED"].encode(), hashlib.sha1).hexdigest()
    assert "\n" not in fields["ENCODED"]
    assert base64.b64decode(fields["ENCODED"]).decode("utf-8").split("\n") == [
        f"MIN={KIN}", f"INVOICE={request.invoice}", "AMOUNT=22.80", f"EXP_TIME={expiry}",
        f"DESCR=Плащане за абонат № {number}", "CURRENCY=EUR", "ENCODING=utf-8"]


def test_a_second_request_has_another_invoice_number(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        first, second = started(client), started(client)
        assert first.request.invoice != second.request.invoice


def test_no_request_without_the_merchant_settings_or_with_a_bad_amount(app):
    from app.core.errors import FieldErrors

    with app.app_context():
        client, _subscription = suspended_debtor()
        with pytest.raises(FieldErrors, match="не е настроено"):
            start_online_payment(head_office_cashier(), client, "10.00")
        db.session.rollback()
        configure()
        for amount in ("0", "-5", "abc", "1,234"):
            with pytest.raises(FieldErrors):
                start_online_payment(head_office_cashier(), client, amount)
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(EpayRequest)) == 0


def test_paid_records_one_payment_reactivates_and_answers_ok(app):
    with app.app_context():
        configure()
        client, subscription = suspended_debtor()
        invoice = started(client).request.invoice
        subscription_id, client_id = subscription.id, client.id
    answer = notify(app, notification(paid_line(invoice)))
    assert answer == f"INVOICE={invoice}:STATUS=OK\n"
    with app.app_context():
        payment = db.session.scalars(select(Payment)).one()
        assert (payment.client_id, payment.amount, payment.currency) == (client_id, Decimal("10.00"), "EUR")
        assert payment.method.code == "epay" and payment.operator_id is None
        assert f"INVOICE {invoice}" in payment.note and "STAN 123456" in payment.note
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.status, request.payment_id, request.stan, request.bcode, request.pay_time) == \
            ("paid", payment.id, "123456", "AB12CD", "20261207101500")
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.paid_until == month_end(local_today())
        assert subscription.status == "active"  # reactivated by billing's own event, as after any payment
        # The LOG names ePay.bg as who recorded it.
        entry = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Payment",
                                                          LogEntry.operation == LogEntry.INSERT)).one()
        assert entry.username == "ePay.bg" and entry.user_id is None
        # No invoice for an individual.
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_paid_by_a_company_is_invoiced(app):
    with app.app_context():
        configure()
        client, _subscription = company_debtor()
        invoice = started(client).request.invoice
    assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=OK\n"
    with app.app_context():
        payment = db.session.scalars(select(Payment)).one()
        assert db.session.scalar(select(func.count(Invoice.id)).where(Invoice.payment_id == payment.id)) == 1


def test_a_bad_checksum_is_err_and_records_nothing(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
    data = notification(paid_line(invoice))
    for forged in ({**data, "CHECKSUM": sign(data["ENCODED"], "another-secret-word-0123456789")},
                   {**data, "CHECKSUM": ""}, {"ENCODED": data["ENCODED"]}, {"ENCODED": "тест", "CHECKSUM": "абв"},
                   {**data, "ENCODED": encoded([paid_line(invoice, stan="999999")])}):
        assert notify(app, forged) == "ERR=Not valid CHECKSUM\n"
    with app.app_context():
        assert payments() == 0
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.status, request.answer) == ("pending", None)
    # The genuine one is still taken afterwards.
    assert notify(app, data) == f"INVOICE={invoice}:STATUS=OK\n"


def test_an_unknown_invoice_is_no(app):
    with app.app_context():
        configure()
    assert notify(app, notification(paid_line("999999999"))) == "INVOICE=999999999:STATUS=NO\n"
    with app.app_context():
        assert payments() == 0


def test_the_same_notification_twice_gets_the_first_answer_and_pays_once(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
    data = notification(paid_line(invoice))
    first = notify(app, data)
    assert notify(app, data) == first == f"INVOICE={invoice}:STATUS=OK\n"
    # Even a notification of another status for the invoice is given the first answer, and changes nothing.
    assert notify(app, notification(f"INVOICE={invoice}:STATUS=DENIED")) == first
    with app.app_context():
        assert payments() == 1
        assert db.session.scalars(select(EpayRequest)).one().status == "paid"


@pytest.mark.parametrize("status", ["DENIED", "EXPIRED"])
def test_denied_or_expired_records_nothing_and_marks_the_request(app, status):
    with app.app_context():
        configure()
        client, subscription = suspended_debtor()
        invoice = started(client).request.invoice
        subscription_id = subscription.id
    answer = notify(app, notification(f"INVOICE={invoice}:STATUS={status}"))
    assert answer == f"INVOICE={invoice}:STATUS=OK\n"
    with app.app_context():
        assert payments() == 0
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.status, request.payment_id, request.answer) == (status.lower(), None, answer.strip())
        assert db.session.get(Subscription, subscription_id).status == "suspended"
    # A later PAID for it gets the first answer and is not recorded.
    assert notify(app, notification(paid_line(invoice))) == answer
    with app.app_context():
        assert payments() == 0


def test_several_invoices_in_one_notification(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        paid, denied = started(client).request.invoice, started(client).request.invoice
    answer = notify(app, notification(paid_line(paid), f"INVOICE={denied}:STATUS=DENIED", paid_line("1")))
    assert answer.splitlines() == [f"INVOICE={paid}:STATUS=OK", f"INVOICE={denied}:STATUS=OK",
                                   "INVOICE=1:STATUS=NO"]
    with app.app_context():
        assert payments() == 1


def test_a_paid_line_without_its_stan_is_err_and_is_taken_when_sent_whole(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
    assert notify(app, notification(f"INVOICE={invoice}:STATUS=PAID")) == f"INVOICE={invoice}:STATUS=ERR\n"
    with app.app_context():
        assert payments() == 0
    assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=OK\n"


def test_when_billing_refuses_the_payment_epay_is_told_to_send_it_again(app):
    from app.billing.charges import payment_method

    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
        payment_method("epay").active = False
        db.session.commit()
    assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=ERR\n"
    with app.app_context():
        assert payments() == 0
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.status, request.answer) == ("pending", None)
        payment_method("epay").active = True
        db.session.commit()
    assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=OK\n"
    with app.app_context():
        assert payments() == 1


def test_abandoned_requests_expire_and_a_late_notification_is_still_taken(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        request = started(client).request
        invoice = request.invoice
        request.expires_at = utcnow() - timedelta(hours=2)
        fresh = started(client).request.invoice
        db.session.commit()
        assert expire_requests() == 1
        statuses = dict(db.session.execute(select(EpayRequest.invoice, EpayRequest.status)).all())
        assert statuses == {invoice: "expired", fresh: "pending"}
    assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=OK\n"
    with app.app_context():
        assert payments() == 1


def fire_together(app, data, count=20):
    barrier = threading.Barrier(count)
    answers = [None] * count

    def send(index):
        client = app.test_client()
        barrier.wait()
        response = client.post("/epay/notify", data=data)
        answers[index] = (response.status_code, response.text)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def assert_one_payment_for_concurrent_notifications(app):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
    answers = fire_together(app, notification(paid_line(invoice)))
    assert set(answers) == {(200, f"INVOICE={invoice}:STATUS=OK\n")}
    with app.app_context():
        assert payments() == 1
        assert db.session.scalars(select(EpayRequest)).one().status == "paid"


def test_concurrent_notifications_pay_once_on_sqlite(app):
    assert_one_payment_for_concurrent_notifications(app)


@pytest.mark.once
def test_concurrent_notifications_pay_once_on_postgresql():
    url = fresh_postgres_database("billing_epay_test")
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    try:
        assert_one_payment_for_concurrent_notifications(app)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_panel_settings_keep_the_secret_out_of_sight_and_out_of_the_log(app, admin):
    page = admin.get("/epay/settings/")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Настройки на ePay.bg" in text and "http://localhost/epay/notify" in text
    assert "http://localhost/collect/<code>/pay/init" in text
    response = admin.submit("/epay/settings/", {"kin": KIN, "secret": "short", "environment": "production",
                                                "valid_hours": "24"})
    assert "Поне 16 знака" in visible_text(response.text)
    response = admin.submit("/epay/settings/", {"kin": KIN, "secret": SECRET, "environment": "production",
                                                "valid_hours": "24"})
    assert response.status_code == 302
    page = admin.get("/epay/settings/").text
    assert SECRET not in page and "запазена (скрита)" in visible_text(page)
    # Saved again without the secret: the secret stays.
    response = admin.submit("/epay/settings/", {"kin": KIN, "secret": "", "environment": "production",
                                                "valid_hours": "24"})
    assert response.status_code == 302
    with app.app_context():
        settings = db.session.get(EpaySettings, 1)
        assert (settings.kin, settings.secret, settings.environment, settings.url) == \
            (KIN, SECRET, "production", "https://www.epay.bg/")
        notes = " ".join(str(entry.changes) + str(entry.note)
                         for entry in db.session.scalars(select(LogEntry)).all())
        assert SECRET not in notes


def test_panel_lists_online_payments(app, admin):
    with app.app_context():
        configure()
        client, _subscription = suspended_debtor()
        invoice = started(client).request.invoice
    notify(app, notification(paid_line(invoice)))
    text = visible_text(admin.get("/epay/payments/list/").text)
    assert invoice in text and "платено" in text and "10,00 EUR" in text


def test_a_paid_notification_lets_the_subscriber_out_of_the_walled_garden(app):
    """Suspended and online in the NAS's walled garden; ePay.bg says PAID: active, and the NAS gets the
    Disconnect-Request, so the router dials again with its own address and speed."""
    from pyrad import packet as radius_packet

    from app.core.queue import wait_for_background_jobs
    from app.radius.models import RadiusDisconnect
    from tests.radius.test_disconnect import NasListener, online_subscriber

    nas = NasListener(radius_packet.DisconnectACK)
    try:
        with app.app_context():
            configure()
            today = local_today()
        subscription_id = online_subscriber(app, nas, status="suspended", walled_garden_pool="debtors",
                                            paid_until=month_end(add_months(today, -1)))
        with app.app_context():
            client = db.session.get(Subscription, subscription_id).client
            invoice = started(client, "12.90").request.invoice
        assert notify(app, notification(paid_line(invoice))) == f"INVOICE={invoice}:STATUS=OK\n"
        with app.app_context():
            wait_for_background_jobs()
            assert db.session.get(Subscription, subscription_id).status == "active"
    finally:
        nas.close()
    assert [(request["code"], request["User-Name"]) for request in nas.received] == [
        (radius_packet.DisconnectRequest, "petar")]
    with app.app_context():
        assert db.session.scalar(select(RadiusDisconnect.result)) == "ack"
