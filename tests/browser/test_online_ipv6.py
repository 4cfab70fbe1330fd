""""В мрежата сега" searched by an IPv6 address in a real browser at 1366 × 768: an address inside the prefix delegated
to a demo subscriber (Интернет 300 Mbps gives a /64 and a /56) lists their session, typed into the page's own filter.

Playwright driving Debian's /usr/bin/chromium over the demo's data (tests/browser/test_walk.py's fixtures); the
screenshot goes to SCREENSHOTS_DIR.
"""
import ipaddress
from datetime import datetime

from sqlalchemy import select

from app.clients.models import Subscription
from app.extensions import db
from app.networks.models import DELEGATED, LINK, Ipv6Allocation
from app.radius.accounting import START, Event, apply
from app.radius.models import Nas
from tests.browser.test_search import DESK, desk_screenshot
from tests.browser.test_walk import browser, live_server, log_in  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME


def online_with_ipv6(app):
    """A demo subscriber with IPv6 online (its NAS reports the link's prefix): (username, an address inside the
    delegated prefix)."""
    with app.app_context():
        delegated = db.session.scalars(select(Ipv6Allocation).where(Ipv6Allocation.kind == DELEGATED)
                                       .order_by(Ipv6Allocation.id)).first()
        link = db.session.scalars(select(Ipv6Allocation).where(
            Ipv6Allocation.kind == LINK, Ipv6Allocation.subscription_id == delegated.subscription_id)).one()
        username = db.session.get(Subscription, delegated.subscription_id).username
        nas = db.session.scalars(select(Nas).order_by(Nas.id)).first()
        if nas is None:
            nas = Nas(name="NAS Център", ip_address="192.0.2.1", secret="demo-secret", vendor="mikrotik")
            db.session.add(nas)
            db.session.flush()
        apply([Event(START, nas.id, "ipv6-demo", username, datetime.utcnow().replace(microsecond=0), 0, 0, 0, None,
                     "AA:BB:CC:00:11:22", None, None, link.prefix, delegated.prefix, None)])
        db.session.commit()
        inside = ipaddress.IPv6Network(delegated.prefix).network_address + (0x1a12 << 64) % (2 ** 72) + 0x1234
        return username, str(inside)


def test_online_finds_a_subscriber_by_an_address_inside_their_delegated_prefix(live_server, browser, app):  # noqa: F811
    username, address = online_with_ipv6(app)
    page = log_in(browser, live_server, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.set_viewport_size(DESK)
    page.goto(f"{live_server}/online/list/")
    # The page's own filter: the column "IPv6 адрес", its one way of searching, the address typed.
    page.click("text=Търсене")  # the list's search panel
    page.click("text=Добави филтър")
    page.click("ul.dropdown-menu a.filter[name=framed_ipv6_address]")
    assert "IPv6 адрес" in page.inner_text("table.filters")
    assert "Съдържа адреса (в префикса)" in page.inner_text("table.filters")
    page.fill("#filter_form input[name$=_framed_ipv6_address]", address)
    page.click("#filter_form button[type=submit]")
    page.wait_for_load_state("networkidle")
    body = page.inner_text("body")
    assert "Брой записи: 1" in body and f"\t{username}\t" in body, body
    assert page.input_value("#filter_form input[name$=_framed_ipv6_address]") == address  # kept for the next search
    page.click("text=Търсене")  # the panel open again, the address in view beside the row it found
    page.wait_for_selector("#filter_form input[name$=_framed_ipv6_address]", state="visible")
    desk_screenshot(page, "online-ipv6-search")
