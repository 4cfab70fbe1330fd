"""Operators' accounts: nobody locks themselves or the company out, and history is never deleted."""
from sqlalchemy import select

from app.security import permissions as p
from app.security.models import Operator
from app.extensions import db
from tests.conftest import ADMIN_USERNAME, Browser, api_token
from tests.factories import make_operator

PASSWORD = "operator-pass-123"


def token_client(app, username, password=PASSWORD):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(client, username, password)
    return client


def operator_state(app, username):
    with app.app_context():
        operator = db.session.scalars(select(Operator).where(Operator.username == username)).one_or_none()
        return None if operator is None else (operator.active, sorted(role.name for role in operator.roles))


def test_nobody_deactivates_deletes_or_demotes_themselves_or_the_last_administrator(app, api):
    with app.app_context():
        admin_id = db.session.scalars(select(Operator.id).where(Operator.username == ADMIN_USERNAME)).one()
        admin_role_id = app.appbuilder.sm.find_role(p.ADMINISTRATOR).id
        cashier_role_id = app.appbuilder.sm.find_role(p.CASHIER).id
        second_id = make_operator(None, "втори", p.ADMINISTRATOR, username="second").id

    second = token_client(app, "second")
    refused = second.put(f"/api/v1/operators/{second_id}", json={"active": False})
    assert refused.status_code == 422
    assert refused.json["message"]["active"] == ["Не можете да деактивирате собствения си профил."]
    assert second.delete(f"/api/v1/operators/{second_id}").json["message"] == {
        "username": ["Не можете да изтриете собствения си профил."]}

    # With a second active administrator the first may be demoted by someone else...
    assert api.put(f"/api/v1/operators/{second_id}", json={"active": False}).status_code == 200
    # ...but now the test administrator is the last one: no demotion, no deactivation, no deletion.
    demoted = api.put(f"/api/v1/operators/{admin_id}", json={"roles": [cashier_role_id]})
    assert demoted.status_code == 422
    assert "последният активен администратор" in demoted.json["message"]["roles"][0]
    assert api.put(f"/api/v1/operators/{admin_id}", json={"active": False}).status_code == 422
    assert api.delete(f"/api/v1/operators/{admin_id}").status_code == 422
    assert operator_state(app, ADMIN_USERNAME) == (True, [p.ADMINISTRATOR])
    assert operator_state(app, "second") == (False, [p.ADMINISTRATOR])
    assert api.put(f"/api/v1/operators/{second_id}", json={"active": True, "roles": [admin_role_id]}).status_code == 200


def test_an_operator_with_history_is_deactivated_never_deleted(app, admin):
    with app.app_context():
        worked = make_operator(None, "работил", p.CASHIER, username="worked").id
        fresh = make_operator(None, "нов", p.CASHIER, username="fresh").id
    Browser(app).login("worked", PASSWORD)  # a login is history: it is in the LOG

    token = admin.csrf_token("/operators/list/")
    page = admin.client.post(f"/operators/delete/{worked}", data={"csrf_token": token}, follow_redirects=True)
    assert "деактивирайте профила вместо да го изтривате" in page.text
    assert operator_state(app, "worked") == (True, [p.CASHIER])
    admin.client.post(f"/operators/delete/{fresh}", data={"csrf_token": token})
    assert operator_state(app, "fresh") is None
