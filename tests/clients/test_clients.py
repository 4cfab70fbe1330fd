"""Clients: identity by type, ЕГН privacy, the card, the one search box."""
import pytest
from sqlalchemy import func, select

from app.addresses.models import Block, City, Neighbourhood
from app.audit.models import LogEntry
from app.clients.models import Client
from app.clients.services import format_address
from app.extensions import db
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_dealer, make_operator


def client_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Client.id)))


def make_block(name="105"):
    sofia = City(name="София")
    neighbourhood = Neighbourhood(city=sofia, kind="ж.к.", name="Младост 1")
    block = Block(neighbourhood=neighbourhood, name=name)
    db.session.add(block)
    db.session.commit()
    return block


@pytest.mark.parametrize(
    "egn, message",
    [
        ("801205603", "ЕГН трябва да съдържа 10 цифри."),
        ("8002300000", "Невалидно ЕГН: не съдържа валидна дата на раждане."),
        ("8012056038", "Невалидно ЕГН: контролната цифра не съвпада."),
        # Right checksums, but no living person's birth date: 15.01.2099 and 16.03.1875.
        ("9941150003", "Невалидно ЕГН: рождената дата е в бъдещето."),
        ("7523169263", "Невалидно ЕГН: рождената дата е преди повече от 120 години."),
    ],
)
def test_wrong_egn_refused_under_its_field(app, admin, egn, message):
    response = admin.submit("/clients/add", {"kind": "individual", "name": "Иван Иванов", "egn": egn})
    assert response.status_code == 200
    assert message in response.text.split('id="egn"', 1)[1][:1500]
    assert client_count(app) == 0


@pytest.mark.parametrize("egn", ["8012056037", "0041010002"])
def test_egn_of_a_living_person_of_each_century_accepted(app, admin, egn):
    response = admin.submit("/clients/add", {"kind": "individual", "name": "Иван Иванов", "egn": egn})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Client.egn)).one() == egn


@pytest.mark.parametrize(
    "eik, message",
    [
        ("12345678", "ЕИК/Булстат трябва да съдържа 9 или 13 цифри."),
        ("175074753", "Невалиден ЕИК/Булстат: контролната цифра не съвпада."),
        ("1750747520018", "Невалиден ЕИК/Булстат: контролната цифра не съвпада."),
    ],
)
def test_wrong_eik_refused(app, admin, eik, message):
    form = {"kind": "company", "name": "Фирма", "company_name": "Фирма ООД", "eik": eik}
    response = admin.submit("/clients/add", form)
    assert message in response.text.split('id="eik"', 1)[1][:1500]
    assert client_count(app) == 0


def test_type_specific_fields(app, admin):
    response = admin.submit("/clients/add", {"kind": "company", "name": "Фирма"})
    assert "Фирмата трябва да има ЕИК/Булстат." in response.text
    assert client_count(app) == 0
    form = {"kind": "individual", "name": "Мария Петрова", "egn": "8012056037", "company_name": "Чужда ООД",
            "eik": "175074752"}
    assert admin.submit("/clients/add", form).status_code == 302
    form = {"kind": "company", "name": "Нет ЕООД", "company_name": "Нет ЕООД", "eik": "1750747520019",
            "mol": "Георги Георгиев", "egn": "8012056037"}
    assert admin.submit("/clients/add", form).status_code == 302
    with app.app_context():
        person, company = db.session.scalars(select(Client).order_by(Client.id)).all()
        assert (person.company_name, person.eik) == (None, None)
        assert (company.egn, company.eik) == (None, "1750747520019")
        assert person.client_number != company.client_number
        company_id = company.id
    card = visible_text(admin.get(f"/clients/show/{company_id}").text)
    assert "МОЛ Георги Георгиев" in card.replace(" : ", " ") and "ЕГН" not in card


def test_egn_masked_without_the_right_and_viewing_it_is_logged(app):
    with app.app_context():
        client = make_client(None, "Петър Петров", egn="8012056037")
        client_id = client.id
        make_operator(None, "каса", "Касиер", username="cashier")
        make_operator(None, "шеф", "Администратор на дилър", username="boss")
    cashier = Browser(app)
    cashier.login("cashier", "operator-pass-123")
    page = visible_text(cashier.get(f"/clients/show/{client_id}").text)
    assert "******6037" in page and "8012056037" not in page
    assert "МОЛ" not in page  # an individual's card has no company fields
    boss = Browser(app)
    boss.login("boss", "operator-pass-123")
    assert "8012056037" in visible_text(boss.get(f"/clients/show/{client_id}").text)
    with app.app_context():
        views = db.session.scalars(select(LogEntry).where(LogEntry.operation == "personal_data")).all()
        assert [(v.username, v.entity_id) for v in views] == [("boss", str(client_id))]


def test_address_printed_the_bulgarian_way(app):
    with app.app_context():
        block = make_block("105")
        client = make_client(None, "Иван", block=block, entrance="А", floor="3", apartment="12")
        assert format_address(client) == "гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12"
        free = make_client(None, "Мария", address_text="с. Лозен, ул. Първа 5")
        assert format_address(free) == "с. Лозен, ул. Първа 5"


def test_search_finds_by_every_key(app, admin):
    from app.clients.models import Subscription
    from app.networks.services import allocate
    from tests.factories import make_network, make_service

    with app.app_context():
        block = make_block("217")
        ivan = make_client(None, "Иван Стоянов Петров", egn="8012056037", phone="0888 123 456, 02 987 6543",
                           block=block)
        firm = make_client(None, "Мрежа АД", kind="company", company_name="Мрежа АД", eik="175074752")
        make_client(None, "Друг Клиент", phone="0899 000 111")
        make_network("10.77.0.0/24", "Търсене")
        subscription = Subscription(client=ivan, service=make_service(), status="active", username="ivan.p")
        db.session.add(subscription)
        db.session.flush()
        allocate(1, subscription_id=subscription.id)
        db.session.commit()
        ivan_number, firm_number = ivan.client_number, firm.client_number

    def found(query):
        # One client found opens its card; more are listed.
        page = visible_text(admin.get("/clients/list/", query_string={"q": query}, follow_redirects=True).text)
        return {name for name in ("Иван Стоянов Петров", "Мрежа АД", "Друг Клиент") if name in page}

    assert found("стоянов") == {"Иван Стоянов Петров"}
    assert found("0888 123") == {"Иван Стоянов Петров"}
    assert found("9876543") == {"Иван Стоянов Петров"}
    assert found(ivan_number) == {"Иван Стоянов Петров"}
    assert found(firm_number) == {"Мрежа АД"}
    assert found("8012056037") == {"Иван Стоянов Петров"}
    assert found("175074752") == {"Мрежа АД"}
    assert found("10.77.0.1") == {"Иван Стоянов Петров"}
    assert found("ivan.p") == {"Иван Стоянов Петров"}
    assert found("бл. 217") == {"Иван Стоянов Петров"}
    assert found("няма такъв") == set()


def test_dealer_operator_creates_clients_in_own_dealer(app):
    with app.app_context():
        dealer = make_dealer("Алфа")
        dealer_id = dealer.id
        make_operator(dealer, "шеф", "Администратор на дилър", username="boss")
    boss = Browser(app)
    boss.login("boss", "operator-pass-123")
    assert boss.submit("/clients/add", {"kind": "individual", "name": "Нов Клиент"}).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Client.dealer_id)).one() == dealer_id


def test_api_validates_like_the_panel(app, api):
    response = api.post("/api/v1/clients/", json={"kind": "individual", "name": "Иван", "egn": "8012056038"})
    assert response.status_code == 422
    assert response.json["message"]["egn"] == ["Невалидно ЕГН: контролната цифра не съвпада."]
    response = api.post("/api/v1/clients/", json={"kind": "company", "name": "Фирма"})
    assert response.status_code == 422 and "eik" in response.json["message"]
    assert client_count(app) == 0
    response = api.post("/api/v1/clients/", json={"kind": "individual", "name": "Иван", "egn": "8012056037"})
    assert response.status_code == 201, response.text
    assert response.json["result"]["name"] == "Иван"


def test_card_lists_the_clients_contracts(app, admin):
    from tests.factories import make_contract

    with app.app_context():
        client = make_client(None, "Иван Иванов")
        contract = make_contract(client)
        client_id, number = client.id, contract.number
    card = visible_text(admin.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Договори" in card and f"{number} Договор за интернет" in card and "Нов договор" in card
