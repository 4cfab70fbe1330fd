"""The NAS list at /nas/: its rules, and the shared secret kept out of sight and out of the LOG."""
from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.radius.models import Nas
from tests.conftest import Browser, visible_text
from tests.factories import make_operator

FORM = {"name": "MikroTik Младост", "ip_address": "10.0.0.1", "secret": "Tajna-Parola-7", "vendor": "mikrotik",
        "coa_port": "3799", "require_message_authenticator": "y", "description": ""}


def add(browser, **values):
    return browser.submit("/nas/add", dict(FORM, **values))


def test_the_office_adds_a_nas_and_its_secret_is_masked_in_the_log(app, admin):
    assert add(admin).status_code == 302
    with app.app_context():
        nas = db.session.scalar(select(Nas))
        assert (nas.ip_address, nas.secret, nas.require_message_authenticator) == ("10.0.0.1", "Tajna-Parola-7", True)
        entry = db.session.scalar(select(LogEntry).where(LogEntry.entity_type == "Nas"))
        assert entry.changes["secret"] == [None, "***"]
        nas_id = nas.id
    # Edited with the secret left empty: the secret stays.
    response = admin.submit(f"/nas/edit/{nas_id}", dict(FORM, name="MikroTik Дружба", secret=""))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Nas, nas_id).secret == "Tajna-Parola-7"
    # The administrator holds the right to see it: shown, and the LOG says who saw it.
    assert "Tajna-Parola-7" in visible_text(admin.get(f"/nas/show/{nas_id}").text)
    with app.app_context():
        assert db.session.scalar(select(LogEntry.operation).where(LogEntry.operation == "secret_viewed",
                                                                  LogEntry.entity_type == "Nas"))
    assert "Tajna-Parola-7" not in admin.get("/nas/list/").text
    assert "Tajna-Parola-7" not in admin.get(f"/nas/edit/{nas_id}").text


def test_a_nas_the_rules_refuse_is_not_stored(app, admin):
    assert add(admin).status_code == 302
    for values, message in (
            ({"name": "Друг", "ip_address": "10.0.0.300"}, "IP адреса"),
            ({"name": "Друг", "ip_address": "10.0.0.2", "secret": "short"}, "поне 8 знака"),
            ({"name": "Друг", "ip_address": "10.0.0.1"}, "Друг NAS вече е с този адрес"),
            ({"ip_address": "10.0.0.3"}, "Вече съществува"),
            ({"name": "Друг", "ip_address": "10.0.0.4", "coa_port": "70000"}, "от 1 до 65535")):
        response = add(admin, **values)
        assert response.status_code == 200, values
        assert message in visible_text(response.text), (values, visible_text(response.text)[:2000])
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Nas.id))) == 1


def test_who_may_read_the_list_but_not_the_secret_sees_dots(app, admin):
    assert add(admin).status_code == 302
    with app.app_context():
        nas_id = db.session.scalar(select(Nas.id))
        manager = make_operator(None, "мениджър", "Мениджър", username="manager-nas")
        role = manager.roles[0]
        security = app.appbuilder.sm
        for permission in ("can_list", "can_show"):
            security.add_permission_role(role, security.find_permission_view_menu(permission, "Nas"))
        db.session.commit()
    manager = Browser(app)
    manager.login("manager-nas", "operator-pass-123")
    page = visible_text(manager.get(f"/nas/show/{nas_id}").text)
    assert "MikroTik Младост" in page and "Tajna-Parola-7" not in page and "••••••" in page
    assert manager.get(f"/nas/edit/{nas_id}").status_code in (302, 403)


def test_nas_behind_one_address_each_with_its_identifier_and_interval(app, admin):
    assert add(admin, nas_identifier="bras-1", interim_interval="120").status_code == 302
    assert add(admin, name="BRAS 2", nas_identifier=" bras-2 ", interim_interval="").status_code == 302
    assert add(admin, name="Адресът", nas_identifier="").status_code == 302  # the address's NAS, without one
    for values, message in (
            ({"name": "Друг", "nas_identifier": "bras-1"}, "Друг NAS вече е с този адрес и NAS-Identifier"),
            ({"name": "Друг"}, "Друг NAS вече е с този адрес и NAS-Identifier"),
            ({"name": "Друг", "ip_address": "10.0.0.9", "interim_interval": "30"}, "Секунди от 60 до 86400"),
            ({"name": "Друг", "ip_address": "10.0.0.9", "interim_interval": "час"}, "Друг NAS")):
        response = add(admin, **values)
        assert response.status_code == 200, values
        page = visible_text(response.text)
        if values.get("interim_interval") == "час":
            assert "Друг NAS" not in page and "Интервал на междинните отчети" in page  # the form's own refusal
        else:
            assert message in page, (values, page[:2000])
    with app.app_context():
        stored = {nas.name: (nas.nas_identifier, nas.interim_interval) for nas in db.session.scalars(select(Nas))}
    assert stored == {"MikroTik Младост": ("bras-1", 120), "BRAS 2": ("bras-2", None), "Адресът": (None, None)}
    page = visible_text(admin.get("/nas/list/").text)
    assert "bras-2" in page and "NAS-Identifier" in page
