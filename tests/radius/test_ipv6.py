"""IPv6 over RADIUS, against a real `flask radius serve` process: the Accept carries the subscription's link prefix
(Framed-IPv6-Prefix) and delegated prefix (Delegated-IPv6-Prefix) — the same at every login, on the lean path and
pyrad's alike, as radclient prints them — and accounting stores the IPv6 a NAS reports."""
import os
import shutil
import subprocess

import pytest
from pyrad import packet as radius_packet
from sqlalchemy import select

from app.clients.subscriptions import sell_subscription
from app.extensions import db
from app.networks.models import DELEGATED, Ipv6Pool
from app.networks.ipv6 import pool_errors
from app.radius.models import RadiusSession
from tests.factories import head_office_cashier, make_client, make_service
from tests.radius.test_radius import SECRET, access, client, nas, radius  # noqa: F401 — the fixture

LINK_PREFIX, DELEGATED_PREFIX = "2001:db8:100::/64", "2001:db8:ff00::/56"


def pools():
    for name, prefix, kind, length in (("Линкове", "2001:db8:100::/48", "link", 64),
                                       ("Делегирани", "2001:db8:ff00::/40", DELEGATED, 56)):
        pool = Ipv6Pool(name=name, prefix=prefix, kind=kind, assign_length=length)
        assert pool_errors(pool) == {}
        db.session.add(pool)
    db.session.commit()


def ipv6_subscriber(username="ivan", password="parola-123", delegated=56):
    service = make_service(f"Интернет IPv6 {username}", username_type="radius")
    service.ipv6, service.ipv6_delegated_length = True, delegated
    service.download_kbps, service.upload_kbps = 20000, 5000
    db.session.commit()
    subscription = sell_subscription(head_office_cashier(), make_client(None, f"Абонат {username}"), service,
                                     username=username, password=password)
    db.session.commit()
    return subscription.ipv6_prefixes


def access_through_pyrad(server, username, password):
    """An Access-Request the lean decoder leaves to pyrad (Connect-Info is not one it reads)."""
    radius_client = client(server)
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=username)
    request["Connect-Info"] = "PPPoE 1000 Mbit/s"
    request.add_message_authenticator()
    request["User-Password"] = request.PwCrypt(password)
    return radius_client.SendPacket(request)


def test_the_accept_carries_the_subscriptions_prefixes_at_every_login_on_both_paths(app, radius):
    with app.app_context():
        nas(vendor="mikrotik")
        pools()
        assert ipv6_subscriber() == f"{LINK_PREFIX}, {DELEGATED_PREFIX}"
    for login in (access, access_through_pyrad, access):  # a re-login gets the same prefixes
        reply = login(radius, "ivan", "parola-123")
        assert reply.code == radius_packet.AccessAccept
        assert reply["Framed-IPv6-Prefix"] == [LINK_PREFIX]
        assert reply["Delegated-IPv6-Prefix"] == [DELEGATED_PREFIX]
        assert reply["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
    # Sold while the server runs (on PostgreSQL its logins are in memory: the sale's prefixes reach it at once).
    with app.app_context():
        assert ipv6_subscriber("maria") == "2001:db8:100:1::/64, 2001:db8:ff00:100::/56"
    reply = access(radius, "maria", "parola-123")
    assert reply.code == radius_packet.AccessAccept
    assert reply["Framed-IPv6-Prefix"] == ["2001:db8:100:1::/64"]
    assert reply["Delegated-IPv6-Prefix"] == ["2001:db8:ff00:100::/56"]


def test_radclient_prints_framed_and_delegated_ipv6_prefix(app, radius):
    if shutil.which("radclient") is None:
        pytest.fail("radclient (Debian freeradius-utils) is needed") if os.environ.get("CI") else pytest.skip(
            "no radclient")
    with app.app_context():
        nas(vendor="cisco")
        pools()
        ipv6_subscriber()
    printed = subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "4", f"127.0.0.1:{radius.auth_port}", "auth", SECRET.decode()],
        input='User-Name = "ivan", User-Password = "parola-123", Message-Authenticator = 0x00\n',
        capture_output=True, text=True, timeout=20)
    output = printed.stdout + printed.stderr
    assert "Access-Accept" in output, output
    assert f"Framed-IPv6-Prefix = {LINK_PREFIX}" in output, output
    assert f"Delegated-IPv6-Prefix = {DELEGATED_PREFIX}" in output, output


def test_accounting_stores_the_ipv6_the_nas_reports(app, radius):
    with app.app_context():
        nas()
        pools()
        ipv6_subscriber()
    radius_client = client(radius)
    for status in ("Start", "Interim-Update"):
        request = radius_client.CreateAcctPacket(User_Name="ivan")
        request["Acct-Status-Type"] = status
        request["Acct-Session-Id"] = "v6-only"
        # An IPv6-only session: no Framed-IP-Address at all.
        request["Framed-IPv6-Prefix"] = LINK_PREFIX
        request["Delegated-IPv6-Prefix"] = DELEGATED_PREFIX
        request["Framed-IPv6-Address"] = "2001:db8:100::1234"
        assert radius_client.SendPacket(request).code == radius_packet.AccountingResponse
    with app.app_context():
        session = db.session.scalar(select(RadiusSession))
        assert session.framed_ip is None
        assert (session.framed_ipv6_prefix, session.delegated_ipv6_prefix, session.framed_ipv6_address) == (
            LINK_PREFIX, DELEGATED_PREFIX, "2001:db8:100::1234")


def test_a_service_gives_ipv6_in_its_form_and_no_parameter_repeats_the_prefixes(app, admin):
    from app.catalog.models import Service, ServiceGroup
    from tests.catalog.test_services import service_form
    from tests.conftest import visible_text

    with app.app_context():
        group = ServiceGroup(name="Кабелен интернет")
        db.session.add(group)
        db.session.commit()
        group_id = group.id
    refused = admin.submit("/services/add", service_form(group_id, ipv6_delegated_length="56"))
    assert "Префикс се делегира само с IPv6: отметнете и IPv6." in visible_text(refused.text)
    assert admin.submit("/services/add", service_form(group_id, ipv6="y", ipv6_delegated_length="60")
                        ).status_code == 302
    with app.app_context():
        service = db.session.scalar(select(Service))
        assert (service.ipv6, service.ipv6_delegated_length) == (True, 60)
        service_id = service.id
    page = visible_text(admin.get(f"/services/show/{service_id}").text)
    assert "Делегиран IPv6 префикс /60" in page
    response = admin.submit("/service-parameters/add", {"service": service_id, "name": "Framed-IPv6-Prefix",
                                                        "value": "2001:db8::/64"})
    assert "Framed-IPv6-Prefix е собственият префикс на всеки абонамент" in visible_text(response.text)
    assert admin.submit("/service-parameters/add", {"service": service_id, "name": "Framed-IPv6-Pool",
                                                    "value": "pppoe-v6"}).status_code == 302
