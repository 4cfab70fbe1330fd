"""A dealer's administrator sees his own networks and the shared ones his clients hold addresses in, not the
shared networks only head office's clients use (head office's business); the list names a shared network so."""
from app.extensions import db
from app.networks.services import allocate, allocate_address
from app.security.permissions import DEALER_ADMINISTRATOR
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_dealer, make_network, make_operator, make_service, make_subscription


def test_a_dealers_administrator_does_not_see_head_offices_networks(app, admin):
    with app.app_context():
        north, south = make_dealer("Север"), make_dealer("Юг")
        service = make_service("Интернет 20")
        own = make_network("10.61.0.0/28", "Мрежа Север", dealer=north)
        used = make_network("10.62.0.0/28", "Обща с клиент на Север")
        office = make_network("10.63.0.0/28", "Публични Централен офис")
        theirs = make_network("10.64.0.0/28", "Мрежа Юг", dealer=south)
        client = make_client(north, "Петър Северен")
        allocate(1, holder=client.name, subscription_id=make_subscription(client, service).id, dealer_id=north.id)
        allocate_address("10.62.0.5", holder=client.name,
                         subscription_id=make_subscription(client, service).id, dealer_id=north.id)
        allocate_address("10.63.0.5", holder="Офисен Сървър")
        db.session.commit()
        make_operator(north, "admin", DEALER_ADMINISTRATOR, username="north-nets")
        ids = {name: network.id for name, network in
               (("own", own), ("used", used), ("office", office), ("theirs", theirs))}
    north_admin = Browser(app)
    north_admin.login("north-nets", "operator-pass-123")
    listing = visible_text(north_admin.get("/networks/list/").text)
    assert "Мрежа Север" in listing and "Обща с клиент на Север" in listing and "Обща за всички" in listing
    assert "Публични Централен офис" not in listing and "Мрежа Юг" not in listing
    assert north_admin.get(f"/networks/show/{ids['office']}").status_code == 404
    assert north_admin.get(f"/networks/show/{ids['used']}").status_code == 200
    everything = visible_text(admin.get("/networks/list/").text)
    assert "Публични Централен офис" in everything and "Мрежа Юг" in everything
