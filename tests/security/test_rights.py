"""Rights are checked on the server: 403s, and no operator hands out more than they hold."""
from app.extensions import db
from app.security import permissions as p
from app.security.rights import may
from tests.conftest import Browser, api_token, visible_text
from tests.factories import make_dealer, make_operator

PASSWORD = "operator-pass-123"


def login_as(app, dealer_name, role, username):
    with app.app_context():
        dealer = make_dealer(dealer_name) if dealer_name else None
        operator = make_operator(dealer, username, role, username=username)
        ids = (operator.id, dealer.id if dealer else None)
        db.session.commit()
    browser = Browser(app)
    browser.login(username, PASSWORD)
    return browser, ids


def role_id(app, name):
    with app.app_context():
        return app.appbuilder.sm.find_role(name).id


def test_cashier_gets_403_on_dealer_and_operator_editing(app):
    cashier, _ = login_as(app, None, p.CASHIER, "cashier")
    assert cashier.get("/dealers/list/").status_code == 200  # may look
    for url in ("/dealers/add", "/operators/list/", "/operators/add", "/roles/list/", "/protection/list/"):
        response = cashier.get(url)
        assert response.status_code == 403, url
        assert "Нямате право" in visible_text(response.text)
    token = cashier.csrf_token("/resetmypassword/form")
    response = cashier.client.post("/dealers/add", data={"csrf_token": token, "name": "Нелегален"})
    assert response.status_code == 403
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "cashier", PASSWORD)
    assert api.post("/api/v1/dealers/", json={"name": "Нелегален"}).status_code == 403
    assert api.get("/api/v1/operators/").status_code == 403
    with app.app_context():
        cashier_operator = app.appbuilder.sm.find_user(username="cashier")
        assert may(cashier_operator, p.RECORD_PAYMENT) and not may(cashier_operator, p.MANAGE_OPERATORS)
        assert not may(cashier_operator, p.CHANGE_TECHNICAL)


def test_dealer_admin_cannot_create_administrator_or_foreign_operator(app):
    boss, (_boss_id, dealer_id) = login_as(app, "Алфа", p.DEALER_ADMINISTRATOR, "boss")
    with app.app_context():
        other = make_dealer("Бета")
        other_id = other.id
        db.session.commit()
    form = {
        "first_name": "Нов", "last_name": "Оператор", "email": "new@example.bg", "active": "y",
        "password": "New-operator-123", "conf_password": "New-operator-123",
    }
    page = boss.get("/operators/add").text
    assert "Администратор</option>" not in page and "Мениджър" not in page
    assert "Касиер" in page

    # Forged: the Administrator role, another dealer's operator.
    response = boss.submit("/operators/add", dict(form, username="forged-admin", roles=role_id(app, p.ADMINISTRATOR)))
    assert response.status_code == 200
    response = boss.submit(
        "/operators/add", dict(form, username="forged-foreign", roles=role_id(app, p.CASHIER), dealer=other_id)
    )
    assert response.status_code == 200
    response = boss.submit("/operators/add", dict(form, username="ok-cashier", roles=role_id(app, p.CASHIER)))
    assert response.status_code == 302
    with app.app_context():
        security = app.appbuilder.sm
        assert security.find_user(username="forged-admin") is None
        assert security.find_user(username="forged-foreign") is None
        assert security.find_user(username="ok-cashier").dealer_id == dealer_id


def test_dealer_admin_cannot_raise_own_rights(app):
    boss, (boss_id, _dealer_id) = login_as(app, "Алфа", p.DEALER_ADMINISTRATOR, "boss")
    own = {"first_name": "Оператор-boss", "last_name": "Дилър Алфа", "username": "boss",
           "email": "boss@example.bg", "active": "y"}
    for role in (p.ADMINISTRATOR, p.MANAGER):
        response = boss.submit(f"/operators/edit/{boss_id}", dict(own, roles=[role_id(app, p.DEALER_ADMINISTRATOR), role_id(app, role)]))
        assert response.status_code == 200, role
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "boss", PASSWORD)
    response = api.put(f"/api/v1/operators/{boss_id}", json={"roles": [role_id(app, p.ADMINISTRATOR)]})
    assert response.status_code == 422, response.text
    response = api.post(
        "/api/v1/operators/",
        json={"username": "api-admin", "first_name": "А", "last_name": "Б", "email": "api-admin@example.bg",
              "active": True, "roles": [role_id(app, p.ADMINISTRATOR)], "password": "Api-admin-123"},
    )
    assert response.status_code == 422
    with app.app_context():
        roles = {r.name for r in app.appbuilder.sm.find_user(username="boss").roles}
        assert roles == {p.DEALER_ADMINISTRATOR}
        assert app.appbuilder.sm.find_user(username="api-admin") is None


def test_role_changes_are_in_the_log(app, admin):
    from sqlalchemy import select

    from app.audit.models import LogEntry

    with app.app_context():
        operator = make_operator(None, "x", p.CASHIER, username="clerk")
        operator_id = operator.id
    response = admin.submit(
        f"/operators/edit/{operator_id}",
        {"first_name": "Оператор-x", "last_name": "Централа", "username": "clerk", "email": "clerk@example.bg",
         "active": "y", "roles": [role_id(app, p.CASHIER), role_id(app, p.TECHNICAL_SUPPORT)]},
    )
    assert response.status_code == 302
    with app.app_context():
        entry = db.session.scalars(
            select(LogEntry).where(LogEntry.entity_type == "Operator", LogEntry.operation == "update")
        ).all()[-1]
        assert entry.changes == {"roles": ["Касиер", "Касиер, Техническа поддръжка"]}
        assert entry.user.username == "admin"


def test_rights_matrix_reads_bulgarian(app, admin):
    page = visible_text(admin.get("/roles/matrix/").text)
    assert "Матрица на правата" in page
    assert "Операции: въвеждане на плащане" in page
    assert "Дилър: редактиране" in page
    assert "Касиер" in page and "Администратор на дилър" in page
    roles_page = visible_text(admin.get("/roles/list/").text)
    assert "Оператор: списък" in roles_page and "can list" not in roles_page
