"""Generic dealer isolation: every registered view and REST endpoint, discovered
from the URL map, shows a dealer's operator nothing of another dealer.

The operator of dealer "Алфа" holds the Administrator role (every
permission), so only dealer scoping stands between them and dealer "Бета".
"""
import pytest
from flask_appbuilder import Model
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.views import ModelView

from app.extensions import db
from app.core.scoping import SCOPE_FILTER, is_scoped_model
from tests.conftest import Browser, api_token
from tests.factories import SCOPED_FACTORIES, make_dealer, make_operator

PASSWORD = "operator-pass-123"


def scoped_models():
    return {
        mapper.class_
        for mapper in Model.registry.mappers
        if is_scoped_model(mapper.class_) and not mapper.class_.__name__.endswith("Version")
    }


def registered_views(app):
    """(view, rules) for every FAB view or API reachable through the URL map."""
    by_blueprint = {view.blueprint.name: view for view in app.appbuilder.baseviews if getattr(view, "blueprint", None)}
    found = {}
    for rule in app.url_map.iter_rules():
        view = by_blueprint.get(rule.endpoint.split(".")[0])
        if view is not None:
            found.setdefault(view, []).append(rule)
    return found


@pytest.fixture
def world(app):
    """Dealers Алфа and Бета with one record of every scoped model each."""
    with app.app_context():
        alpha, beta = make_dealer("Алфа"), make_dealer("Бета")
        records = {}
        for model, (factory, label_of) in SCOPED_FACTORIES.items():
            for dealer, tag in ((alpha, "Алфа"), (beta, "Бета")):
                record = factory(dealer, tag)
                records[(model, tag)] = (record.id, label_of(record))
        make_operator(alpha, "главен", "Администратор", username="alpha-admin")
        db.session.commit()
        return {"alpha": alpha.id, "beta": beta.id, "records": records}


def test_every_scoped_model_has_a_factory():
    missing = sorted(m.__name__ for m in scoped_models() if m not in SCOPED_FACTORIES)
    assert missing == [], "add a factory in tests/factories.py for these dealer-scoped models"


def test_every_view_of_a_scoped_model_declares_scoping(app):
    unscoped = []
    for view in registered_views(app):
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is not None and is_scoped_model(model):
            if SCOPE_FILTER not in (view.base_filters or []):
                unscoped.append(type(view).__name__)
    assert unscoped == []


def test_dealer_operator_never_sees_another_dealers_records(app, world):
    browser = Browser(app)
    browser.login("alpha-admin", PASSWORD)
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "alpha-admin", PASSWORD)
    records = world["records"]
    beta_labels = [label for (model, tag), (_id, label) in records.items() if tag == "Бета"]
    checked = set()

    for view, rules in registered_views(app).items():
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        paths = {rule.endpoint.split(".", 1)[1]: rule for rule in rules}
        if isinstance(view, ModelView):
            base = view.route_base
            for form in ("add",):
                if form in paths:
                    page = browser.get(f"{base}/add").text
                    for label in beta_labels:
                        assert label not in page, (base, "add form offers", label)
            if model is None or not is_scoped_model(model):
                continue
            beta_id, beta_label = records[(model, "Бета")]
            alpha_id, alpha_label = records[(model, "Алфа")]
            listing = browser.get(f"{base}/list/").text
            assert alpha_label in listing, (base, "own record missing from the list")
            for label in beta_labels:
                assert label not in listing, (base, "list shows", label)
            assert browser.get(f"{base}/show/{beta_id}").status_code == 404, base
            if "edit" in paths:
                page = browser.get(f"{base}/edit/{alpha_id}").text
                for label in beta_labels:
                    assert label not in page, (base, "edit form offers", label)
                assert browser.get(f"{base}/edit/{beta_id}").status_code == 404, base
                token = browser.csrf_token(f"{base}/list/")
                response = browser.client.post(f"{base}/edit/{beta_id}", data={"csrf_token": token})
                assert response.status_code == 404, base
            if "delete" in paths and "can_delete" in view.base_permissions:
                token = browser.csrf_token(f"{base}/list/")
                response = browser.client.post(f"{base}/delete/{beta_id}", data={"csrf_token": token})
                assert response.status_code == 404, base
            for action_name in (view.actions or {}):
                token = browser.csrf_token(f"{base}/list/")
                response = browser.client.post(f"{base}/action/{action_name}/{beta_id}", data={"csrf_token": token})
                assert response.status_code == 404, (base, action_name)
                response = browser.client.post(
                    f"{base}/action_post", data={"csrf_token": token, "action": action_name, "rowid": [beta_id]}
                )
                assert response.status_code == 404, (base, "action_post", action_name)
            checked.add(model)
        elif isinstance(view, ModelRestApi):
            base = f"/api/v1/{view.resource_name}"
            info = api.get(f"{base}/_info")
            if info.status_code == 200:
                for label in beta_labels:
                    assert label not in info.text, (base, "_info offers", label)
            if model is None or not is_scoped_model(model):
                continue
            beta_id, beta_label = records[(model, "Бета")]
            listing = api.get(f"{base}/?q=(page_size:100)")
            assert listing.status_code == 200, base
            assert beta_id not in listing.json["ids"], base
            assert api.get(f"{base}/{beta_id}").status_code == 404, base
            # 405: an API without updates (payments) has no PUT at all
            assert api.put(f"{base}/{beta_id}", json={}).status_code in (404, 400, 405), base
            if "can_delete" in view.base_permissions:
                assert api.delete(f"{base}/{beta_id}").status_code == 404, base
            checked.add(model)

    with app.app_context():
        for model in scoped_models():
            beta_id, _label = records[(model, "Бета")]
            assert db.session.get(model, beta_id) is not None, f"{model.__name__} of Бета was deleted"
    panel_models = {type(v).datamodel.obj for v in registered_views(app) if isinstance(v, ModelView) and getattr(v, "datamodel", None)}
    assert {m for m in scoped_models() if m in panel_models} <= checked


def test_forged_relation_to_another_dealer_is_refused(app, world):
    """A form or API body naming another dealer's record stores nothing."""
    browser = Browser(app)
    browser.login("alpha-admin", PASSWORD)
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("Касиер").id
    response = browser.submit(
        "/operators/add",
        {
            "first_name": "Подправен", "last_name": "Опит", "username": "forged-form",
            "email": "forged-form@example.bg", "active": "y", "dealer": world["beta"],
            "roles": role_id, "password": "Forged-pass-123", "conf_password": "Forged-pass-123",
        },
    )
    assert response.status_code == 200  # the form again
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "alpha-admin", PASSWORD)
    response = api.post(
        "/api/v1/operators/",
        json={"username": "forged-api", "first_name": "П", "last_name": "О", "email": "forged-api@example.bg",
              "active": True, "dealer": world["beta"], "roles": [role_id], "password": "Forged-pass-123"},
    )
    assert response.status_code == 422, response.text
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="forged-form") is None
        assert app.appbuilder.sm.find_user(username="forged-api") is None


def test_new_record_lands_in_the_operators_dealer(app, world):
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "alpha-admin", PASSWORD)
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("Касиер").id
    response = api.post(
        "/api/v1/operators/",
        json={"username": "new-cashier", "first_name": "Нова", "last_name": "Касиерка",
              "email": "new-cashier@example.bg", "active": True, "roles": [role_id], "password": "Cashier-pass-123"},
    )
    assert response.status_code == 201, response.text
    with app.app_context():
        assert app.appbuilder.sm.find_user(username="new-cashier").dealer_id == world["alpha"]
