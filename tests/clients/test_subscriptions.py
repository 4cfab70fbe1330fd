"""Selling a service: rights, technology, IP addresses, usernames, status changes."""
import re

from sqlalchemy import func, select

from app.addresses.models import Block, City, Neighbourhood, Technology
from app.audit.models import LogEntry
from app.clients.models import Subscription
from app.extensions import db
from app.networks.models import IpAllocation
from tests.conftest import Browser, api_token, visible_text
from tests.factories import make_client, make_network, make_operator, make_service


def setup_world(app):
    """A client in a LAN-only block, a LAN service and a fibre service, a /28."""
    with app.app_context():
        lan, fibre = Technology(name="LAN"), Technology(name="FTTH")
        block = Block(neighbourhood=Neighbourhood(city=City(name="София"), name="Младост 1"), name="105",
                      technologies=[lan])
        db.session.add(block)
        db.session.commit()
        client = make_client(None, "Иван Петров", block=block)
        lan_service = make_service("Интернет LAN", ip_count=2, username_type="radius", technology=lan)
        fibre_service = make_service("Оптика", ip_count=1, username_type="radius", technology=fibre)
        tv = make_service("Телевизия")
        make_network("10.50.0.0/28", "Абонати", gateway="10.50.0.1")
        return client.id, lan_service.id, fibre_service.id, tv.id


def subscriptions(app):
    with app.app_context():
        return db.session.scalars(select(Subscription).order_by(Subscription.id)).all()


def add(browser, client_id, service_id, **extra):
    return browser.submit(
        f"/subscriptions/add?client={client_id}",
        dict({"client": client_id, "service": service_id}, **extra),
        form_url=f"/subscriptions/add?client={client_id}",
    )


def test_the_sale_form_names_no_service_until_one_is_chosen(app, admin):
    client_id, lan, _fibre, _tv = setup_world(app)
    form = admin.get(f"/subscriptions/add?client={client_id}").text
    options = re.findall(r'<option([^>]*)>([^<]*)</option>', form.split('name="service"', 1)[1].split("</select>")[0])
    # The first choice is the prompt, and it is the one selected: no service is sold by saving without looking.
    assert options[0][1] == "— изберете услуга —" and "selected" in options[0][0], options[:2]
    assert not any("selected" in attributes for attributes, _label in options[1:])
    refused = add(admin, client_id, "__None")
    assert refused.status_code == 200
    assert "Това поле е задължително" in visible_text(refused.text)
    assert subscriptions(app) == []


def test_sale_allocates_ips_and_makes_a_username(app, admin):
    client_id, lan, _fibre, _tv = setup_world(app)
    response = add(admin, client_id, lan)
    assert response.status_code == 302, visible_text(response.text)[-600:]
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        # The service needs no installation: active from the sale.
        assert subscription.status == "active"
        assert subscription.ip_addresses == "10.50.0.2, 10.50.0.3"
        number = subscription.client.client_number
        assert subscription.username == f"u{number}" and len(subscription.password) >= 8
    card = visible_text(admin.get(f"/clients/show/{client_id}").text)
    assert "Интернет LAN Активна" in card and "10.50.0.2, 10.50.0.3" in card
    assert f"u{number}" in card
    # The client's second login: the same form with its subscription's number.
    assert add(admin, client_id, lan).status_code == 302
    with app.app_context():
        second = db.session.scalars(select(Subscription).order_by(Subscription.id.desc())).first()
        assert second.username == f"u{number}-{second.id}"


def test_technology_refused_unless_overridden_with_the_right(app, admin):
    client_id, _lan, fibre, _tv = setup_world(app)
    response = add(admin, client_id, fibre)
    assert "Блок ж.к. Младост 1, бл. 105 няма FTTH, необходима за Оптика." in visible_text(response.text)
    assert "Без проверка на техническата възможност" in visible_text(response.text)  # offered to who may
    assert subscriptions(app) == []
    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier")
    response = add(admin, client_id, fibre, technology_override="y")
    assert response.status_code == 302
    with app.app_context():
        override = db.session.scalars(select(LogEntry).where(LogEntry.operation == "override")).one()
        assert override.user.username == "admin" and "Оптика" in override.note
        assert db.session.scalars(select(Subscription.technology_override)).one() is True


def test_forged_sale_outside_the_operators_list_refused(app):
    client_id, lan, _fibre, tv = setup_world(app)
    with app.app_context():
        from app.catalog.models import Service

        seller = make_operator(None, "продавач", "Администратор на дилър", username="seller")
        seller.allowed_services = [db.session.get(Service, tv)]
        db.session.commit()
    browser = Browser(app)
    browser.login("seller", "operator-pass-123")
    response = add(browser, client_id, lan)
    assert "Не можете да продавате услугата Интернет LAN." in visible_text(response.text)
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, "seller", "operator-pass-123")
    response = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": lan})
    assert response.status_code == 422, response.text
    assert subscriptions(app) == []
    assert add(browser, client_id, tv).status_code == 302


def test_duplicate_username_refused(app, admin):
    client_id, lan, _fibre, tv = setup_world(app)
    assert add(admin, client_id, lan, username="ivan").status_code == 302
    response = add(admin, client_id, tv, username="ivan")
    assert "Потребителското име ivan е заето." in visible_text(response.text)
    assert len(subscriptions(app)) == 1


def test_termination_releases_the_ips_and_says_why(app, admin):
    client_id, lan, _fibre, _tv = setup_world(app)
    add(admin, client_id, lan)
    subscription_id = subscriptions(app)[0].id
    token = admin.csrf_token(f"/clients/show/{client_id}")
    response = admin.client.post(f"/subscriptions/status/{subscription_id}",
                                 data={"csrf_token": token, "status": "terminated", "reason": "Отказ от услугата"})
    assert response.status_code == 302
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert (subscription.status, subscription.status_reason) == ("terminated", "Отказ от услугата")
        assert db.session.scalar(select(func.count(IpAllocation.id))) == 0
        change = db.session.scalars(select(LogEntry).where(
            LogEntry.entity_type == "Subscription", LogEntry.operation == "update").order_by(LogEntry.id)).all()[-1]
        assert change.changes["status"] == ["active", "terminated"]
        assert change.changes["status_reason"] == ["Продадена без инсталация: активна от продажбата.",
                                                   "Отказ от услугата"]
        released = db.session.scalars(select(LogEntry).where(
            LogEntry.entity_type == "IpAllocation", LogEntry.operation == "delete")).all()
        assert len(released) == 2
    response = admin.client.post(f"/subscriptions/status/{subscription_id}",
                                 data={"csrf_token": token, "status": "active", "reason": "грешка"})
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).status == "terminated"


def test_override_needs_its_own_right(app):
    client_id, _lan, fibre, _tv = setup_world(app)
    with app.app_context():
        make_operator(None, "продавач", "Администратор на дилър", username="seller")
    seller = Browser(app)
    seller.login("seller", "operator-pass-123")
    assert "Без проверка на техническата възможност" not in visible_text(
        seller.get(f"/subscriptions/add?client={client_id}").text)  # not offered to who may not
    response = add(seller, client_id, fibre, technology_override="y")
    assert "Нямате право да пренебрегвате проверката за техническа възможност." in visible_text(response.text)
    assert subscriptions(app) == []


def test_a_subscribers_password_is_masked_in_the_log_and_shown_only_with_the_technical_right(app, admin):
    client_id, lan, _fibre, _tv = setup_world(app)
    assert add(admin, client_id, lan, username="ivan", password="Tajna-2026").status_code == 302
    subscription_id = subscriptions(app)[0].id
    with app.app_context():
        make_operator(None, "каса", "Касиер", username="cashier")
    cashier = Browser(app)
    cashier.login("cashier", "operator-pass-123")
    page = f"/subscriptions/show/{subscription_id}"

    seen_by_cashier = cashier.get(page)
    assert seen_by_cashier.status_code == 200
    assert "Tajna-2026" not in seen_by_cashier.text and "••••••" in visible_text(seen_by_cashier.text)
    seen_by_admin = admin.get(page).text
    # On the page once, in its field; the history says only that it was set.
    assert seen_by_admin.count("Tajna-2026") == 1 and "Парола : ***" in visible_text(seen_by_admin)
    assert "Tajna-2026" not in admin.get("/log/list/").text
    with app.app_context():
        reads = db.session.scalars(select(LogEntry).where(LogEntry.operation == "secret_viewed")).all()
        assert [(entry.user.username, entry.entity_id) for entry in reads] == [("admin", str(subscription_id))]

    # The edit form never shows it; left empty, it stays; a new one is logged as changed, not shown.
    form = admin.get(f"/subscriptions/edit/{subscription_id}").text
    assert "Tajna-2026" not in form
    edit = f"/subscriptions/edit/{subscription_id}"
    assert admin.submit(edit, {"username": "ivan", "password": "", "delivery_address": ""}).status_code == 302
    assert subscriptions(app)[0].password == "Tajna-2026"
    assert admin.submit(edit, {"username": "ivan", "password": "Nova-2027", "delivery_address": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).password == "Nova-2027"
        changes = [entry.changes.get("password") for entry in db.session.scalars(select(LogEntry).where(
            LogEntry.entity_type == "Subscription")) if "password" in entry.changes]
        assert changes and all(set(change) <= {"***", None} for change in changes)
