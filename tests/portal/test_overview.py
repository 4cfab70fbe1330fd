"""What the subscriber sees: the card's own money figures, and each service with its status, paid-until day,
speed, whether it is online now (RADIUS) and this month's traffic."""
from datetime import timedelta

from app.billing.charges import due_today
from app.billing.models import DailyTraffic
from app.clients.models import Client
from app.core.formatting import local_today, utcnow
from app.core.money import format_money
from app.extensions import db
from app.radius.models import Nas, RadiusSession
from tests.conftest import visible_text
from tests.portal.helpers import portal_client, portal_login


def test_the_overview_shows_the_card_s_figures_and_each_service_as_radius_sees_it(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        client = db.session.get(Client, a.client_id)
        subscription = client.subscriptions[0]
        subscription.paid_until = local_today() - timedelta(days=3)  # owing: a period is due today
        nas = Nas(name="NAS 1", ip_address="10.0.0.1", secret="nas-secret-1")
        db.session.add(nas)
        db.session.flush()
        now = utcnow()
        db.session.add(RadiusSession(nas_id=nas.id, acct_session_id="s1", username="user-a",
                                     subscription_id=subscription.id, framed_ip="100.64.0.7", started_at=now,
                                     updated_at=now))
        db.session.add(DailyTraffic(subscription_id=subscription.id, day=local_today(), bytes_in=1_000_000_000,
                                    bytes_out=500_000_000))
        db.session.commit()
        money = due_today(client)
        due, paid_until = format_money(money.due_eur, "EUR"), subscription.paid_until.strftime("%d.%m.%Y")
        assert money.due_eur > 0
    portal_login(browser, a.number)
    text = visible_text(browser.get("/my/").text)
    assert f"Дължимо днес {due}" in text
    assert "Следващо плащане" in text and f"Платете {due}" in text
    assert f"Платено до {paid_until}" in text
    assert "Активна" in text and "онлайн сега" in text and "100.64.0.7" in text
    assert "Скорост ↓ 100 Mbit/s · ↑ 20 Mbit/s" in text
    assert "Трафик този месец 1,50 GB" in text
    pay = visible_text(browser.get("/my/pay").text)
    assert f"Дължима сума днес: {due}" in pay and "Плащане онлайн през ePay.bg" in pay
