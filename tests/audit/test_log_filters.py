"""The LOG list filtered by client (the client's business, as the card's История, by number or name) and
without the logins and logouts unless asked for or searched; an entry's own page opens whatever the list hides."""
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.security.permissions import DEALER_ADMINISTRATOR
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_payment, make_service, make_subscription


def test_the_log_lists_one_clients_business_by_number_or_name(app, admin):
    with app.app_context():
        ivan = make_client(None, "Иван Логов Петров")
        maria = make_client(None, "Мария Друга")
        make_subscription(ivan, make_service("Интернет ЛОГ"))
        make_payment(ivan, amount="7.00")
        make_subscription(maria, make_service("Телевизия ЛОГ"))
        db.session.commit()
        number = ivan.client_number
    for typed in (str(number), "петров иван"):
        page = visible_text(admin.get("/log/list/", query_string={"client": typed}).text)
        assert "Иван Логов Петров" in page and "Интернет ЛОГ" in page and "Плащане" in page, typed
        assert "Мария Друга" not in page and "Телевизия ЛОГ" not in page, typed
    nobody = visible_text(admin.get("/log/list/?client=Никой Такъв").text)
    assert "Няма намерени записи" in nobody
    card = admin.get(f"/clients/show/{ivan.id}?tab=all").text
    assert f"/log/list/?client={number}" in card  # the card's История links to it


def test_logins_are_left_out_of_the_plain_list_and_shown_when_asked(app, admin):
    Browser(app, remote_addr="10.8.8.8").login()
    plain = visible_text(admin.get("/log/list/").text)
    assert "10.8.8.8" not in plain and "Входовете и изходите не са показани" in plain
    asked = visible_text(admin.get("/log/list/?logins=1").text)
    assert "10.8.8.8" in asked and "Вход" in asked
    searched = visible_text(admin.get("/log/list/?_flt_0_remote_addr=10.8.8.8").text)
    assert "10.8.8.8" in searched
    Browser(app, remote_addr="10.8.8.9").submit("/login/", {"username": "admin", "password": "wrong"})
    assert "10.8.8.9" in visible_text(admin.get("/log/list/").text)  # a failed login is a warning: always shown
    with app.app_context():
        login_id = db.session.scalar(select(LogEntry.id).where(LogEntry.operation == LogEntry.LOGIN))
    assert admin.get(f"/log/show/{login_id}").status_code == 200


def test_a_dealers_administrator_finds_no_head_office_client_in_the_log(app):
    with app.app_context():
        north = make_dealer("Север")
        make_operator(north, "admin", DEALER_ADMINISTRATOR, username="north-log")
        make_client(None, "Офисен Клиент Логов")
        db.session.commit()
    north_admin = Browser(app)
    north_admin.login("north-log", "operator-pass-123")
    page = visible_text(north_admin.get("/log/list/?client=Офисен Клиент").text)
    assert "Офисен Клиент Логов" not in page and "Няма намерени записи" in page
