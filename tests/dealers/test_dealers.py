"""Dealers through the panel and the REST API: validation and the LOG."""
import pytest
from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.dealers.models import Dealer
from app.extensions import db
from tests.conftest import visible_text

VALID = {
    "name": "Дилър Младост",
    "company_name": "Младост Нет ЕООД",
    "eik": "175074752",
    "vat_registered": "y",
    "vat_number": "BG175074752",
    "bank_name": "УниКредит Булбанк",
    "bic": "UNCRBGSF",
    "iban": "BG80BNBG96611020345678",
    "phone": "02 123 4567",
}


def dealer_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Dealer.id)))


def field_error(html, message):
    """True when `message` is shown as a field's error (FAB's help-block under the input)."""
    return f'<span class="help-block">{message}' in html or message in _error_blocks(html)


def _error_blocks(html):
    import re

    return " ".join(re.findall(r'class="[^"]*(?:help-block|alert-danger)[^"]*">\s*([^<]*)', html))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("eik", "12345678", "ЕИК/Булстат трябва да съдържа 9 или 13 цифри."),
        ("eik", "175074753", "Невалиден ЕИК/Булстат: контролната цифра не съвпада."),
        ("eik", "1750747520018", "Невалиден ЕИК/Булстат: контролната цифра не съвпада."),
        ("iban", "BG81BNBG96611020345678", "Невалиден IBAN: проверете номера на сметката."),
        ("bic", "UNCR", "Невалиден BIC: 8 или 11 знака, например UNCRBGSF."),
        (
            "vat_number",
            "BG175074753",
            "Невалиден ДДС номер: BG, последвано от 9 или 10 цифри с вярна контролна цифра.",
        ),
        ("vat_number", "", "ДДС номерът е задължителен, когато дилърът е регистриран по ДДС."),
    ],
)
def test_panel_refuses_each_wrong_value_under_its_field(app, admin, field, value, message):
    data = dict(VALID, **{field: value})
    response = admin.submit("/dealers/add", data)
    assert response.status_code == 200  # the form again, not a redirect
    assert field_error(response.text, message), visible_text(response.text)[:2000]
    # The message sits in the block of the field it is about.
    field_block = response.text.split(f'id="{field}"', 1)[1][:1500]
    assert message in field_block
    assert dealer_count(app) == 0


def test_panel_saves_valid_dealer_normalised(app, admin):
    data = dict(VALID, eik=" 175 074 752 ", iban="bg80 bnbg 9661 1020 3456 78", vat_number="175074752")
    response = admin.submit("/dealers/add", data)
    assert response.status_code == 302
    with app.app_context():
        dealer = db.session.scalars(select(Dealer)).one()
        assert (dealer.eik, dealer.iban, dealer.vat_number) == (
            "175074752",
            "BG80BNBG96611020345678",
            "BG175074752",
        )


def test_not_vat_registered_needs_no_vat_number(app, admin):
    data = dict(VALID, vat_number="")
    del data["vat_registered"]
    assert admin.submit("/dealers/add", data).status_code == 302
    assert dealer_count(app) == 1


def create_dealer(app, **values):
    with app.app_context():
        dealer = Dealer(**dict({k: v for k, v in VALID.items() if k != "vat_registered"}, **values))
        dealer.vat_registered = True
        db.session.add(dealer)
        db.session.commit()
        return dealer.id


def log_entries(app, dealer_id):
    with app.app_context():
        return [
            (e.operation, e.user.username if e.user else None, e.remote_addr, e.changes)
            for e in db.session.scalars(
                select(LogEntry)
                .where(LogEntry.entity_type == "Dealer", LogEntry.entity_id == str(dealer_id))
                .order_by(LogEntry.id)
            )
        ]


def test_panel_edit_is_logged_with_operator_ip_and_old_new(app, admin):
    dealer_id = create_dealer(app)
    data = dict(VALID, name="Дилър Младост 2", phone="02 999 0000")
    response = admin.submit(f"/dealers/edit/{dealer_id}", data)
    assert response.status_code == 302
    operation, operator, ip, changes = log_entries(app, dealer_id)[-1]
    assert (operation, operator, ip) == ("update", "admin", "192.0.2.10")
    assert changes == {
        "name": ["Дилър Младост", "Дилър Младост 2"],
        "phone": ["02 123 4567", "02 999 0000"],
    }
    # The record's own page shows its history, in Bulgarian.
    page = visible_text(admin.get(f"/dealers/show/{dealer_id}").text)
    assert "История" in page
    assert "Наименование : Дилър Младост → Дилър Младост 2" in page


def test_api_refuses_wrong_values_and_stores_nothing(app, api):
    for field, value in [("eik", "175074753"), ("iban", "BG00"), ("bic", "X"), ("vat_number", "BG1")]:
        response = api.post("/api/v1/dealers/", json=dict(VALID, vat_registered=True, **{field: value}))
        assert response.status_code == 422, response.text
        assert field in response.json["message"]
    response = api.post("/api/v1/dealers/", json=dict(VALID, vat_registered=True, vat_number=None))
    assert response.status_code == 422
    assert response.json["message"]["vat_number"] == [
        "ДДС номерът е задължителен, когато дилърът е регистриран по ДДС."
    ]
    assert dealer_count(app) == 0


def test_api_create_and_edit_are_logged(app, api):
    response = api.post("/api/v1/dealers/", json=dict(VALID, vat_registered=True))
    assert response.status_code == 201, response.text
    dealer_id = response.json["id"]
    response = api.put(f"/api/v1/dealers/{dealer_id}", json={"eik": "1750747520019"})
    assert response.status_code == 200, response.text
    entries = log_entries(app, dealer_id)
    assert [e[0] for e in entries] == ["insert", "update"]
    operation, operator, ip, changes = entries[-1]
    assert (operator, ip) == ("admin", "198.51.100.7")
    assert changes == {"eik": ["175074752", "1750747520019"]}


def test_panel_delete_is_logged_with_last_values(app, admin):
    dealer_id = create_dealer(app)
    token = admin.csrf_token("/dealers/list/")
    response = admin.client.post(f"/dealers/delete/{dealer_id}", data={"csrf_token": token})
    assert response.status_code == 302
    assert dealer_count(app) == 0
    operation, operator, _ip, changes = log_entries(app, dealer_id)[-1]
    assert (operation, operator) == ("delete", "admin")
    assert changes["name"] == ["Дилър Младост", None]
