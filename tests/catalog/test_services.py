"""Services: prices and rules validated in Bulgarian, extra parameters, who may sell what."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.catalog.models import Service, ServiceGroup, ServiceParameter
from app.catalog.services import may_sell
from app.core import events
from app.extensions import db
from tests.conftest import visible_text
from tests.factories import make_operator


@pytest.fixture
def group_id(app):
    with app.app_context():
        group = ServiceGroup(name="Кабелен интернет")
        db.session.add(group)
        db.session.commit()
        return group.id


def service_form(group_id, **values):
    form = {
        "name": "Интернет 100", "group": group_id, "installation_fee": "20", "monthly_fee": "15,50",
        "currency": "EUR", "extra_traffic_fee": "0", "month_type": "fixed", "warning_days": "5",
        "tolerance_days": "3", "ip_count": "1", "username_type": "radius", "sellable": "y",
    }
    form.update(values)
    return form


def service_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Service.id)))


def test_panel_saves_a_service_with_decimal_comma(app, admin, group_id):
    response = admin.submit("/services/add", service_form(group_id))
    assert response.status_code == 302, visible_text(response.text)[-800:]
    with app.app_context():
        service = db.session.scalars(select(Service)).one()
        assert service.monthly_fee == Decimal("15.50") and service.currency == "EUR"
    page = visible_text(admin.get("/services/list/").text)
    assert "15,50 EUR" in page and "20,00 EUR" in page and "Фиксиран (календарни месеци)" in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("monthly_fee", "-1", "Сумата не може да е отрицателна."),
        ("installation_fee", "10,999", "Най-много два знака след десетичната запетая (центове)."),
        ("extra_traffic_fee", "десет", "Това не е сума, например 12,50."),
        ("ip_count", "40", "Най-много 16 IP адреса на услуга."),
        ("download_kbps", "-5", "Не може да е отрицателно."),
    ],
)
def test_panel_refuses_wrong_values(app, admin, group_id, field, value, message):
    response = admin.submit("/services/add", service_form(group_id, **{field: value}))
    assert response.status_code == 200
    assert message in response.text.split(f'id="{field}"', 1)[1][:1500]
    assert service_count(app) == 0


def test_api_refuses_wrong_values(app, api, group_id):
    body = {"name": "Телевизия", "group": group_id, "monthly_fee": "9.90", "currency": "EUR",
            "month_type": "floating", "username_type": "none"}
    for field, value in [("monthly_fee", "-3"), ("currency", "GBP"), ("installation_fee", "1.234"),
                         ("month_type", "weekly")]:
        response = api.post("/api/v1/services/", json=dict(body, **{field: value}))
        assert response.status_code == 422, (field, response.text)
        assert field in response.json["message"]
    assert service_count(app) == 0
    response = api.post("/api/v1/services/", json=body)
    assert response.status_code == 201, response.text


def test_extra_parameters_need_no_code_change(app, admin, group_id):
    admin.submit("/services/add", service_form(group_id))
    with app.app_context():
        service_id = db.session.scalar(select(Service.id))
    response = admin.submit(
        "/service-parameters/add", {"service": service_id, "name": "Mikrotik-Rate-Limit", "value": "100M/100M"}
    )
    assert response.status_code == 302
    with app.app_context():
        service = db.session.get(Service, service_id)
        assert service.parameter("Mikrotik-Rate-Limit") == "100M/100M"
        assert db.session.scalar(select(func.count(ServiceParameter.id))) == 1
    assert "Mikrotik-Rate-Limit=100M/100M" in visible_text(admin.get(f"/services/show/{service_id}").text)


def test_may_sell_follows_the_operators_list(app, group_id):
    with app.app_context():
        internet = Service(name="Интернет", group_id=group_id, monthly_fee="10")
        tv = Service(name="Телевизия", group_id=group_id, monthly_fee="8")
        old = Service(name="Стар пакет", group_id=group_id, monthly_fee="5", sellable=False)
        db.session.add_all([internet, tv, old])
        db.session.commit()
        anyone = make_operator(None, "all", "Касиер", username="anyone")
        limited = make_operator(None, "tv", "Касиер", username="limited")
        limited.allowed_services = [tv]
        db.session.commit()
        assert may_sell(anyone, internet) and may_sell(anyone, tv)
        assert not may_sell(anyone, old)
        assert may_sell(limited, tv) and not may_sell(limited, internet)


def test_a_new_speed_is_an_event_for_the_network_and_a_price_change_is_not(app, admin, group_id):
    """RADIUS will turn speed_changed into a CoA for the subscribers online; a new price concerns no NAS."""
    admin.submit("/services/add", service_form(group_id, download_kbps="100000", upload_kbps="20000"))
    with app.app_context():
        service_id = db.session.scalar(select(Service.id))
    heard = []

    def listen(actor, service, old, new, **_details):
        heard.append((actor.username, service.id, old, new))

    events.speed_changed.connect(listen)
    try:
        form = service_form(group_id, download_kbps="100000", upload_kbps="20000", monthly_fee="17,90")
        assert admin.submit(f"/services/edit/{service_id}", form).status_code == 302
        assert heard == []
        form.update(download_kbps="300000", upload_kbps="50000")
        assert admin.submit(f"/services/edit/{service_id}", form).status_code == 302
        refused = admin.submit(f"/services/edit/{service_id}", {**form, "download_kbps": "-1"})
    finally:
        events.speed_changed.disconnect(listen)
    assert heard == [("admin", service_id, (100000, 20000), (300000, 50000))]
    assert "Не може да е отрицателно." in visible_text(refused.text)
    with app.app_context():
        service = db.session.get(Service, service_id)
        assert (service.download_kbps, str(service.monthly_fee)) == (300000, "17.90")


def test_a_radius_parameter_names_a_known_attribute_its_makes_and_never_a_second_speed(app, admin, group_id):
    admin.submit("/services/add", service_form(group_id, download_kbps="50000", upload_kbps="10000"))
    with app.app_context():
        service_id = db.session.scalar(select(Service.id))

    def refused(form, field):
        response = admin.submit("/service-parameters/add", dict({"service": service_id}, **form))
        assert response.status_code == 200
        return visible_text(response.text.split(f'id="{field}"', 1)[1][:2500])

    assert "RADIUS не познава атрибут Mikrotik-Rate-Limt" in refused(
        {"name": "Mikrotik-Rate-Limt", "value": "1M/1M"}, "name")
    assert "Скоростта на услугата вече се изпраща" in refused(
        {"name": "Mikrotik-Rate-Limit", "value": "100M/100M"}, "name")
    assert "Скоростта на услугата вече се изпраща" in refused(
        {"name": "Cisco-AVPair", "value": "lcp:interface-config=rate-limit input 1000 8000 8000"}, "name")
    assert "Session-Timeout е цяло число" in refused({"name": "Session-Timeout", "value": "ден"}, "value")
    assert "Mikrotik-Address-List е атрибут само на MikroTik" in refused(
        {"name": "Mikrotik-Address-List", "value": "clients", "nas_makes": "cisco"}, "nas_makes")
    with app.app_context():
        assert db.session.scalar(select(func.count(ServiceParameter.id))) == 0
    response = admin.submit("/service-parameters/add", {"service": service_id, "name": "Framed-Pool",
                                                        "value": "pppoe", "nas_makes": ["cisco", "juniper"]})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(ServiceParameter.nas_makes)) == "cisco,juniper"
    assert "Framed-Pool pppoe Cisco, Juniper" in visible_text(admin.get("/service-parameters/list/").text)
