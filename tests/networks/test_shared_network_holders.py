"""A shared network's page shows a dealer's operator who holds each address only for the dealer's own clients:
another dealer's client's address is "taken", without a name, and the page's search does not find it by name."""
import re

from app.extensions import db
from app.networks.services import allocate
from app.security.permissions import DEALER_ADMINISTRATOR
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_dealer, make_network, make_operator, make_service, make_subscription


def test_a_dealers_operator_sees_only_the_dealers_own_holders_in_a_shared_network(app, admin):
    with app.app_context():
        north, south = make_dealer("Север"), make_dealer("Юг")
        network = make_network("10.60.0.0/28", "Обща", gateway="10.60.0.1")
        service = make_service("Интернет 20")
        for dealer, name in ((north, "Петър Северен"), (south, "Тайна Южна")):
            client = make_client(dealer, name)
            subscription = make_subscription(client, service)
            allocate(1, holder=client.name, subscription_id=subscription.id)
        allocate(1, holder="Офисен Сървър")  # head office's own, no subscription
        db.session.commit()
        make_operator(north, "admin", DEALER_ADMINISTRATOR, username="north-net")
        network_id = network.id
    url = f"/networks/show/{network_id}"
    north_admin = Browser(app)
    north_admin.login("north-net", "operator-pass-123")
    for query in ("", "?show=used"):
        page = visible_text(north_admin.get(url + query).text)
        assert "10.60.0.2 Зает Петър Северен" in page
        assert len(re.findall(r"10\.60\.0\.[34] Зает", page)) == 2, page
        assert "Тайна" not in page and "Южна" not in page and "Офисен" not in page
    found = visible_text(north_admin.get(url + "?find=Тайна").text)
    assert "Нищо в тази мрежа не отговаря на „Тайна“" in found and "Южна" not in found and "10.60.0.3" not in found
    # Head office still sees every holder.
    everyone = visible_text(admin.get(url + "?show=used").text)
    assert "10.60.0.3 Зает Тайна Южна" in everyone and "10.60.0.4 Зает Офисен Сървър" in everyone
