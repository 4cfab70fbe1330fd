"""The protection list: outside addresses get 403 everywhere an operator goes."""
from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.extensions import db
from app.protection.models import AllowedAddress
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Browser, api_token, app_config, visible_text

INSIDE = "10.1.2.3"
OUTSIDE = "192.0.2.77"
REFUSAL = "Достъпът от вашия адрес"


def allow(app, *networks):
    with app.app_context():
        for network in networks:
            db.session.add(AllowedAddress(network=network, comment="тест"))
        db.session.commit()


def stored_networks(app):
    with app.app_context():
        return sorted(db.session.scalars(select(AllowedAddress.network)))


def test_empty_list_lets_everyone_in(app):
    Browser(app, remote_addr=OUTSIDE).login()


def test_outside_address_refused_everywhere_inside_works(app):
    inside = Browser(app, remote_addr=INSIDE)
    inside_token = api_token(inside.client)
    allow(app, "10.0.0.0/8")
    outside = Browser(app, remote_addr=OUTSIDE)
    for url in ("/login/", "/dealers/list/", "/log/list/", "/"):
        response = outside.get(url)
        assert response.status_code == 403, url
        assert REFUSAL in visible_text(response.text) and OUTSIDE in response.text
    response = outside.client.post("/api/v1/security/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "provider": "db"})
    assert response.status_code == 403 and REFUSAL in response.json["message"]
    # A token obtained inside is no good outside.
    response = outside.client.get("/api/v1/dealers/", headers={"Authorization": f"Bearer {inside_token}"})
    assert response.status_code == 403

    inside.login()
    assert inside.get("/dealers/list/").status_code == 200
    assert inside.client.get("/api/v1/dealers/", headers={"Authorization": f"Bearer {inside_token}"}).status_code == 200
    with app.app_context():
        refusals = db.session.scalars(select(LogEntry).where(LogEntry.operation == "refused")).all()
    assert {entry.remote_addr for entry in refusals} == {OUTSIDE}
    assert any("/dealers/list/" in entry.note for entry in refusals)


def test_forwarded_for_ignored_without_trusted_proxies(app, database_url):
    allow(app, "10.0.0.0/8")
    spoofer = Browser(app, remote_addr=OUTSIDE)
    spoofer.client.environ_base["HTTP_X_FORWARDED_FOR"] = INSIDE
    assert spoofer.get("/login/").status_code == 403

    proxied = create_app(app_config(database_url, TRUSTED_PROXIES=1))
    behind_proxy = Browser(proxied, remote_addr="127.0.0.1")
    behind_proxy.client.environ_base["HTTP_X_FORWARDED_FOR"] = INSIDE
    assert behind_proxy.get("/login/").status_code == 200
    behind_proxy.client.environ_base["HTTP_X_FORWARDED_FOR"] = OUTSIDE
    assert behind_proxy.get("/login/").status_code == 403


def test_list_that_locks_out_its_author_is_refused(app):
    admin = Browser(app, remote_addr="192.0.2.10")
    admin.login()
    response = admin.submit("/protection/add", {"network": "10.0.0.0/8", "comment": "офис"})
    # The form comes back with the reason under the field and the value kept.
    assert response.status_code == 200
    page = visible_text(response.text)
    assert "вашият адрес 192.0.2.10 няма да е в списъка" in page and 'value="10.0.0.0/8"' in response.text
    assert stored_networks(app) == []

    assert admin.submit("/protection/add", {"network": "192.0.2.0/24", "comment": "офис"}).status_code == 302
    assert admin.submit("/protection/add", {"network": "10.0.0.0/8", "comment": "склад"}).status_code == 302
    assert stored_networks(app) == ["10.0.0.0/8", "192.0.2.0/24"]
    with app.app_context():
        own = db.session.scalars(select(AllowedAddress).filter_by(network="192.0.2.0/24")).one().id
    token = admin.csrf_token("/protection/list/")
    admin.client.post(f"/protection/delete/{own}", data={"csrf_token": token})
    assert stored_networks(app) == ["10.0.0.0/8", "192.0.2.0/24"]


def test_bad_network_gets_a_bulgarian_message(app, admin):
    response = admin.submit("/protection/add", {"network": "10.0.0.5/8"})
    assert "имахте ли предвид 10.0.0.0/8" in visible_text(response.text)
    response = admin.submit("/protection/add", {"network": "не е адрес"})
    assert "Това не е IP адрес или мрежа" in visible_text(response.text)
    assert stored_networks(app) == []


def test_clear_from_the_console_restores_access(app):
    allow(app, "10.0.0.0/8")
    assert Browser(app, remote_addr=OUTSIDE).get("/login/").status_code == 403
    result = app.test_cli_runner().invoke(args=["protection", "clear"])
    assert result.exit_code == 0, result.output
    assert stored_networks(app) == []
    assert Browser(app, remote_addr=OUTSIDE).get("/login/").status_code == 200
