"""Head office's own company data at /head-office/: the seller on its clients' documents."""
from app.dealers.models import HeadOffice
from app.extensions import db
from app.security import permissions as p
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_operator, make_payment

VALID = {
    "company_name": "Кабел Нет ЕАД", "eik": "175074752", "vat_registered": "y", "vat_number": "BG175074752",
    "mol": "Петя Стоянова", "company_address": "гр. Варна, бул. „Сливница“ 10", "city": "Варна",
    "phone": "052 600 600", "email": "office@example.bg", "bank_name": "Банка ДСК", "bic": "STSABGSF",
    "iban": "BG80BNBG96611020345678",
}


def test_until_saved_the_settings_are_shown_and_nothing_is_stored(app, admin):
    html = admin.get("/head-office/").text
    assert "Все още не е записано" in visible_text(html)
    assert f'value="{app.config["COMPANY_NAME"]}"' in html  # the form is filled from the settings
    with app.app_context():
        assert db.session.query(HeadOffice).count() == 0


def test_bad_identifiers_are_refused_in_bulgarian_and_nothing_is_stored(app, admin):
    response = admin.submit("/head-office/", dict(VALID, eik="175074753"))
    assert response.status_code == 200 and "ЕИК" in visible_text(response.text)
    response = admin.submit("/head-office/", dict(VALID, vat_number=""))
    assert "трябва ДДС номер" in visible_text(response.text)
    with app.app_context():
        assert db.session.query(HeadOffice).count() == 0


def test_saved_details_are_the_seller_on_new_invoices_and_in_the_log(app, admin):
    response = admin.submit("/head-office/", VALID)
    assert response.status_code == 302
    admin.submit("/head-office/", dict(VALID, bank_name="Пощенска банка"))
    with app.app_context():
        client = make_client(None, "Фирма Купувач", kind="company", company_name="Фирма Купувач ООД",
                             eik="204123454")
        from app.invoices.services import invoice_for

        payment = make_payment(client, amount="24.00")
        invoice = invoice_for(payment)
        assert (invoice.issuer_name, invoice.issuer_eik, invoice.place_of_issue) == ("Кабел Нет ЕАД", "175074752",
                                                                                      "Варна")
        assert invoice.issuer_bank == "Пощенска банка" and invoice.vat_amount == 4
        assert db.session.query(HeadOffice).count() == 1
    page = visible_text(admin.get("/head-office/").text)
    assert "Банка ДСК → Пощенска банка" in page


def test_only_who_may_edit_it_reaches_it(app):
    with app.app_context():
        make_operator(None, "kasa", p.CASHIER, username="kasa-ho")
    cashier = Browser(app)
    cashier.login("kasa-ho", "operator-pass-123")
    assert cashier.get("/head-office/").status_code == 403
