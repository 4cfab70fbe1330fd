"""IPv6 for subscriptions sold before their service gave it: the service's edit (given, the delegated size changed,
taken away) gives its subscriptions not terminated their prefixes in the same transaction — all or none, said in
the panel —, with the same safety as a sale (PostgreSQL: concurrent edits and sales never share a prefix)."""
import pytest
from sqlalchemy import func, select

from app.catalog.models import Service
from app.catalog.services import update_service
from app.clients.models import TERMINATED, Subscription
from app.clients.subscriptions import change_status, sell_subscription
from app.core.errors import FieldErrors
from app.extensions import db
from app.networks.models import DELEGATED, Ipv6Allocation
from tests.catalog.test_services import service_form
from tests.conftest import app_config, visible_text
from tests.factories import head_office_cashier, make_client, make_service
from tests.networks.test_ipv6 import make_pool, run_together


def prefixes(subscription_id):
    return db.session.get(Subscription, subscription_id).ipv6_prefixes


def allocation_count():
    return db.session.scalar(select(func.count(Ipv6Allocation.id)))


def test_a_service_edited_to_give_ipv6_gives_its_subscriptions_their_prefixes(app, admin):
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/62")  # four /64s
        make_pool("Делегирани /56", "2001:db8:ff00::/54", kind=DELEGATED, assign_length=56)
        make_pool("Делегирани /60", "2001:db8:fe00::/58", kind=DELEGATED, assign_length=60)
        service = make_service("Интернет без IPv6", username_type="radius")
        other = make_service("Друг IPv6", username_type="radius")
        other.ipv6 = True
        db.session.commit()
        actor = head_office_cashier()
        first = sell_subscription(actor, make_client(None, "Първи Абонат"), service).id
        holder = sell_subscription(actor, make_client(None, "Вече с IPv6"), other).id  # the link's first /64
        second = sell_subscription(actor, make_client(None, "Втори Абонат"), service).id
        ended = sell_subscription(actor, make_client(None, "Прекратен Абонат"), service)
        db.session.commit()
        change_status(actor, ended, TERMINATED, "Прекратен договор")
        db.session.commit()
        service_id, group_id, ended = service.id, service.group_id, ended.id
        assert prefixes(first) == prefixes(second) == "" and prefixes(holder) == "2001:db8:100::/64"
    form = service_form(group_id, name="Интернет без IPv6", ip_count="0")

    def edit(**values):
        return visible_text(admin.submit(f"/services/edit/{service_id}", {**form, **values},
                                         follow_redirects=True).text)

    page = edit(ipv6="y", ipv6_delegated_length="56")
    assert "2 абонамента на услугата получиха IPv6 префиксите си; ще ги ползват от следващото си влизане." in page
    with app.app_context():
        assert prefixes(first) == "2001:db8:100:1::/64, 2001:db8:ff00::/56"
        assert prefixes(second) == "2001:db8:100:2::/64, 2001:db8:ff00:100::/56"
        assert prefixes(ended) == ""
    # A new sale gets them as before, after them.
    with app.app_context():
        third = sell_subscription(head_office_cashier(), make_client(None, "Трети Абонат"),
                                  db.session.get(Service, service_id)).id
        db.session.commit()
        assert prefixes(third) == "2001:db8:100:3::/64, 2001:db8:ff00:200::/56"
    # The delegated size changes: each gives back its /56 and gets a /60; the link's /64 stays.
    page = edit(ipv6="y", ipv6_delegated_length="60")
    assert "3 абонамента на услугата получиха IPv6 префиксите си" in page
    with app.app_context():
        assert prefixes(first) == "2001:db8:100:1::/64, 2001:db8:fe00::/60"
        assert prefixes(third) == "2001:db8:100:3::/64, 2001:db8:fe00:20::/60"
        assert db.session.scalar(select(func.count(Ipv6Allocation.id)).where(Ipv6Allocation.prefix.like("%/56"))) == 0
    # An edit that leaves IPv6 alone touches no prefix and says nothing of them.
    page = edit(ipv6="y", ipv6_delegated_length="60", monthly_fee="16,50")
    assert "получиха" not in page and "върнаха" not in page and "Никой абонамент" not in page
    # IPv6 taken away: the prefixes go back to the pools (the Accept would carry them otherwise).
    page = edit()
    assert "3 абонамента върнаха IPv6 префикси, които услугата вече не дава." in page
    with app.app_context():
        assert prefixes(first) == prefixes(third) == "" and allocation_count() == 1  # the other service's


def test_the_api_answers_what_the_panel_says_of_the_prefixes_given(app, api):
    """The REST API's edit of a service answers `messages` with the sentence the panel flashes (and an empty list
    when the edit leaves IPv6 alone); the published spec lists it in the PUT's answer."""
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/62")
        make_pool("Делегирани /60", "2001:db8:fe00::/58", kind=DELEGATED, assign_length=60)
        service = make_service("Интернет без IPv6", username_type="radius")
        actor = head_office_cashier()
        first = sell_subscription(actor, make_client(None, "Първи Абонат"), service).id
        sell_subscription(actor, make_client(None, "Втори Абонат"), service)
        db.session.commit()
        service_id = service.id
    response = api.put(f"/api/v1/services/{service_id}", json={"ipv6": True, "ipv6_delegated_length": 60})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["messages"] == [
        "2 абонамента на услугата получиха IPv6 префиксите си; ще ги ползват от следващото си влизане."]
    assert response.get_json()["result"]["ipv6_delegated_length"] == 60
    with app.app_context():
        assert prefixes(first) == "2001:db8:100::/64, 2001:db8:fe00::/60"
    response = api.put(f"/api/v1/services/{service_id}", json={"monthly_fee": 16.5})
    assert response.status_code == 200 and response.get_json()["messages"] == []
    response = api.put(f"/api/v1/services/{service_id}", json={"ipv6": False, "ipv6_delegated_length": None})
    assert response.get_json()["messages"] == ["2 абонамента върнаха IPv6 префикси, които услугата вече не дава."]
    spec = api.get("/api/v1/_openapi").get_json()
    answer = spec["paths"]["/api/v1/services/{pk}"]["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"]["messages"] == {
        "description": answer["properties"]["messages"]["description"], "type": "array",
        "items": {"type": "string"}}
    assert "result" in answer["properties"]


def test_an_edit_the_pools_cannot_serve_is_refused_in_bulgarian_and_keeps_nothing(app, admin):
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/63")  # two /64s for three subscriptions
        service = make_service("Интернет без IPv6", username_type="radius")
        actor = head_office_cashier()
        for number in range(3):
            sell_subscription(actor, make_client(None, f"Абонат {number}"), service)
        db.session.commit()
        service_id, group_id = service.id, service.group_id
    page = visible_text(admin.submit(f"/services/edit/{service_id}", service_form(
        group_id, name="Интернет без IPv6", ip_count="0", ipv6="y"), follow_redirects=True).text)
    assert "Няма свободен IPv6 префикс: нито един пул за линкове (/64) няма свободен." in page
    with app.app_context():
        assert db.session.get(Service, service_id).ipv6 is False
        assert allocation_count() == 0
        # Through the operation (the REST API's path) alike.
        with pytest.raises(FieldErrors) as refused:
            update_service(head_office_cashier(), db.session.get(Service, service_id), ipv6=True)
        db.session.rollback()
        assert "ipv6" in refused.value.errors and allocation_count() == 0


@pytest.mark.once
def test_concurrent_service_edits_and_sales_on_postgresql_never_share_a_prefix_nor_miss_one():
    """Two services turn IPv6 on while each is being sold: every subscription not terminated ends with its /64 and
    its /60 (a sale committing during the edit is seen by it, or reads the new sizes), none shared."""
    from app import create_app
    from tests.conftest import migrate_and_prepare
    from tests.core.test_migrations import fresh_postgres_database

    url = fresh_postgres_database("billing_ipv6_service_change_test")
    pg_app = create_app(app_config(url))
    migrate_and_prepare(pg_app)
    with pg_app.app_context():
        make_pool("Линкове", "2001:db8:100::/56")
        make_pool("Делегирани", "2001:db8:ff00::/48", kind=DELEGATED, assign_length=60)
        actor = head_office_cashier()
        service_ids = []
        for name in ("Първа", "Втора"):
            service = make_service(f"Интернет {name}", username_type="radius")
            for number in range(5):
                sell_subscription(actor, make_client(None, f"Стар {name} {number}"), service)
            service_ids.append(service.id)
        client_ids = [make_client(None, f"Нов {number}").id for number in range(12)]
        db.session.commit()
        db.session.remove()

    def edit(service_id):
        def work():
            service = db.session.get(Service, service_id)
            update_service(head_office_cashier(), service, ipv6=True, ipv6_delegated_length=60)
            return "edited"
        return work

    def sale(client_id, service_id):
        def work():
            from app.clients.models import Client

            sell_subscription(head_office_cashier(), db.session.get(Client, client_id),
                              db.session.get(Service, service_id))
            return "sold"
        return work

    works = [edit(service_id) for service_id in service_ids] + [
        sale(client_id, service_ids[number % 2]) for number, client_id in enumerate(client_ids)]
    outcomes = run_together(pg_app, works)
    assert sorted(outcomes) == ["edited"] * 2 + ["sold"] * 12, outcomes
    with pg_app.app_context():
        stored = db.session.execute(select(Ipv6Allocation.pool_id, Ipv6Allocation.slot)).all()
        assert len(stored) == len(set(stored)) == 2 * 22
        lacking = db.session.scalars(select(Subscription.id).where(~Subscription.ipv6_allocations.any())).all()
        assert lacking == []
        db.engine.dispose()
