"""What the subscriber sees: the card's own money figures, and each service with its status, paid-until day,
speed, whether it is online now (RADIUS) and this month's traffic."""
import re
from datetime import timedelta

import sqlalchemy as sa

from app.billing.charges import due_today
from app.billing.models import DailyTraffic
from app.clients.models import Client
from app.core.formatting import local_time, local_today, utcnow
from app.core.money import format_money
from app.extensions import db
from app.notifications.models import Notification
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


def test_the_traffic_of_the_last_30_days_is_drawn_by_day_from_the_client_s_own_accounting_only(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        b = portal_client("Бета ООД", "B")
        today = local_today()
        gb = 1_000_000_000
        for days_ago, count in ((0, gb // 2), (3, 2 * gb), (29, gb // 4), (30, 9 * gb)):  # the 31st day is not shown
            db.session.add(DailyTraffic(subscription_id=a.subscription_id, day=today - timedelta(days=days_ago),
                                        bytes_in=count // 2, bytes_out=count - count // 2))
        db.session.add(DailyTraffic(subscription_id=b.subscription_id, day=today - timedelta(days=1),
                                    bytes_in=7 * gb, bytes_out=0))
        db.session.commit()
    portal_login(browser, a.number)
    statements = []

    def seen(_connection, _cursor, statement, parameters, *_args):
        if "daily_traffic" in statement and "GROUP BY" not in statement:
            statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        page = browser.get("/my/")
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    html = page.text
    chart = re.search(rf'<div class="traffic" id="traffic-{a.subscription_id}">(.*?)</details>', html, re.S).group(1)
    bars = re.findall(r'<span class="bar[^"]*" style="height: ([0-9.]+)%" title="([^"]+)"', chart)
    assert len(bars) == 30
    assert bars[-1] == ("25.0", f"{today:%d.%m.%Y}: 500 MB")  # today, a quarter of the busiest day
    assert bars[-4] == ("100.0", f"{today - timedelta(days=3):%d.%m.%Y}: 2,00 GB")
    assert bars[0] == ("12.5", f"{today - timedelta(days=29):%d.%m.%Y}: 250 MB")
    assert sum(1 for height, _title in bars if height != "0") == 3
    text = visible_text(chart)
    assert f"Трафик по дни, последните 30 дни · най-много: 2,00 GB на {today - timedelta(days=3):%d.%m.%Y}" in text
    assert "7,00 GB" not in html and "9,00 GB" not in html  # B's day, and A's 31st day
    # One query, by the daily table's key, for the client's own subscriptions only.
    [(statement, parameters)] = statements
    assert "daily_traffic.subscription_id IN" in statement
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
    assert a.subscription_id in values and b.subscription_id not in values


def test_the_notices_sent_to_the_client_are_listed_without_another_s_or_a_password_link(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
        b = portal_client("Бета ООД", "B")
        sent = utcnow().replace(microsecond=0) - timedelta(days=2)
        db.session.add_all([
            Notification(key=f"warning:{a.subscription_id}:x", client_id=a.client_id, recipient="a@example.bg",
                         subject="Напомняне за плащане", body="Дължите 10,00 EUR до 10.12.2026.", status="sent",
                         created_at=sent, sent_at=sent),
            Notification(key="portal-password-abc", client_id=a.client_id, recipient="a@example.bg",
                         subject="Нова парола за портала", body="https://example.bg/my/password/SECRET-TOKEN",
                         status="pending"),
            Notification(key=f"warning:{b.subscription_id}:x", client_id=b.client_id, recipient="b@example.bg",
                         subject="Напомняне до Бета", body="Бета дължи", status="sent", sent_at=sent),
        ])
        db.session.commit()
        shown = f"{local_time(sent):%d.%m.%Y %H:%M:%S}"
    portal_login(browser, a.number)
    html = browser.get("/my/documents").text
    text = visible_text(html)
    assert "Изпратени ви известия" in text
    assert f"{shown} Напомняне за плащане Дължите 10,00 EUR до 10.12.2026. a@example.bg изпратено" \
        in text
    assert "Нова парола за портала a@example.bg изпраща се" in text
    assert "SECRET-TOKEN" not in html  # the link's mail is listed, its text is not
    assert "Бета" not in text and "b@example.bg" not in text


def test_no_notices_is_said_in_a_sentence(app, browser):
    with app.app_context():
        a = portal_client("Алфа ООД", "A")
    portal_login(browser, a.number)
    assert "Все още не сме ви изпращали известия." in visible_text(browser.get("/my/documents").text)
