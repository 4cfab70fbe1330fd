"""IPv6: pools of /64s for the link and of delegated /56s or /60s, handed out at a sale, never twice, given back
at termination, shown on the card and the subscription, found by any address inside them."""
import threading

import pytest
from sqlalchemy import func, select

from app.clients.models import TERMINATED, Subscription
from app.clients.subscriptions import change_status, sell_subscription
from app.core.errors import FieldErrors
from app.extensions import db
from app.networks.models import DELEGATED, LINK, Ipv6Allocation, Ipv6Pool
from app.networks.ipv6 import pool_errors
from tests.conftest import app_config, visible_text
from tests.factories import head_office_cashier, make_client, make_service


def make_pool(name, prefix, kind=LINK, assign_length=64):
    pool = Ipv6Pool(name=name, prefix=prefix, kind=kind, assign_length=assign_length)
    assert pool_errors(pool) == {}
    db.session.add(pool)
    db.session.commit()
    return pool


def ipv6_service(name="Интернет IPv6", delegated=56):
    service = make_service(name, username_type="radius")
    service.ipv6, service.ipv6_delegated_length = True, delegated
    db.session.commit()
    return service


def pool_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Ipv6Pool.id)))


def pool_form(**values):
    form = {"name": "Линк", "prefix": "2001:db8:100::/48", "kind": LINK, "assign_length": "64"}
    form.update(values)
    return form


def test_overlapping_or_wrong_ipv6_pools_are_refused_in_bulgarian(app, admin, api):
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/40")
    for prefix in ("2001:db8:100:5::/64", "2001:db8::/32", "2001:db8:1ff::/48"):
        response = admin.submit("/ipv6-pools/add", pool_form(name=f"Опит {prefix}", prefix=prefix))
        assert "Застъпва се с IPv6 пула Линкове (2001:db8:100::/40)" in visible_text(response.text), prefix
        response = api.post("/api/v1/ipv6-pools/", json={"name": f"API {prefix}", "prefix": prefix, "kind": LINK,
                                                         "assign_length": 64})
        assert response.status_code == 422 and "prefix" in response.json["message"], prefix
    wrong = {
        "10.0.0.0/8": "Това не е IPv6 префикс",
        "2001:db8:200::1/48": "имахте ли предвид 2001:db8:200::/48",
        "2001:db8:200::/72": "Пулът трябва да е от /16 до /64",
    }
    for prefix, message in wrong.items():
        response = admin.submit("/ipv6-pools/add", pool_form(name="Грешен", prefix=prefix))
        assert message in visible_text(response.text), prefix
    response = admin.submit("/ipv6-pools/add", pool_form(name="Делегирани", prefix="2001:db8:8000::/36",
                                                         kind=DELEGATED, assign_length="64"))
    assert "Делегиран пул раздава префикси /56 или /60" in visible_text(response.text)
    assert pool_count(app) == 1
    response = admin.submit("/ipv6-pools/add", pool_form(name="Делегирани", prefix="2001:db8:8000::/36",
                                                         kind=DELEGATED, assign_length="56"))
    assert response.status_code == 302
    listing = visible_text(admin.get("/ipv6-pools/list/").text)
    assert "Делегирани 2001:db8:8000::/36" in listing and "/56" in listing
    assert pool_count(app) == 2


def test_a_sale_hands_out_a_link_and_a_delegated_prefix_termination_gives_them_back(app, admin):
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/62")  # four /64s
        make_pool("Делегирани /56", "2001:db8:ff00::/54", kind=DELEGATED, assign_length=56)  # four /56s
        make_pool("Делегирани /60", "2001:db8:fe00::/58", kind=DELEGATED, assign_length=60)
        service = ipv6_service()
        small = ipv6_service("Интернет IPv6 /60", delegated=60)
        plain = make_service("Интернет само IPv4", username_type="radius")
        actor = head_office_cashier()
        first = sell_subscription(actor, make_client(None, "Първи Абонат"), service)
        second = sell_subscription(actor, make_client(None, "Втори Абонат"), small)
        third = sell_subscription(actor, make_client(None, "Трети Абонат"), plain)
        db.session.commit()
        assert first.ipv6_prefixes == "2001:db8:100::/64, 2001:db8:ff00::/56"
        assert second.ipv6_prefixes == "2001:db8:100:1::/64, 2001:db8:fe00::/60"
        assert third.ipv6_prefixes == ""
        client_id, first_id = first.client_id, first.id
        change_status(actor, second, TERMINATED, "Прекратен договор")
        db.session.commit()
        assert db.session.scalar(select(func.count(Ipv6Allocation.id))) == 2
        # The next sale takes the link prefix given back.
        fourth = sell_subscription(actor, make_client(None, "Четвърти Абонат"), service)
        db.session.commit()
        assert fourth.ipv6_prefixes == "2001:db8:100:1::/64, 2001:db8:ff00:100::/56"
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "IPv6: 2001:db8:100::/64, 2001:db8:ff00::/56" in card
    page = visible_text(admin.get(f"/subscriptions/show/{first_id}").text)
    assert "IPv6 префикси" in page and "2001:db8:100::/64, 2001:db8:ff00::/56" in page


def test_a_sale_with_no_free_prefix_is_refused_in_bulgarian_and_keeps_nothing(app):
    with app.app_context():
        make_pool("Един линк", "2001:db8:100::/64")
        service = ipv6_service(delegated=None)
        actor = head_office_cashier()
        sell_subscription(actor, make_client(None, "Първи Абонат"), service)
        db.session.commit()
        late = make_client(None, "Късен Абонат")
        with pytest.raises(FieldErrors) as refused:
            sell_subscription(actor, late, service)
        db.session.rollback()
        assert "Няма свободен IPv6 префикс" in str(refused.value.errors["service"][0])
        delegating = ipv6_service("С делегиране", delegated=60)
        with pytest.raises(FieldErrors) as refused:
            sell_subscription(actor, late, delegating)
        db.session.rollback()
        assert db.session.scalar(select(func.count(Subscription.id))) == 1


def test_the_client_search_finds_a_subscriber_by_any_address_inside_their_prefixes(app, admin):
    with app.app_context():
        make_pool("Линкове", "2001:db8:100::/48")
        make_pool("Делегирани", "2001:db8:ff00::/40", kind=DELEGATED, assign_length=56)
        actor = head_office_cashier()
        sell_subscription(actor, make_client(None, "Иван Шестов"), ipv6_service())  # 2001:db8:100::/64, ff00::/56
        sell_subscription(actor, make_client(None, "Мария Друга"), ipv6_service("Друга", delegated=56))
        db.session.commit()

    def found(query):
        page = visible_text(admin.get("/clients/list/", query_string={"q": query}, follow_redirects=True).text)
        return {name for name in ("Иван Шестов", "Мария Друга") if name in page}

    assert found("2001:db8:100::1") == {"Иван Шестов"}
    assert found("2001:DB8:100:0:aa:bbff:fecc:dd") == {"Иван Шестов"}
    assert found("2001:db8:ff00:ab:1::5") == {"Иван Шестов"}  # inside the delegated /56
    assert found("2001:db8:ff00:100::1") == {"Мария Друга"}
    assert found("2001:db8:100:1::/64") == {"Мария Друга"}
    assert found("2001:db8:ff00:200::1") == set()
    assert found("2001:db8:9999::1") == set()


def run_together(app, works, timeout=120):
    """Runs each of `works` in its own thread and session, all let go at once (a barrier), each committed; returns
    their outcomes in the order they ended: what a work returned (called, after the commit, when it is a function),
    a refusal's messages, or "ERROR …" for anything else. The concurrency tests of IPv6 on PostgreSQL share it."""
    start, outcomes = threading.Barrier(len(works)), []

    def run(work):
        with app.app_context():
            try:
                start.wait(timeout=30)
                outcome = work()
                db.session.commit()
                outcomes.append(outcome() if callable(outcome) else outcome)
            except FieldErrors as refusal:
                db.session.rollback()
                outcomes.append("; ".join(str(message) for messages in refusal.errors.values()
                                          for message in messages))
            except Exception as error:  # noqa: BLE001 — reported by the test
                db.session.rollback()
                outcomes.append(f"ERROR {type(error).__name__}: {error}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


@pytest.mark.once
def test_concurrent_sales_on_postgresql_never_share_a_prefix():
    from app import create_app
    from tests.conftest import migrate_and_prepare
    from tests.core.test_migrations import fresh_postgres_database

    url = fresh_postgres_database("billing_ipv6_allocation_test")
    pg_app = create_app(app_config(url))
    migrate_and_prepare(pg_app)
    sellers = 10
    with pg_app.app_context():
        make_pool("Линкове", "2001:db8:100::/61")  # eight /64s for ten sales
        make_pool("Делегирани", "2001:db8:ff00::/48", kind=DELEGATED, assign_length=60)
        service_id = ipv6_service(delegated=60).id
        client_ids = [make_client(None, f"Абонат {number}").id for number in range(sellers)]
        db.session.remove()

    def sale(client_id):
        def work():
            from app.catalog.models import Service
            from app.clients.models import Client

            subscription = sell_subscription(head_office_cashier(), db.session.get(Client, client_id),
                                             db.session.get(Service, service_id))
            return lambda: subscription.ipv6_prefixes
        return work

    outcomes = run_together(pg_app, [sale(client_id) for client_id in client_ids])
    given = [outcome for outcome in outcomes if outcome.startswith("2001:")]
    refused = [outcome for outcome in outcomes if not outcome.startswith("2001:")]
    assert len(given) == 8 and len(refused) == 2, outcomes
    assert all("Няма свободен IPv6 префикс" in outcome for outcome in refused), refused
    links = [outcome.split(", ")[0] for outcome in given]
    delegated = [outcome.split(", ")[1] for outcome in given]
    assert len(set(links)) == 8 and len(set(delegated)) == 8
    with pg_app.app_context():
        stored = db.session.execute(select(Ipv6Allocation.pool_id, Ipv6Allocation.slot)).all()
        assert len(stored) == len(set(stored)) == 16
        # The refused sales kept nothing: no subscription without its prefixes.
        assert db.session.scalar(select(func.count(Subscription.id))) == 8
        db.engine.dispose()
