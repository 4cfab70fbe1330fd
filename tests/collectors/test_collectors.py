"""Payment collectors: what ePay/EasyPay get back, and what the client's account shows afterwards."""
import hashlib
import hmac
import json
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import Charge, Payment, PaymentMethod
from app.billing.periods import month_end
from app.billing.charges import add_charge, payment_method
from app.clients.models import Client, Subscription
from app.collectors.models import CollectorTransaction, PaymentCollector
from app.core.formatting import local_today
from app.extensions import db
from app.protection.models import AllowedAddress
from tests.conftest import app_config, migrate_and_prepare, visible_text
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import make_client, make_service, make_subscription

SECRET = "collector-test-secret-0123456789"
COLLECTOR_ADDRESS = "203.0.113.5"
OUTSIDE = "198.51.100.9"


def checksum(params, secret=SECRET):
    """The signature as the protocol (and ePay's side) computes it."""
    message = "&".join(f"{name}={params[name]}" for name in sorted(params))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed(secret=SECRET, **params):
    return {**params, "CHECKSUM": checksum(params, secret)}


def make_collector(code="epay", addresses="203.0.113.0/24", active=True):
    collector = PaymentCollector(code=code, name="ePay", secret=SECRET, allowed_addresses=addresses,
                                 method=payment_method("epay"), active=active)
    db.session.add(collector)
    db.session.commit()
    return collector


def make_debtor():
    """A client owing a 15,00 EUR charge and this month of a 12,90 EUR subscription: 27,90 EUR."""
    today = local_today()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    client = make_client(None, "Иван Петров")
    service = make_service("Интернет 100", monthly_fee="12.90")
    make_subscription(client, service, activation_date=date(2025, 1, 1), paid_until=last_month_end)
    add_charge(client, "Рутер", "15.00", type_code="other")
    db.session.commit()
    return client.client_number


def collector_client(app, address=COLLECTOR_ADDRESS):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def call(client, operation, data, code="epay"):
    response = client.post(f"/collect/{code}/{operation}", data=data)
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/json"
    return response


def stored_counts():
    return (db.session.scalar(select(func.count()).select_from(Payment)),
            db.session.scalar(select(func.count()).select_from(CollectorTransaction)))


def collector_log():
    return db.session.scalars(
        select(LogEntry).where(LogEntry.operation == LogEntry.COLLECTOR).order_by(LogEntry.id)).all()


def test_init_tells_what_is_due_in_cents(app):
    with app.app_context():
        make_collector()
        number = make_debtor()
        this_month_end = month_end(local_today())
    response = call(collector_client(app), "init", signed(IDN=number))
    answer = response.json
    assert answer["STATUS"] == "00"
    assert answer["IDN"] == number
    assert answer["NAME"] == "Иван Петров"
    assert answer["AMOUNT"] == 2790
    assert answer["SHORTDESC"] == f"Плащане за абонат № {number}"
    assert answer["LONGDESC"].splitlines() == [
        "Рутер: 15,00 EUR", f"Интернет 100 до {this_month_end:%d.%m.%Y}: 12,90 EUR"]
    with app.app_context():
        assert stored_counts() == (0, 0)


def test_init_by_get_and_nothing_due(app):
    with app.app_context():
        make_collector()
        number = make_client(None, "Платил всичко").client_number
    response = collector_client(app).get("/collect/epay/init", query_string=signed(IDN=number))
    assert response.json == {"STATUS": "62"}


def test_confirm_records_the_payment_and_extends_the_subscription(app):
    with app.app_context():
        collector_id = make_collector().id
        number = make_debtor()
    response = call(collector_client(app), "confirm",
                    signed(IDN=number, TID="EP-1001", AMOUNT="2790", DATE="20260301120000"))
    answer = response.json
    assert answer["STATUS"] == "00" and answer["TID"] == "EP-1001"
    with app.app_context():
        payment = db.session.get(Payment, answer["PAYMENT"])
        assert payment.client.client_number == number
        assert payment.method.code == "epay"
        assert payment.collector_id == collector_id and payment.operator_id is None
        assert (payment.amount, payment.currency, payment.amount_eur) == (Decimal("27.90"), "EUR", Decimal("27.90"))
        assert "EP-1001" in payment.note
        client = db.session.scalar(select(Client).where(Client.client_number == number))
        assert db.session.scalar(select(Subscription.paid_until).where(Subscription.client_id == client.id)) \
            == month_end(local_today())
        assert db.session.scalar(select(Charge.paid_by_id).where(Charge.client_id == client.id)) == payment.id
        stored = db.session.scalars(select(CollectorTransaction)).one()
        assert (stored.transaction_id, stored.payment_id, stored.response) == ("EP-1001", payment.id, response.text)
        next_month_end = month_end(month_end(local_today()) + timedelta(days=1))
    # Paid up: the next init offers only the next month.
    answer = call(collector_client(app), "init", signed(IDN=number)).json
    assert answer["AMOUNT"] == 1290
    assert answer["LONGDESC"] == f"Интернет 100 до {next_month_end:%d.%m.%Y}: 12,90 EUR"


def test_repeated_tid_gets_the_first_answer_and_pays_nothing_more(app):
    with app.app_context():
        make_collector()
        number = make_debtor()
    collector = collector_client(app)
    first = call(collector, "confirm", signed(IDN=number, TID="EP-7", AMOUNT="2790"))
    again = call(collector, "confirm", signed(IDN=number, TID="EP-7", AMOUNT="2790"))
    # Even a repeat with another amount only gets the first answer back.
    other = call(collector, "confirm", signed(IDN=number, TID="EP-7", AMOUNT="500"))
    assert first.json["STATUS"] == "00"
    assert again.data == first.data and other.data == first.data
    with app.app_context():
        assert stored_counts() == (1, 1)
        assert db.session.scalar(select(Payment.amount)) == Decimal("27.90")
        assert [entry.note.endswith("(repeated TID)") for entry in collector_log()] == [False, True, True]


@pytest.mark.parametrize("change, status", [
    ({"CHECKSUM": "0" * 64}, "94"),
    ({"IDN": "999999"}, "14"),
    ({"AMOUNT": "0"}, "13"),
    ({"AMOUNT": "-100"}, "13"),
    ({"AMOUNT": "12.5"}, "13"),
    ({"AMOUNT": "abc"}, "13"),
    ({"AMOUNT": "1000000000000"}, "13"),
    ({"TID": "T" * 65}, "96"),
    ({"TID": None}, "96"),
    ({"CHECKSUM": None}, "94"),
])
def test_refused_confirm_stores_nothing(app, change, status):
    with app.app_context():
        make_collector()
        number = make_debtor()
    params = {"IDN": number, "TID": "EP-9", "AMOUNT": "2790"}
    params.update({key: value for key, value in change.items() if key != "CHECKSUM"})
    params = {key: value for key, value in params.items() if value is not None}
    data = signed(**params)
    if "CHECKSUM" in change:
        data["CHECKSUM"] = change["CHECKSUM"]
        data = {key: value for key, value in data.items() if value is not None}
    response = call(collector_client(app), "confirm", data)
    assert response.json == {"STATUS": status}
    with app.app_context():
        assert stored_counts() == (0, 0)
        assert db.session.scalar(select(Charge.paid_by_id)) is None
        [entry] = collector_log()
        assert entry.note.startswith("confirm IDN=") and f"→ {status}" in entry.note
        assert entry.entity_id is None


def test_unknown_or_inactive_collector_and_wrong_secret(app):
    with app.app_context():
        make_collector()
        make_collector(code="easypay", active=False)
        number = make_debtor()
    collector = collector_client(app)
    assert call(collector, "init", signed(IDN=number), code="nobody").json == {"STATUS": "94"}
    assert call(collector, "init", signed(IDN=number), code="easypay").json == {"STATUS": "94"}
    assert call(collector, "init", signed("another-secret-0123456789", IDN=number)).json == {"STATUS": "94"}
    with app.app_context():
        assert [entry.username for entry in collector_log()] == ["nobody", "easypay", "epay"]


@pytest.mark.parametrize("address", [OUTSIDE, COLLECTOR_ADDRESS])
def test_anyone_gets_one_answer_for_an_unknown_code_a_malformed_request_and_a_bad_signature(app, address):
    """Nobody learns from the answers which collector codes exist: until the signature holds, one answer."""
    with app.app_context():
        make_collector()
        number = make_debtor()
    caller = collector_client(app, address)
    answers = [caller.post(url, data=data) for url, data in [
        ("/collect/nobody/init", signed(IDN=number)),  # unknown code
        ("/collect/epay/init", {"IDN": number}),  # malformed: no CHECKSUM
        ("/collect/epay/init", "IDN=1&IDN=2&CHECKSUM=x"),  # malformed: a repeated parameter
        ("/collect/epay/init", {"IDN": number, "CHECKSUM": "not-hex"}),  # malformed CHECKSUM
        ("/collect/epay/init", signed("another-secret-0123456789", IDN=number)),  # bad signature
    ]]
    answers.append(caller.get("/collect/nobody/init"))
    assert {(answer.status_code, answer.mimetype, answer.data) for answer in answers} == \
        {(200, "application/json", b'{"STATUS": "94"}')}
    with app.app_context():
        assert stored_counts() == (0, 0)
        notes = [entry.note for entry in collector_log()]
    assert len(notes) == 6 and all(" → 94: " in note for note in notes)  # the office still sees why


def test_collector_with_a_deactivated_method_records_nothing(app):
    with app.app_context():
        collector = make_collector()
        collector.method = PaymentMethod(name="Стар ePay", active=False)
        number = make_debtor()
    answer = call(collector_client(app), "confirm", signed(IDN=number, TID="EP-4", AMOUNT="2790")).json
    assert answer == {"STATUS": "96"}
    with app.app_context():
        assert stored_counts() == (0, 0)
        [entry] = collector_log()
        assert "→ 96: " in entry.note


@pytest.mark.parametrize("addresses", ["203.0.113.0/24", ""])
def test_other_source_address_is_refused(app, addresses):
    with app.app_context():
        make_collector(addresses=addresses)
        number = make_debtor()
    outside = collector_client(app, OUTSIDE)
    assert call(outside, "init", signed(IDN=number)).json == {"STATUS": "94"}
    assert call(outside, "confirm", signed(IDN=number, TID="EP-3", AMOUNT="2790")).json == {"STATUS": "94"}
    with app.app_context():
        assert stored_counts() == (0, 0)
        assert {entry.remote_addr for entry in collector_log()} == {OUTSIDE}


def test_protection_list_does_not_block_the_collector(app):
    with app.app_context():
        make_collector(addresses=f"{COLLECTOR_ADDRESS}, 2001:db8::/32")
        number = make_debtor()
        db.session.add(AllowedAddress(network="10.0.0.0/8", comment="офис"))
        db.session.commit()
    collector = collector_client(app)
    assert collector.get("/login/").status_code == 403
    assert call(collector, "init", signed(IDN=number)).json["STATUS"] == "00"
    assert call(collector, "confirm", signed(IDN=number, TID="EP-5", AMOUNT="100")).json["STATUS"] == "00"


def test_every_call_is_in_the_log(app):
    with app.app_context():
        make_collector()
        number = make_debtor()
    collector = collector_client(app)
    call(collector, "init", signed(IDN=number))
    call(collector, "init", signed(IDN="404404"))
    paid = call(collector, "confirm", signed(IDN=number, TID="EP-2", AMOUNT="2790")).json
    call(collector, "confirm", signed(IDN=number, TID="EP-2", AMOUNT="2790"))
    call(collector, "confirm", signed(IDN=number, TID="EP-3", AMOUNT="abc"))
    with app.app_context():
        log = collector_log()
        assert [entry.note.split(" → ")[1] for entry in log] == ["00", "14", "00", "00 (repeated TID)", "13"]
        assert {(entry.username, entry.remote_addr) for entry in log} == {("epay", COLLECTOR_ADDRESS)}
        assert log[0].note == f"init IDN={number} → 00"
        assert "TID=EP-2" in log[2].note and "AMOUNT=2790" in log[2].note
        assert (log[2].entity_type, log[2].entity_id) == ("Payment", str(paid["PAYMENT"]))


def fire_together(app, data, count=50):
    """`count` collectors' connections sending the same confirm at the same moment."""
    barrier = threading.Barrier(count)
    answers = [None] * count

    def send(index):
        client = collector_client(app)
        barrier.wait()
        response = client.post("/collect/epay/confirm", data=data)
        answers[index] = (response.status_code, response.data)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def assert_one_payment_for_concurrent_repeats(app):
    with app.app_context():
        make_collector()
        number = make_debtor()
    answers = fire_together(app, signed(IDN=number, TID="EP-RACE", AMOUNT="2790"))
    assert {status for status, _body in answers} == {200}
    assert len({body for _status, body in answers}) == 1
    assert json.loads(answers[0][1])["STATUS"] == "00"
    with app.app_context():
        assert stored_counts() == (1, 1)
        assert len(collector_log()) == 50


def test_concurrent_repeats_pay_once_on_sqlite(app):
    assert_one_payment_for_concurrent_repeats(app)


@pytest.mark.once
def test_concurrent_repeats_pay_once_on_postgresql():
    url = fresh_postgres_database("billing_collectors_test")
    app = create_app(app_config(url))
    migrate_and_prepare(app)
    try:
        assert_one_payment_for_concurrent_repeats(app)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_panel_generates_the_secret_and_checks_addresses(app, admin):
    with app.app_context():
        method_id = payment_method("epay").id
    form = {"name": "ePay", "code": "epay", "method": str(method_id), "secret": "", "active": "y"}
    response = admin.submit("/collectors/add", {**form, "allowed_addresses": "203.0.113.10, 10.0.0.5/8"})
    assert "10.0.0.5/8" in visible_text(response.text) and "имахте ли предвид 10.0.0.0/8" in visible_text(response.text)
    response = admin.submit("/collectors/add", {**form, "allowed_addresses": "ePay сървър"})
    assert "Това не е IP адрес или мрежа" in visible_text(response.text)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentCollector)) == 0

    response = admin.submit("/collectors/add", {**form, "allowed_addresses": "203.0.113.10 198.51.100.0/24"})
    assert response.status_code == 302
    with app.app_context():
        collector = db.session.scalars(select(PaymentCollector)).one()
        assert collector.allowed_addresses == "203.0.113.10/32, 198.51.100.0/24"
        collector_id, secret = collector.id, collector.secret
        assert len(secret) >= 40
    page = visible_text(admin.get("/collectors/list/").text)
    assert "Платежни посредници" in page and "203.0.113.10/32" in page
    # The administrator copies the secret from the collector's page into the collector's settings.
    assert secret in admin.get(f"/collectors/show/{collector_id}").text

    response = admin.submit(f"/collectors/edit/{collector_id}", {**form, "allowed_addresses": "203.0.113.10",
                                                                 "secret": "too-short"})
    assert "Поне 16 знака" in visible_text(response.text)
    response = admin.submit(f"/collectors/edit/{collector_id}", {**form, "allowed_addresses": "203.0.113.10"})
    assert response.status_code == 302
    with app.app_context():
        collector = db.session.get(PaymentCollector, collector_id)
        assert collector.allowed_addresses == "203.0.113.10/32"
        assert len(collector.secret) >= 40 and collector.secret != secret


def test_init_asks_what_is_due_less_the_advance(app):
    from tests.factories import make_payment

    with app.app_context():
        make_collector()
        client = make_client(None, "С аванс")
        subscription = make_subscription(client, make_service("Интернет аванс", monthly_fee="12.90"),
                                         status="terminated", activation_date=date(2025, 1, 1),
                                         paid_until=month_end(local_today().replace(day=1) - timedelta(days=1)))
        make_payment(client, amount="5.00")  # nothing live to pay: it all stays an advance
        db.session.get(Subscription, subscription.id).status = "active"
        db.session.commit()
        number = client.client_number
    answer = call(collector_client(app), "init", signed(IDN=number)).json
    assert answer["STATUS"] == "00" and answer["AMOUNT"] == 790
    assert answer["LONGDESC"].splitlines()[-1] == "Минус аванса: 5,00 EUR"
