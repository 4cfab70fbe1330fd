"""ePay.bg's billing protocol spoken by a collector of that type: /pay/init and /pay/confirm by GET."""
import hashlib
import hmac
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.billing.charges import add_charge, payment_method
from app.billing.models import Payment
from app.billing.periods import month_end
from app.collectors.epay_billing import long_description
from app.collectors.models import CollectorTransaction, PaymentCollector
from app.core.formatting import local_today
from app.extensions import db
from tests.factories import make_client, make_service, make_subscription

# "All sample requests will be encrypted with SECRET: 3EA1ABD845C3D684" (ePay.bg's knowledge base).
SAMPLE_SECRET = "3EA1ABD845C3D684"
MERCHANT = "1234"
ADDRESS = "203.0.113.5"


def kb_checksum(params, secret=SAMPLE_SECRET):
    """As the knowledge base describes it: each key, its value and "\\n", keys sorted; HMAC-SHA1, hex."""
    data = "".join(f"{key}{params[key]}\n" for key in sorted(params))
    return hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest()


def signed(secret=SAMPLE_SECRET, **params):
    return {**params, "CHECKSUM": kb_checksum(params, secret).upper()}


def make_epay_collector(code="epaybg", protocol="epay_billing", merchant_id=MERCHANT):
    collector = PaymentCollector(code=code, name="ePay.bg", secret=SAMPLE_SECRET, allowed_addresses="203.0.113.0/24",
                                 method=payment_method("epay"), active=True, protocol=protocol,
                                 merchant_id=merchant_id)
    db.session.add(collector)
    db.session.commit()
    return collector


def make_debtor():
    """Owes a 15,00 EUR charge and this month of a 12,90 EUR subscription: 27,90 EUR."""
    today = local_today()
    client = make_client(None, "Иван Петров")
    make_subscription(client, make_service("Интернет 100", monthly_fee="12.90"), activation_date=date(2025, 1, 1),
                      paid_until=today.replace(day=1) - timedelta(days=1))
    add_charge(client, "Рутер", "15.00", type_code="other")
    db.session.commit()
    return client.client_number


def get(app, operation, params, code="epaybg"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    response = client.get(f"/collect/{code}/pay/{operation}", query_string=params)
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/json"
    return response


def counts():
    return (db.session.scalar(select(func.count()).select_from(Payment)),
            db.session.scalar(select(func.count()).select_from(CollectorTransaction)))


def test_init_of_a_subscriber_who_owes(app):
    with app.app_context():
        make_epay_collector()
        number = make_debtor()
        today = local_today()
    response = get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING",
                                       TID=f"{today:%Y%m%d}101500" + "000001" + "000002"))
    answer = response.json
    assert list(answer) == ["STATUS", "IDN", "SHORTDESC", "LONGDESC", "AMOUNT", "VALIDTO", "INVOICE"]
    assert answer["STATUS"] == "00" and answer["IDN"] == number and answer["AMOUNT"] == 2790
    assert answer["SHORTDESC"] == f"Плащане за абонат № {number}"
    assert answer["LONGDESC"] == f"Рутер: 15,00 EUR\\nИнтернет 100 до {month_end(today):%d.%m.%Y}: 12,90 EUR"
    assert answer["VALIDTO"] == f"{today:%Y%m%d}" and answer["INVOICE"] == f"{number}-{today:%Y%m%d}"
    with app.app_context():
        assert counts() == (0, 0)


def test_init_check_tells_the_subscriber_exists(app):
    with app.app_context():
        make_epay_collector()
        number = make_debtor()
    answer = get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="CHECK")).json
    assert answer == {"STATUS": "00", "IDN": number, "SHORTDESC": "Иван Петров"}


def test_init_of_a_subscriber_who_owes_nothing_or_does_not_exist(app):
    with app.app_context():
        make_epay_collector()
        number = make_client(None, "Платил всичко").client_number
    assert get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING")).json == {"STATUS": "62"}
    assert get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="PARTIAL")).json == {"STATUS": "62"}
    # A deposit needs no obligation.
    answer = get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="DEPOSIT")).json
    assert (answer["STATUS"], answer["AMOUNT"]) == ("00", 0)
    assert get(app, "init", signed(IDN="99999999", MERCHANTID=MERCHANT, TYPE="BILLING")).json == {"STATUS": "14"}


def test_confirm_records_the_payment_once_and_a_repeat_gets_the_first_answer(app):
    with app.app_context():
        collector_id = make_epay_collector().id
        number = make_debtor()
    tid = "20261207101500" + "123456" + "654321"
    params = signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING", TID=tid, TOTAL="2790",
                    INVOICE=f"{number}-20261207", DATE="20261207101500")
    first = get(app, "confirm", params)
    assert first.json == {"STATUS": "00", "IDN": number, "TID": tid}
    again = get(app, "confirm", params)
    assert again.data == first.data
    with app.app_context():
        assert counts() == (1, 1)
        payment = db.session.scalars(select(Payment)).one()
        assert (payment.amount, payment.currency, payment.collector_id) == (Decimal("27.90"), "EUR", collector_id)
        assert payment.method.code == "epay" and tid in payment.note
    # Paid up: the next init asks only for next month.
    answer = get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING")).json
    assert answer["AMOUNT"] == 1290


def test_a_deposit_of_any_amount_is_kept_as_an_advance(app):
    with app.app_context():
        make_epay_collector()
        number = make_client(None, "Авансов").client_number
    tid = "20261207101500" + "000001" + "000001"
    params = signed(IDN=number, MERCHANTID=MERCHANT, TYPE="DEPOSIT", TID=tid, TOTAL="5000")
    assert get(app, "confirm", params).json["STATUS"] == "00"
    with app.app_context():
        assert db.session.scalars(select(Payment)).one().amount_eur == Decimal("50.00")


def test_a_bad_checksum_gets_one_answer_and_records_nothing(app):
    with app.app_context():
        make_epay_collector()
        number = make_debtor()
    tid = "20261207101500" + "000001" + "000003"
    params = signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING", TID=tid, TOTAL="2790")
    for forged in ({**params, "TOTAL": "1"}, {**params, "CHECKSUM": ""},
                   signed(secret="another-secret-16", IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING", TID=tid,
                          TOTAL="2790"),
                   # the signature of our own protocol's style (sorted "KEY=value&…", SHA-256) is not this one's
                   {**{k: v for k, v in params.items() if k != "CHECKSUM"}, "CHECKSUM": hmac.new(
                       SAMPLE_SECRET.encode(), "&".join(f"{k}={v}" for k, v in sorted(params.items())
                                                        if k != "CHECKSUM").encode(), hashlib.sha256).hexdigest()},
                   signed(IDN=number, MERCHANTID="9999", TYPE="BILLING", TID=tid, TOTAL="2790")):
        assert get(app, "confirm", forged).json == {"STATUS": "93"}
    assert get(app, "init", {**signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING"), "IDN": "1"}).json == \
        {"STATUS": "93"}
    with app.app_context():
        assert counts() == (0, 0)


@pytest.mark.parametrize("change, status", [
    ({"TID": "T-1"}, "96"), ({"TID": "1" * 27}, "96"), ({"TOTAL": "0"}, "96"), ({"TOTAL": "12.90"}, "96"),
    ({"TYPE": "REFUND"}, "96"), ({"IDN": "99999999"}, "14"),
])
def test_malformed_confirms_record_nothing(app, change, status):
    with app.app_context():
        make_epay_collector()
        number = make_debtor()
    params = {"IDN": number, "MERCHANTID": MERCHANT, "TYPE": "BILLING", "TID": "2026120710150000000100000" + "4",
              "TOTAL": "2790", **change}
    assert get(app, "confirm", signed(**params)).json == {"STATUS": status}
    with app.app_context():
        assert counts() == (0, 0)


def test_each_protocol_only_on_its_own_addresses(app):
    with app.app_context():
        make_epay_collector()
        make_epay_collector(code="own", protocol="own", merchant_id=None)
        number = make_debtor()
    assert get(app, "init", signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING"), code="own").json == \
        {"STATUS": "93"}
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    own_style = {"IDN": number}
    own_style["CHECKSUM"] = hmac.new(SAMPLE_SECRET.encode(), f"IDN={number}".encode(), hashlib.sha256).hexdigest()
    assert client.post("/collect/epaybg/init", data=own_style).json == {"STATUS": "94"}
    assert client.post("/collect/own/init", data=own_style).json["STATUS"] == "00"
    # A call from outside the collector's addresses is refused alike.
    outside = app.test_client()
    outside.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    response = outside.get("/collect/epaybg/pay/init",
                           query_string=signed(IDN=number, MERCHANTID=MERCHANT, TYPE="BILLING"))
    assert response.json == {"STATUS": "93"}


def test_long_description_escapes_and_lengths():
    text = long_description(["a" * 230, "ред\tс табулация", "C:\\път"])
    assert "\n" not in text
    lines = text.split("\\n")
    assert [len(line) for line in lines[:3]] == [110, 110, 10]
    assert lines[3] == "ред\\tс табулация" and lines[4] == "C:/път"
    assert len(long_description(["дълъг ред " * 20] * 100)) <= 4000


def test_panel_offers_the_protocol_and_the_merchant_id(app, admin):
    with app.app_context():
        method_id = payment_method("epay").id
    form = {"name": "ePay.bg", "code": "epaybg", "method": str(method_id), "secret": SAMPLE_SECRET, "active": "y",
            "allowed_addresses": "203.0.113.0/24", "protocol": "epay_billing", "merchant_id": "12ab"}
    response = admin.submit("/collectors/add", form)
    assert "До 8 цифри" in response.text
    response = admin.submit("/collectors/add", {**form, "merchant_id": MERCHANT})
    assert response.status_code == 302
    with app.app_context():
        collector = db.session.scalars(select(PaymentCollector)).one()
        assert (collector.protocol, collector.merchant_id) == ("epay_billing", MERCHANT)
    assert "ePay.bg billing" in admin.get("/collectors/list/").text
    answer = json.loads(get(app, "init", signed(IDN="1", MERCHANTID=MERCHANT, TYPE="CHECK")).data)
    assert answer == {"STATUS": "14"}
