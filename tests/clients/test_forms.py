"""The client's and the sale's forms as the desk reads them: a client saved with no block is warned about; a
refusal (a wrong ЕГН) is summed up at the top of the form; the dealer picker sets head office apart from a dealer
named "Централен офис …"; a sale offers the services the block can get, with their prices, and then says the
username and password to hand to the client."""
import re

from sqlalchemy import select

from app.addresses.models import Block, City, Neighbourhood, Technology
from app.clients.models import Client, Subscription
from app.extensions import db
from tests.conftest import visible_text
from tests.factories import make_client, make_dealer, make_service


def test_a_client_saved_without_a_block_is_warned_about(app, admin):
    with app.app_context():
        block = Block(neighbourhood=Neighbourhood(city=City(name="София"), name="Люлин 5"), name="520")
        db.session.add(block)
        db.session.commit()
        block_id = block.id
    saved = admin.submit("/clients/add", {"kind": "individual", "name": "Без Блок Клиентов", "phone": "0888 000 111"},
                         follow_redirects=True)
    assert "Клиентът е записан без блок" in visible_text(saved.text)
    with_block = admin.submit("/clients/add", {"kind": "individual", "name": "С Блок Клиентов", "block": block_id},
                              follow_redirects=True)
    assert "С Блок Клиентов" in visible_text(with_block.text)
    assert "Клиентът е записан без блок" not in visible_text(with_block.text)


def test_a_wrong_egn_is_summed_up_at_the_top_of_the_form(app, admin):
    response = admin.submit("/clients/add", {"kind": "individual", "name": "Грешно ЕГН", "egn": "1234567890"})
    text = visible_text(response.text)
    assert "Не е записано. Поправете: ЕГН : Невалидно ЕГН" in text
    summary = text.index("Не е записано")
    assert summary < text.index("Наименование")  # above the form's first field
    with app.app_context():
        assert db.session.scalar(select(Client.id).where(Client.name == "Грешно ЕГН")) is None


def test_the_dealer_picker_sets_head_office_apart_from_a_dealer_named_like_it(app, admin):
    with app.app_context():
        dealer = make_dealer("Младост")
        dealer.name = "Централен офис Младост"
        db.session.commit()
    form = admin.get("/clients/add").text
    options = re.findall(r"<option[^>]*>([^<]*)</option>", form[form.index('name="dealer"'):])
    assert options[0] == "— Централен офис (без дилър) —", options[:3]
    assert "Централен офис Младост" in options


def test_a_sale_offers_what_the_block_can_get_with_prices_and_says_the_login(app, admin):
    with app.app_context():
        lan, fibre = Technology(name="LAN"), Technology(name="FTTH")
        block = Block(neighbourhood=Neighbourhood(city=City(name="София"), name="Младост 1"), name="105",
                      technologies=[lan])
        db.session.add(block)
        db.session.commit()
        client_id = make_client(None, "Иван Продажбов", block=block).id
        lan_service = make_service("Интернет LAN", username_type="radius", technology=lan, monthly_fee="15.00")
        lan_service.installation_fee = 30
        make_service("Оптика", username_type="radius", technology=fibre)
        hidden = make_service("Стара услуга")
        hidden.sellable = False
        db.session.commit()
        lan_id = lan_service.id
        from app.security.permissions import DEALER_ADMINISTRATOR
        from tests.factories import make_operator
        make_operator(None, "продавач", DEALER_ADMINISTRATOR, username="seller-forms")
    from tests.conftest import Browser
    seller = Browser(app)
    seller.login("seller-forms", "operator-pass-123")
    form = visible_text(seller.get(f"/subscriptions/add?client={client_id}").text)
    assert "Интернет LAN — 15,00 EUR на месец, инсталация 30,00 EUR" in form
    assert "Оптика" not in form and "Стара услуга" not in form
    # Who may override the technology check is offered it too, marked.
    offered = visible_text(admin.get(f"/subscriptions/add?client={client_id}").text)
    assert "Оптика — 12,90 EUR на месец (блокът няма FTTH)" in offered
    sold = seller.submit(f"/subscriptions/add?client={client_id}", {"client": client_id, "service": lan_id},
                         follow_redirects=True)
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        username, password = subscription.username, subscription.password
    assert f"Дайте на клиента: потребителско име {username}, парола {password}." in visible_text(sold.text)
