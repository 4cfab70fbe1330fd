"""Who has this IPv6 address: "В мрежата сега", the sessions and the client search find a subscriber by any address
inside the link's /64 or the delegated prefix handed to their subscription, or inside what their NAS reported in
accounting (stored as ranges of keys the index is probed by, app.networks.ipv6.inside_condition)."""
import ipaddress
import json
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.networks.ipv6 import aligned_keys, inside_condition, pool_errors, prefix_keys
from app.networks.models import DELEGATED, Ipv6Pool, ipv6_key
from app.radius.accounting import INTERIM, START, STOP, Event, apply
from app.radius.models import RadiusSession
from tests.conftest import visible_text
from tests.factories import make_client, make_service, make_subscription
from tests.radius.test_ipv6 import ipv6_subscriber, pools
from tests.radius.test_radius import nas


def event(status, nas_id, session_id, username, at, framed=None, delegated=None, address=None):
    return Event(status, nas_id, session_id, username, at, 0, 0, 0, None, None, None, None, framed, delegated,
                 address)


def test_a_prefix_holds_exactly_the_addresses_inside_it():
    for prefix in ("2001:db8:0:1a00::/56", "2001:db8:100::/64", "2001:db8::/32", "2001:db8:0:1a0::/60"):
        network = ipaddress.IPv6Network(prefix)
        first, last = prefix_keys(prefix)
        for address in (network.network_address, network.broadcast_address, network.network_address + network.num_addresses // 3):
            assert first in aligned_keys(address) and last >= ipv6_key(address), (prefix, address)
        for outside in (network.network_address - 1, network.broadcast_address + 1):
            keys = aligned_keys(outside)
            assert not (first in keys and last >= ipv6_key(outside)), (prefix, outside)
    # An address reported alone stands for its /64; text that is not IPv6 has no keys.
    assert prefix_keys("2001:db8:1:2::5") == prefix_keys("2001:db8:1:2::/64")
    assert prefix_keys("10.0.0.1") is None and prefix_keys("") is None and prefix_keys("2001:zz::/64") is None


def test_online_and_the_client_search_find_a_subscriber_by_any_address_inside_their_prefixes(app, admin):
    now = datetime.utcnow().replace(microsecond=0)
    with app.app_context():
        server = nas()
        pools()
        pool = Ipv6Pool(name="Делегирани /60", prefix="2001:db8:fe00::/48", kind=DELEGATED, assign_length=60)
        assert pool_errors(pool) == {}
        db.session.add(pool)
        db.session.commit()
        assert ipv6_subscriber("ivan") == "2001:db8:100::/64, 2001:db8:ff00::/56"
        assert ipv6_subscriber("maria", delegated=60) == "2001:db8:100:1::/64, 2001:db8:fe00::/60"
        # A subscriber whose NAS hands out IPv6 from its own pool (Framed-IPv6-Pool): only accounting knows it.
        make_subscription(make_client(None, "Абонат petar"), make_service("Интернет NAS пул", username_type="radius"),
                          username="petar", password="parola-123")
        make_subscription(make_client(None, "Абонат stoyan"), make_service("Интернет стар", username_type="radius"),
                          username="stoyan", password="parola-123")
        apply([
            event(START, server.id, "s-ivan", "ivan", now, "2001:db8:100::/64", "2001:db8:ff00::/56"),
            event(START, server.id, "s-maria", "maria", now, "2001:db8:100:1::/64"),
            event(START, server.id, "s-petar", "petar", now, None, "2001:db8:0:1a00::/56"),
            # The address first reported by an interim: its keys too.
            event(START, server.id, "s-petar-2", "petar", now),
            event(INTERIM, server.id, "s-petar-2", "petar", now + timedelta(seconds=60), None, None,
                  "2001:db8:77:5::9"),
            # A session ended: not online, but in the sessions' history.
            event(START, server.id, "s-stoyan", "stoyan", now - timedelta(hours=2), None, None, "2001:db8:99::5"),
            event(STOP, server.id, "s-stoyan", "stoyan", now - timedelta(hours=1)),
        ])
        db.session.commit()
        stored = db.session.scalar(select(RadiusSession).where(RadiusSession.acct_session_id == "s-petar-2"))
        assert (stored.ipv6_link_first_key, stored.ipv6_link_last_key) == prefix_keys("2001:db8:77:5::/64")
        # The lookups go by keys only: the same on both databases.
        assert db.session.scalars(select(RadiusSession.acct_session_id).where(inside_condition(
            RadiusSession.ipv6_delegated_first_key, RadiusSession.ipv6_delegated_last_key,
            ipaddress.IPv6Address("2001:db8:0:1a12::1234")))).all() == ["s-petar"]

    def online(address):
        page = visible_text(admin.get("/online/list/", query_string={"_flt_0_framed_ipv6_address": address}).text)
        return {name for name in ("ivan", "maria", "petar", "stoyan") if f" {name} " in f" {page} "}

    def history(address):
        page = visible_text(admin.get("/sessions/list/", query_string={"_flt_0_framed_ipv6_address": address}).text)
        return {name for name in ("ivan", "maria", "petar", "stoyan") if f" {name} " in f" {page} "}

    def clients(address):
        page = visible_text(admin.get("/clients/list/", query_string={"q": address}, follow_redirects=True).text)
        return {name for name in ("ivan", "maria", "petar", "stoyan") if f"Абонат {name}" in page}

    assert online("2001:db8:0:1a12::1234") == {"petar"}  # inside the /56 its NAS delegated
    assert online("2001:db8:0:1aff:ffff::1") == {"petar"}  # its last /64
    # 2001:db8:0:1a:: is 2001:db8:0:001a::, inside 2001:db8::/56, not 2001:db8:0:1a00::/56.
    assert online("2001:db8:0:1a::1234") == set()
    assert online("2001:db8:100::42") == {"ivan"}  # inside the link's /64 handed to the subscription
    assert online("2001:DB8:FF00:AB:1::5") == {"ivan"}  # inside the delegated /56
    assert online("2001:db8:fe00:f::1") == {"maria"}  # inside her /60
    assert online("2001:db8:fe00:10::1") == set()  # just past it
    assert online("2001:db8:77:5:aaaa::1") == {"petar"}  # in the /64 of the address its NAS reported
    assert online("2001:db8:99::5") == set()  # stoyan is offline
    assert online("not an address") == set()
    assert history("2001:db8:99::5") == {"stoyan"}
    assert history("2001:db8:0:1a00::1") == {"petar"}
    assert clients("2001:db8:0:1a12::1234") == {"petar"}  # by what the NAS reports for a session open now
    assert clients("2001:db8:77:5::1") == {"petar"}
    assert clients("2001:db8:fe00::1") == {"maria"}  # by the prefix handed to the subscription
    assert clients("2001:db8:99::5") == set()  # only sessions open now
    # The online page offers the search under its column, in Bulgarian.
    page = admin.get("/online/list/").text  # the filters' names as JSON for FAB's script
    assert json.dumps("Съдържа адреса (в префикса)")[1:-1] in page or "Съдържа адреса (в префикса)" in page


def test_the_ip_column_shows_what_an_ipv6_only_session_reported(app, admin):
    """"В мрежата сега" and the sessions list: a session with no IPv4 address shows its IPv6 address, else its link
    prefix, else its delegated prefix, in the IP column (not an empty cell); an IPv4 one shows its IPv4 address."""
    now = datetime.utcnow().replace(microsecond=0)
    with app.app_context():
        server = nas()
        for name in ("ana", "boris", "vera", "gosho"):
            make_subscription(make_client(None, f"Абонат {name}"),
                              make_service(f"Интернет {name}", username_type="radius"),
                              username=name, password="parola-123")
        apply([
            event(START, server.id, "s-ana", "ana", now, None, None, "2001:db8:5:6::77"),
            event(START, server.id, "s-boris", "boris", now, "2001:db8:5:7::/64", "2001:db8:aa00::/56"),
            event(START, server.id, "s-vera", "vera", now, None, "2001:db8:bb00::/56"),
            Event(START, server.id, "s-gosho", "gosho", now, 0, 0, 0, "10.20.30.40", None, None, None,
                  "2001:db8:5:8::/64"),
        ])
        db.session.commit()

    def rows(url):
        html = admin.get(url).text
        return {name: visible_text(row) for row in html.split("<tr")[1:]
                for name in ("ana", "boris", "vera", "gosho") if f">{name}<" in row.replace(" ", "")
                or f"> {name} <" in row or f"\n{name}\n" in row}

    for url in ("/online/list/", "/sessions/list/"):
        found = rows(url)
        assert "2001:db8:5:6::77" in found["ana"], (url, found)
        assert "2001:db8:5:7::/64" in found["boris"], (url, found)
        assert "2001:db8:bb00::/56" in found["vera"], (url, found)
        assert "10.20.30.40" in found["gosho"] and "2001:db8:5:8" not in found["gosho"], (url, found)
    # Sorting by the column still works (by the IPv4 address).
    assert admin.get("/online/list/?_oc_OnlineView=ip_address&_od_OnlineView=asc").status_code == 200


def test_sorting_by_the_ip_column_orders_by_what_it_shows(app, admin):
    """"В мрежата сега" sorted by its IP column: an IPv6-only session takes its place by the IPv6 address or prefix
    it shows, among the IPv4 ones by theirs (not all of them together at one end)."""
    now = datetime.utcnow().replace(microsecond=0)
    shown = {"boris": "fd00::9", "ana": "10.0.0.5", "gosho": "2001:db8:5:8::/64", "vera": "30.0.0.1",
             "dana": "2001:db8:cc00::/56"}
    with app.app_context():
        server = nas()
        for name in shown:
            make_subscription(make_client(None, f"Абонат {name}"),
                              make_service(f"Интернет {name}", username_type="radius"),
                              username=name, password="parola-123")
        apply([
            event(START, server.id, "s-boris", "boris", now, None, None, "fd00::9"),
            Event(START, server.id, "s-ana", "ana", now, 0, 0, 0, "10.0.0.5", None, None, None, None, None, None),
            event(START, server.id, "s-gosho", "gosho", now, "2001:db8:5:8::/64"),
            Event(START, server.id, "s-vera", "vera", now, 0, 0, 0, "30.0.0.1", None, None, None, None, None, None),
            event(START, server.id, "s-dana", "dana", now, None, "2001:db8:cc00::/56"),
        ])
        db.session.commit()

    def order(direction):
        html = admin.get(f"/online/list/?_oc_OnlineView=ip_address&_od_OnlineView={direction}").text
        rows = [visible_text(row) for row in html.split("<tr")[1:]]
        return [name for row in rows for name in shown if shown[name] in row]

    ascending = ["ana", "gosho", "dana", "vera", "boris"]  # 10.0.0.5, 2001:db8:5:8::/64, 2001:db8:cc00::/56, …
    assert order("asc") == ascending
    assert order("desc") == ascending[::-1]
