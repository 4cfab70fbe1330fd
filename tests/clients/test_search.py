"""The client search finds what the office types: a phone in any of its written forms, a name by its words
in any order; one hit opens the card; the list's names lead to the cards; the card's tabs count their records.

Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL); the migration's backfill on both.
"""
import re

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from app.clients.models import Client
from app.clients.services import search_condition, update_client
from app.core.phones import phone_key, phone_keys
from app.extensions import db
from tests.conftest import Browser, app_config, visible_text
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import head_office_cashier, make_client, make_dealer, make_operator

# One mobile number as a caller ID, a form, a client and old records write it.
FORMS_OF_ONE_NUMBER = ["+359 888 123 456", "00359888123456", "0888-123-456", "888 123 456", "0888123456",
                       "+359888123456", "359888123456", "+359 (0) 888 123 456", "(0888) 12 34 56", "0888.123.456"]


@pytest.mark.parametrize("written", FORMS_OF_ONE_NUMBER)
def test_every_written_form_of_a_number_has_one_key(written):
    assert phone_key(written) == "888123456"


@pytest.mark.parametrize("written, key", [
    ("02 987 6543", "29876543"),  # Sofia: 8-digit national number
    ("+359 2 987 6543", "29876543"),
    ("032 123 456", "32123456"),  # Plovdiv
    ("+44 20 7946 0958", "442079460958"),  # another country keeps its code
    ("0044 20 7946 0958", "442079460958"),
    ("0888 123", "888123"),  # a part of a number stays a part of the key
    ("", ""),
    ("няма", ""),
])
def test_keys_of_other_numbers(written, key):
    assert phone_key(written) == key


def test_a_clients_phones_are_keyed_each():
    assert phone_keys("0888 123 456, +359 2 987 6543,  ") == "888123456 29876543"


def found_names(text):
    """What the panel's search condition finds, read from the database."""
    return set(db.session.scalars(select(Client.name).where(search_condition(text))))


@pytest.mark.parametrize("stored", ["0888123456", "+359 888 123 456", "00359 888 123 456", "888-123-456"])
def test_the_search_finds_a_stored_phone_by_every_form_typed(app, stored):
    with app.app_context():
        make_client(None, "Иван Георгиев Петров", phone=f"02 111 2222, {stored}")
        make_client(None, "Друг Клиент", phone="0888 654 321")
        for typed in FORMS_OF_ONE_NUMBER + ["123 456", "0888 123"]:
            assert found_names(typed) == {"Иван Георгиев Петров"}, (stored, typed)
        assert found_names("+359 888 654 321") == {"Друг Клиент"}
        assert found_names("+359 888 000 000") == set()
        # The other number of the client, the landline, by its own forms
        assert found_names("+359 2 111 2222") == {"Иван Георгиев Петров"}


@pytest.mark.parametrize("typed", ["Иван Петров", "Петров Иван", "иван петров", "ИВАН ГЕОРГИЕВ ПЕТРОВ",
                                   "петр иван", "  Иван   Петров  ", "Иван, Петров", "Георгиев"])
def test_the_search_finds_a_name_by_its_words_in_any_order(app, typed):
    with app.app_context():
        make_client(None, "Иван Георгиев Петров")
        make_client(None, "Иван Стоянов Димитров")
        make_client(None, "Мария Петрова")
        assert found_names(typed) == {"Иван Георгиев Петров"}


def test_a_name_is_found_only_with_every_typed_word(app):
    with app.app_context():
        make_client(None, "Иван Георгиев Петров")
        make_client(None, "Мария Петрова")
        assert found_names("Иван Петров") == {"Иван Георгиев Петров"}
        assert found_names("Петрова") == {"Мария Петрова"}
        assert found_names("Иван Петрова") == set()
        assert found_names("петров") == {"Иван Георгиев Петров", "Мария Петрова"}


def test_the_lists_and_the_apis_phone_filter_read_a_number_as_the_search_does(app, admin, api):
    with app.app_context():
        make_client(None, "Иван Георгиев Петров", phone="0888123456")
        make_client(None, "Друг Клиент", phone="0899 000 111")
    page = visible_text(admin.get("/clients/list/", query_string={"_flt_0_phone": "+359 888 123 456"}).text)
    assert "Иван Георгиев Петров" in page and "Друг Клиент" not in page
    query = "(filters:!((col:phone,opr:ct_number,value:'00359 888 123 456')))"
    response = api.get("/api/v1/clients/", query_string={"q": query})
    assert response.status_code == 200, response.text
    assert [row["name"] for row in response.json["result"]] == ["Иван Георгиев Петров"]
    response = api.get("/api/v1/clients/", query_string={"q": "(filters:!((col:phone,opr:ct_number,value:'няма')))"})
    assert response.status_code == 200 and response.json["count"] == 0


def test_saving_a_client_keeps_its_phone_key(app, admin):
    with app.app_context():
        client = make_client(None, "Петя Маринова", phone="0888 111 222")
        client_id = client.id
        update_client(head_office_cashier(), client, phone="+359 899 333 444")
        db.session.commit()
        assert found_names("0888 111 222") == set()
        assert found_names("0899 333 444") == {"Петя Маринова"}
    # …and so does the panel's form, which saves through the same operation.
    form = {"kind": "individual", "name": "Петя Маринова", "phone": "00359 877 555 666"}
    assert admin.submit(f"/clients/edit/{client_id}", form).status_code == 302
    with app.app_context():
        assert db.session.get(Client, client_id).phone_digits == "877555666"
        assert found_names("0877 555 666") == {"Петя Маринова"}


def test_one_hit_opens_the_card_and_more_are_listed_with_links(app, admin):
    with app.app_context():
        ivan = make_client(None, "Иван Георгиев Петров", phone="0888123456")
        other = make_client(None, "Иван Петров Иванов")
        ivan_id, other_id = ivan.id, other.id
    for typed in ("+359 888 123 456", "Георгиев Петров"):
        response = admin.get("/clients/list/", query_string={"q": typed})
        assert response.status_code == 302 and response.location.endswith(f"/clients/show/{ivan_id}"), typed
    listed = admin.get("/clients/list/", query_string={"q": "Иван Петров"})
    assert listed.status_code == 200
    links = dict(re.findall(r'<a class="client-link" href="([^"]+)">([^<]+)</a>', listed.text))
    assert links == {f"/clients/show/{ivan_id}": "Иван Георгиев Петров",
                     f"/clients/show/{other_id}": "Иван Петров Иванов"}
    # The list without a search stays a list, one client or many.
    assert admin.get("/clients/list/").status_code == 200
    assert "няма такъв" not in visible_text(admin.get("/clients/list/", query_string={"q": "няма такъв"}).text)


def test_a_dealers_operator_is_never_led_to_another_dealers_client(app):
    with app.app_context():
        make_client(None, "Иван Георгиев Петров", phone="0888123456")
        dealer = make_dealer("Алфа")
        make_operator(dealer, "каса", "Касиер", username="alpha-cashier")
    cashier = Browser(app)
    cashier.login("alpha-cashier", "operator-pass-123")
    response = cashier.get("/clients/list/", query_string={"q": "+359 888 123 456"})
    assert response.status_code == 200 and "Иван Георгиев Петров" not in visible_text(response.text)


def test_the_cards_tabs_count_their_records(app, admin):
    from app.organizer.models import TaskType, TaskTypeStep
    from app.organizer.services import create_task
    from tests.factories import make_contract, make_payment, make_service, make_subscription

    with app.app_context():
        client = make_client(None, "Иван Георгиев Петров")
        make_subscription(client, make_service("Интернет 100"))
        make_subscription(client, make_service("Кабелна телевизия"), status="pending")
        for amount in ("10.00", "20.00", "30.00"):
            make_payment(client, amount=amount)
        make_contract(client)
        task_type = TaskType(name="Авария", steps=[TaskTypeStep(position=1, name="Проверка")])
        db.session.add(task_type)
        create_task(head_office_cashier(), task_type=task_type, client=client, description="Няма връзка")
        db.session.commit()
        client_id = client.id
        empty_id = make_client(None, "Нов Клиент").id
    page = admin.get(f"/clients/show/{client_id}").text
    counts = dict(re.findall(r'<span class="badge" id="count-(\w+)">(\d+)</span>', page))
    assert counts == {"services": "2", "payments": "3", "documents": "1", "tasks": "1"}
    tabs = visible_text(page.split('id="card-tabs"', 1)[1].split("</ul>", 1)[0])
    assert "Услуги 2" in tabs and "Задачи 1" in tabs
    page = admin.get(f"/clients/show/{empty_id}").text
    assert dict(re.findall(r'<span class="badge" id="count-(\w+)">(\d+)</span>', page)) == {
        "services": "0", "payments": "0", "documents": "0", "tasks": "0"}


def test_a_tab_the_operator_may_not_read_has_no_counter(app):
    from tests.factories import make_payment

    with app.app_context():
        client = make_client(None, "Иван Георгиев Петров")
        make_payment(client, amount="10.00")
        client_id = client.id
        make_operator(None, "поддръжка", "Техническа поддръжка", username="support")
        make_operator(None, "каса", "Касиер", username="cashier")
    counters = {}
    for username in ("support", "cashier"):
        operator = Browser(app)
        operator.login(username, "operator-pass-123")
        page = operator.get(f"/clients/show/{client_id}").text
        counters[username] = dict(re.findall(r'<span class="badge" id="count-(\w+)">(\d+)</span>', page))
    # Technical support sees no payments and plans tasks; a cashier takes payments, and the client's faults
    # (so reads the client's tasks: app.organizer.services.report_fault).
    assert counters == {"support": {"services": "0", "documents": "0", "tasks": "0"},
                        "cashier": {"services": "0", "payments": "1", "documents": "0", "tasks": "0"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_before_the_keys(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'before.db'}"
    return fresh_postgres_database("billing_phone_keys_test")


@pytest.mark.once
def test_the_upgrade_keys_the_phones_of_existing_clients(database_before_the_keys):
    app = create_app(app_config(database_before_the_keys))
    with app.app_context():
        upgrade(revision="0025")
        with db.engine.begin() as connection:
            for number, phone, digits in [("100001", "+359 888 123 456", "359888123456"),
                                          ("100002", "0888 111 222, 02/987 65 43", "0888111222 029876543"),
                                          ("100003", None, None)]:
                connection.execute(sa.text(
                    "INSERT INTO client (client_number, kind, name, phone, phone_digits, vat_registered, "
                    "created_at) VALUES (:number, 'individual', 'Клиент', :phone, :digits, false, "
                    "'2026-11-01 10:00:00')"), {"number": number, "phone": phone, "digits": digits})
        upgrade()
        with db.engine.connect() as connection:
            keys = dict(connection.execute(sa.text("SELECT client_number, phone_digits FROM client")).all())
        db.engine.dispose()
    assert keys == {"100001": "888123456", "100002": "888111222 29876543", "100003": None}
