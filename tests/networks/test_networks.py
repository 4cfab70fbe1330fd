"""Networks: validation, usage counts, and allocation that never gives an address twice."""
import ipaddress
import multiprocessing

import pytest
from sqlalchemy import func, select

from app.catalog.models import Service, ServiceGroup
from app.extensions import db
from app.networks.models import IpAllocation, Network
from app.networks.services import NoFreeAddress, allocate, release
from tests.conftest import app_config, visible_text
from tests.factories import make_dealer, make_network


def network_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Network.id)))


def add_form(**values):
    form = {"name": "Мрежа", "cidr": "10.10.0.0/24", "group": "Публични", "gateway": "10.10.0.1"}
    form.update(values)
    return form


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"cidr": "10.10.0.0/33"}, "cidr", "Това не е IPv4 мрежа във вид CIDR"),
        ({"cidr": "мрежа"}, "cidr", "Това не е IPv4 мрежа във вид CIDR"),
        ({"cidr": "10.10.0.5/24"}, "cidr", "имахте ли предвид 10.10.0.0/24"),
        ({"gateway": "10.11.0.1"}, "gateway", "Шлюзът трябва да е използваем адрес в мрежата."),
        ({"gateway": "10.10.0.255"}, "gateway", "Шлюзът трябва да е използваем адрес в мрежата."),
        ({"gateway": "10.10.0"}, "gateway", "Това не е IPv4 адрес."),
    ],
)
def test_invalid_networks_refused_in_bulgarian(app, admin, values, field, message):
    response = admin.submit("/networks/add", add_form(**values))
    assert response.status_code == 200
    assert message in response.text.split(f'id="{field}"', 1)[1][:1500]
    assert network_count(app) == 0


def test_overlap_refused_both_ways(app, admin, api):
    with app.app_context():
        make_network("10.20.0.0/22", "Голяма")
    for cidr in ("10.20.1.0/24", "10.0.0.0/8", "10.20.3.128/25"):
        response = admin.submit("/networks/add", add_form(name=f"Опит {cidr}", cidr=cidr, gateway=""))
        assert "Застъпва се с мрежата Голяма (10.20.0.0/22)" in response.text, cidr
        response = api.post("/api/v1/networks/", json={"name": f"API {cidr}", "cidr": cidr})
        assert response.status_code == 422 and "cidr" in response.json["message"], cidr
    assert network_count(app) == 1
    assert admin.submit("/networks/add", add_form(name="Съседна", cidr="10.20.4.0/24", gateway="")).status_code == 302


def test_allocation_skips_network_broadcast_and_gateway(app):
    with app.app_context():
        network = make_network("192.168.5.0/29", "Малка", gateway="192.168.5.1")
        assert (network.usable_count, network.used_count) == (5, 0)
        given = allocate(5, holder="Иван")
        db.session.commit()
        assert [a.ip for a in given] == [f"192.168.5.{i}" for i in (2, 3, 4, 5, 6)]
        with pytest.raises(NoFreeAddress, match="Няма свободен IP адрес"):
            allocate(1)
        db.session.expire_all()
        network = db.session.get(Network, network.id)
        assert (network.used_count, network.free_count, network.used_percent) == (5, 0, 100.0)


def test_all_or_nothing_and_release(app):
    with app.app_context():
        make_network("192.168.6.0/29", "Малка", gateway="192.168.6.6")
        first = allocate(2)
        db.session.commit()
        with pytest.raises(NoFreeAddress):
            allocate(4)  # only 3 left: none are taken
        db.session.commit()
        assert db.session.scalar(select(func.count(IpAllocation.id))) == 2
        release(first[:1])
        db.session.commit()
        # New addresses continue upwards; once the top is used up, the
        # released one is given out again.
        assert [a.ip for a in allocate(3)] == ["192.168.6.3", "192.168.6.4", "192.168.6.5"]
        assert [a.ip for a in allocate(1)] == ["192.168.6.1"]
        with pytest.raises(NoFreeAddress):
            allocate(1)


def test_matching_prefers_dealer_and_service_networks(app):
    with app.app_context():
        dealer = make_dealer("Алфа")
        group = ServiceGroup(name="Интернет")
        service = Service(name="Оптика", group=group, monthly_fee="20")
        db.session.add(service)
        db.session.commit()
        shared = make_network("10.30.0.0/24", "Обща")
        own = make_network("10.31.0.0/24", "На дилъра", dealer=dealer)
        only_fibre = make_network("10.32.0.0/24", "Само оптика")
        only_fibre.services = [service]
        db.session.commit()
        assert ipaddress.ip_address(allocate(1, dealer_id=dealer.id)[0].ip) in ipaddress.ip_network(own.cidr)
        assert ipaddress.ip_address(allocate(1)[0].ip) in ipaddress.ip_network(shared.cidr)
        assert ipaddress.ip_address(allocate(1, service=service)[0].ip) in ipaddress.ip_network(only_fibre.cidr)


def test_network_page_shows_usage_and_holders(app, admin):
    with app.app_context():
        network = make_network("10.40.0.0/28", "Офис", gateway="10.40.0.1")
        allocate(3, holder="Петър Петров")
        db.session.commit()
        network_id = network.id
    listing = visible_text(admin.get("/networks/list/").text)
    assert "Офис" in listing and "10.40.0.0/28" in listing
    # used 3 of 13 usable (16 − network − broadcast − gateway): 10 free, 23,1 %
    assert "Офис 10.40.0.0/28 Обща за всички 10.40.0.1 3 10 23,1 %" in listing  # no dealer: shared, so named
    page = visible_text(admin.get(f"/networks/show/{network_id}").text)
    assert "10.40.0.2 Зает Петър Петров" in page
    assert "10.40.0.1 Шлюз" in page and "10.40.0.0 Адрес на мрежата" in page
    assert "10.40.0.15 Broadcast адрес" in page and "10.40.0.5 Свободен" in page


def _allocate_in_process(database_url, holder, count, start, results):
    from app import create_app

    app = create_app(app_config(database_url))
    with app.app_context():
        start.wait(timeout=60)
        try:
            given = allocate(count, holder=holder)
            db.session.commit()
            results.put((holder, [a.ip for a in given]))
        except NoFreeAddress as refusal:
            db.session.rollback()
            results.put((holder, str(refusal)))


@pytest.mark.once
def test_concurrent_allocation_on_postgresql_never_shares(app):
    from tests.core.test_migrations import fresh_postgres_database
    from tests.conftest import migrate_and_prepare
    from app import create_app

    url = fresh_postgres_database("billing_allocation_test")
    pg_app = create_app(app_config(url))
    migrate_and_prepare(pg_app)
    with pg_app.app_context():
        make_network("172.16.0.0/29", "Почти пълна", gateway="172.16.0.1")
        allocate(1, holder="стар клиент")  # 4 free left
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_allocate_in_process, args=(url, name, 3, start, results))
        for name in ("първи", "втори")
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)

    winners = [ips for ips in outcomes.values() if isinstance(ips, list)]
    losers = [text for text in outcomes.values() if isinstance(text, str)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "Няма свободен IP адрес" in losers[0]
    with pg_app.app_context():
        stored = db.session.scalars(select(IpAllocation.address)).all()
        assert len(stored) == len(set(stored)) == 4
        db.engine.dispose()


def test_network_page_finds_an_address_or_a_holder_and_lists_taken_or_free_only(app, admin):
    with app.app_context():
        network = make_network("10.50.0.0/22", "Квартал", gateway="10.50.0.1")
        allocate(2, holder="Петър Петров")
        allocate(1, holder="Иванка 100% Иванова")
        db.session.commit()
        network_id = network.id
    url = f"/networks/show/{network_id}"
    # An address on the map's third page (256 a page): the search opens that page with the address marked.
    page = admin.get(f"{url}?find=10.50.2.7").text
    assert 'class="info" id="found"' in page and "Страница 3 от 4" in visible_text(page)
    assert "10.50.2.7 Свободен" in visible_text(page)
    holder = visible_text(admin.get(f"{url}?find=Петров").text)
    assert "10.50.0.2 Зает Петър Петров" in holder and "10.50.0.3 Зает Петър Петров" in holder
    assert "Иванка" not in holder and "Свободен" not in holder
    assert "Иванка 100% Иванова" in visible_text(admin.get(f"{url}?find=100%25").text)
    assert "Нищо в тази мрежа не отговаря" in visible_text(admin.get(f"{url}?find=10.99.0.1").text)
    import re

    taken = visible_text(admin.get(f"{url}?show=used").text)
    assert len(re.findall(r"10\.50\.\d+\.\d+ Зает", taken)) == 3 and "Свободен" not in taken
    free = visible_text(admin.get(f"{url}?show=free").text)
    assert not re.findall(r"10\.50\.\d+\.\d+ Зает", free) and "10.50.0.5 Свободен" in free
    assert "10.50.0.1 Шлюз" not in free
    assert "Страница 1 от 4" in free  # 1,022 usable − the gateway − 3 taken = 1,018 free: 4 pages of 256
