"""The portal opened from the walled garden: the subscriber of the address's live RADIUS session sees, without a
login, their initials, what is due today and "Плати" — nothing else of the account — and pays only that."""
import base64
import hashlib
import hmac
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from app.billing.periods import add_months, month_end
from app.core.formatting import local_today, utcnow
from app.epay.models import EpayRequest
from app.extensions import db
from app.radius.models import Nas, RadiusSession
from tests.conftest import Browser, app_config, visible_text
from tests.epay.test_web_merchant import SECRET, configure
from tests.factories import make_client, make_service, make_subscription
from app.portal.services import demo_password
from tests.portal.helpers import PASSWORD, portal_login
from tests.portal.test_pay import hidden_fields

GARDEN_ADDRESS = "10.99.0.7"


def garden_nas(pool="garden", address="127.0.0.1"):
    nas = Nas(name=f"NAS {address}", ip_address=address, secret="nas-secret-123", vendor="mikrotik",
              walled_garden_pool=pool)
    db.session.add(nas)
    db.session.commit()
    return nas


def subscriber(name, username, status="suspended", months_behind=1):
    """A RADIUS subscription of 10,00 EUR a month, paid until the end of a past month when suspended."""
    client = make_client(None, name)
    today = local_today()
    paid_until = month_end(add_months(today, -months_behind)) if status == "suspended" else today + timedelta(days=20)
    subscription = make_subscription(client, make_service(f"Интернет {username}", username_type="radius",
                                                          monthly_fee="10.00"),
                                     status=status, activation_date=date(2026, 1, 1), paid_until=paid_until,
                                     username=username, password="parola-123")
    db.session.commit()
    return subscription


def session_at(nas, subscription, address=GARDEN_ADDRESS, started_ago=60, reported_ago=30, stopped=False,
               acct_session_id=None):
    now = utcnow()
    db.session.add(RadiusSession(
        nas=nas, acct_session_id=acct_session_id or f"s-{subscription.id}-{started_ago}",
        username=subscription.username, subscription_id=subscription.id, framed_ip=address,
        started_at=now - timedelta(seconds=started_ago), updated_at=now - timedelta(seconds=reported_ago),
        stopped_at=now if stopped else None))
    db.session.commit()


def requests_made():
    return db.session.scalar(select(func.count(EpayRequest.id)))


def test_from_a_walled_garden_address_the_portal_shows_the_amount_and_pays_it(app):
    with app.app_context():
        configure()
        subscription = subscriber("Петър Иванов Стоянов", "petar-garden")
        session_at(garden_nas(), subscription)
        client_id, number = subscription.client_id, subscription.client.client_number
    garden = Browser(app, remote_addr=GARDEN_ADDRESS)
    page = garden.get("/my/")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Достъпът ви е ограничен" in text and "Абонат П. И. С." in text
    assert "Дължите 10,00 EUR" in text and "Плати" in text
    # Nothing else of the account: no name, number, username, service, menu or logout.
    for private in ("Петър", "Стоянов", number, "petar-garden", "Интернет", "Плащания", "Документи", "Изход"):
        assert private not in text, private

    # Anyone else is asked to log in.
    elsewhere = Browser(app, remote_addr="10.99.0.8").get("/my/")
    assert elsewhere.status_code == 302 and "/my/login" in elsewhere.headers["Location"]

    answer = garden.submit("/my/garden/pay", {"page": "credit_paydirect", "what": "next", "amount": "1.00"},
                           form_url="/my/")
    assert answer.status_code == 200, answer.text
    assert 'action="https://demo.epay.bg/"' in answer.text
    fields = hidden_fields(answer.text)
    assert fields["CHECKSUM"] == hmac.new(SECRET.encode(), fields["ENCODED"].encode(), hashlib.sha1).hexdigest()
    lines = dict(line.split("=", 1) for line in base64.b64decode(fields["ENCODED"]).decode().splitlines())
    assert lines["AMOUNT"] == "10.00"  # what is due today, whatever else was posted
    assert fields["URL_OK"] == "http://localhost/my/?result=ok"
    with app.app_context():
        request = db.session.scalars(select(EpayRequest)).one()
        assert (request.client_id, request.invoice, request.started_by) == (client_id, lines["INVOICE"],
                                                                          f"абонат {number}")

    # Back from ePay.bg, still in the garden until the notification arrives.
    back = visible_text(garden.get("/my/?result=ok").text)
    assert "Щом ePay.bg ни извести за плащането" in back


def test_the_garden_page_needs_a_live_session_of_a_subscriber_in_the_walled_garden(app):
    """Each of these addresses gets the login page, and its "Плати" starts nothing."""
    with app.app_context():
        configure()
        nas = garden_nas()
        without_garden = garden_nas(pool=None, address="127.0.0.2")
        session_at(nas, subscriber("Активен Абонат", "active-one", status="active"), address="10.99.0.1")
        session_at(nas, subscriber("Спрян Спрян", "stopped"), address="10.99.0.2", stopped=True)
        # Silent for longer than 2 × the interim interval and the margin: housekeeping's stale session.
        session_at(nas, subscriber("Мълчи Мълчанов", "silent"), address="10.99.0.3", started_ago=9000,
                   reported_ago=2 * 300 + 120 + 60)
        session_at(without_garden, subscriber("Без Градина", "no-garden"), address="10.99.0.4")
        # The address moved on: an older session of a debtor, a newer one of an active subscriber.
        session_at(nas, subscriber("Стар Длъжник", "old-debtor"), address="10.99.0.5", started_ago=3000)
        session_at(nas, subscriber("Нов Активен", "new-active", status="active"), address="10.99.0.5",
                   started_ago=100)
        session_at(nas, subscriber("Прекратен Абонат", "ended", status="terminated"), address="10.99.0.6")
    for address in ("10.99.0.1", "10.99.0.2", "10.99.0.3", "10.99.0.4", "10.99.0.5", "10.99.0.6", "not-an-ip"):
        visitor = Browser(app, remote_addr=address)
        page = visitor.get("/my/")
        assert page.status_code == 302 and "/my/login" in page.headers["Location"], address
        token = visitor.csrf_token("/my/login")
        refused = visitor.client.post("/my/garden/pay", data={"csrf_token": token, "page": "credit_paydirect"})
        assert refused.status_code == 422, address
        assert "Този адрес вече не е с ограничен достъп" in visible_text(refused.text)
    with app.app_context():
        assert requests_made() == 0


def test_behind_the_configured_proxy_the_forwarded_address_is_the_subscribers(app, database_url):
    """nginx in front (TRUSTED_PROXIES=1): the address is the one nginx forwards, not nginx's own."""
    with app.app_context():
        configure()
        session_at(garden_nas(), subscriber("Мария Петрова", "maria-garden"))
    proxied = create_app(app_config(database_url, TRUSTED_PROXIES=1))
    nginx = Browser(proxied, remote_addr="127.0.0.1")
    page = nginx.get("/my/", headers={"X-Forwarded-For": GARDEN_ADDRESS})
    assert page.status_code == 200 and "Абонат М. П." in visible_text(page.text)
    elsewhere = nginx.get("/my/", headers={"X-Forwarded-For": "198.51.100.20"})
    assert elsewhere.status_code == 302
    # Without the proxy setting a forwarded address is nobody's word.
    assert Browser(app, remote_addr="127.0.0.1").get("/my/", headers={"X-Forwarded-For": GARDEN_ADDRESS}) \
        .status_code == 302


@pytest.mark.parametrize("owed", [False, True])
def test_nothing_owed_shows_no_button_and_a_logged_in_subscriber_sees_the_account(app, owed):
    with app.app_context():
        configure()
        subscription = subscriber("Георги Георгиев", "georgi-garden", months_behind=1 if owed else 0)
        session_at(garden_nas(), subscription)
        demo_password(subscription.client, PASSWORD)
        db.session.commit()
        number = subscription.client.client_number
    garden = Browser(app, remote_addr=GARDEN_ADDRESS)
    text = visible_text(garden.get("/my/").text)
    assert "Абонат Г. Г." in text
    if owed:
        assert "Дължите 10,00 EUR" in text
    else:
        assert "В момента няма какво да платите онлайн." in text and "Дължите" not in text
    portal_login(garden, number)
    text = visible_text(garden.get("/my/").text)
    assert "Георги Георгиев" in text and "Интернет georgi-garden" in text and "Абонат Г. Г." not in text
