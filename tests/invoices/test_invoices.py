"""Issuing invoices and credit notes: numbers, amounts, VAT and refusals."""
import threading
import time
from decimal import Decimal

import pytest

from app import create_app
from app.billing.models import Payment
from app.billing.charges import payment_method, payment_type
from app.billing.services import record_payment, reverse_payment
from app.dealers.models import Dealer
from app.extensions import db
from app.invoices.models import CREDIT_NOTE, Invoice
from app.invoices.services import InvoiceRefused, invoice_for, issue_invoice
from config import engine_options
from tests.conftest import app_config, migrate_and_prepare
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import head_office_cashier, make_client, make_dealer, make_payment


def company(dealer, name="Клиент", eik="204123454"):
    return make_client(dealer, f"{name} фирма", kind="company", company_name=f"{name} ООД", eik=eik,
                       mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5")


def vat_registered(dealer):
    dealer.vat_registered = True
    dealer.vat_number = "BG" + dealer.eik
    db.session.commit()
    return dealer


def invoice_count():
    return db.session.scalar(db.select(db.func.count()).select_from(Invoice))


def bare_payment(client):
    """A payment row with nothing issued for it (record_payment would invoice a company at once)."""
    payment = Payment(client=client, dealer_id=client.dealer_id, operator=head_office_cashier(),
                      method=payment_method("cash"), payment_type=payment_type("deposit"),
                      amount=Decimal("12.00"), currency="EUR", amount_eur=Decimal("12.00"))
    db.session.add(payment)
    db.session.commit()
    return payment


@pytest.mark.once
def test_twenty_concurrent_issues_on_postgresql_get_consecutive_numbers():
    url = fresh_postgres_database("billing_invoices_test")
    # One connection per thread, so that all twenty really wait on the counter at once.
    app = create_app(app_config(url, SQLALCHEMY_ENGINE_OPTIONS={**engine_options(url), "pool_size": 25}))
    migrate_and_prepare(app)
    with app.app_context():
        dealer = make_dealer("Гама")
        dealer.eik = "175074752"
        payment_ids = [bare_payment(company(dealer, f"Фирма {index}")).id for index in range(20)]

    barrier = threading.Barrier(len(payment_ids))
    numbers, errors = {}, []

    def issue(payment_id):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                invoice = issue_invoice(head_office_cashier(), db.session.get(Payment, payment_id))
                # Hold the counter row a moment, so the others queue behind it.
                time.sleep(0.05)
                db.session.commit()
                numbers[payment_id] = invoice.number
            except Exception as error:  # noqa: BLE001 — reported by the assertion below
                errors.append(error)
                db.session.rollback()

    threads = [threading.Thread(target=issue, args=(payment_id,)) for payment_id in payment_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        assert sorted(numbers.values()) == [f"{number:010d}" for number in range(1, 21)]
        with app.app_context():
            stored = db.session.execute(db.select(Invoice.payment_id, Invoice.number)).all()
            assert dict(stored) == numbers
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_each_issuer_numbers_its_own_invoices(app):
    with app.app_context():
        alpha, beta = make_dealer("Алфа"), make_dealer("Бета")
        first_alpha = invoice_for(make_payment(company(alpha, "Първа"), amount="10.00"))
        office = invoice_for(make_payment(company(None, "Централна"), amount="10.00"))
        first_beta = invoice_for(make_payment(company(beta, "Бетова"), amount="10.00"))
        second_alpha = invoice_for(make_payment(company(alpha, "Втора"), amount="10.00"))

        assert (first_alpha.number, second_alpha.number) == ("0000000001", "0000000002")
        assert office.number == "0000000001"
        assert first_beta.number == "0000000001"
        assert (first_alpha.issuer_name, office.issuer_name, first_beta.issuer_name) == (
            "Алфа ЕООД", app.config["COMPANY_NAME"], "Бета ЕООД")
        assert office.issuer_eik == app.config["COMPANY_EIK"]


def test_a_rolled_back_issue_gives_its_number_back(app):
    with app.app_context():
        alpha = make_dealer("Алфа")
        client = company(alpha)
        assert invoice_for(make_payment(client, amount="10.00")).number == "0000000001"

        abandoned = record_payment(head_office_cashier(), client, amount="20.00")
        assert invoice_for(abandoned.payment).number == "0000000002"
        db.session.rollback()

        assert invoice_count() == 1
        assert invoice_for(make_payment(client, amount="30.00")).number == "0000000002"


def test_issuing_again_for_a_payment_returns_its_invoice(app):
    with app.app_context():
        payment = make_payment(company(make_dealer("Алфа")), amount="10.00")
        first = invoice_for(payment)

        again = issue_invoice(head_office_cashier(), payment)
        db.session.commit()

        assert again.id == first.id
        assert invoice_count() == 1


def test_an_individual_gets_no_invoice_unless_asked(app):
    with app.app_context():
        payment = make_payment(make_client(make_dealer("Алфа"), "Иван Петров"), amount="10.00")
        assert invoice_for(payment) is None

        invoice = issue_invoice(head_office_cashier(), payment)
        assert invoice.recipient_name == "Иван Петров" and invoice.recipient_eik is None


def test_reversing_an_invoiced_payment_issues_a_credit_note(app):
    with app.app_context():
        dealer = vat_registered(make_dealer("Алфа"))
        payment = make_payment(company(dealer), amount="24.00")
        invoice = invoice_for(payment)

        reversal = reverse_payment(head_office_cashier(), payment, "Грешен клиент")
        db.session.commit()

        note = db.session.scalar(db.select(Invoice).where(Invoice.kind == CREDIT_NOTE))
        assert note.original_id == invoice.id and note.payment_id == reversal.id
        assert note.number == "0000000002"
        assert (note.tax_base, note.vat_amount, note.total) == (Decimal("-20.00"), Decimal("-4.00"),
                                                                Decimal("-24.00"))
        assert [line.amount for line in note.lines] == [-line.amount for line in invoice.lines]
        assert note.issuer_eik == invoice.issuer_eik and note.recipient_eik == invoice.recipient_eik


def test_a_credit_note_is_issued_even_after_the_dealer_lost_its_company_data(app):
    with app.app_context():
        dealer = make_dealer("Алфа")
        payment = make_payment(company(dealer), amount="10.00")
        dealer.eik = None
        db.session.commit()

        reverse_payment(head_office_cashier(), payment, "Сгрешена сума")
        db.session.commit()

        note = db.session.scalar(db.select(Invoice).where(Invoice.kind == CREDIT_NOTE))
        assert note.issuer_eik == "175074752" and note.total == Decimal("-10.00")


def test_reversing_a_payment_without_invoice_issues_no_credit_note(app):
    with app.app_context():
        payment = make_payment(make_client(make_dealer("Алфа"), "Иван Петров"), amount="10.00")
        reverse_payment(head_office_cashier(), payment, "Грешка")
        db.session.commit()
        assert invoice_count() == 0


def test_an_issuer_not_registered_for_vat_charges_none_and_says_why(app):
    with app.app_context():
        invoice = invoice_for(make_payment(company(make_dealer("Алфа")), amount="24.00"))

        assert (invoice.tax_base, invoice.vat_rate, invoice.vat_amount, invoice.total) == (
            Decimal("24.00"), Decimal("0.00"), Decimal("0.00"), Decimal("24.00"))
        assert invoice.no_vat_reason == "чл. 113, ал. 9 от ЗДДС"
        assert invoice.issuer_vat_number is None


def test_a_vat_registered_issuer_splits_the_total_into_base_and_vat(app):
    with app.app_context():
        invoice = invoice_for(make_payment(company(vat_registered(make_dealer("Алфа"))), amount="24.00"))

        assert (invoice.tax_base, invoice.vat_rate, invoice.vat_amount, invoice.total) == (
            Decimal("20.00"), Decimal("20.00"), Decimal("4.00"), Decimal("24.00"))
        assert invoice.no_vat_reason is None
        assert invoice.issuer_vat_number == "BG175074752"
        assert sum(line.amount for line in invoice.lines) == invoice.tax_base


def test_a_dealer_without_company_data_gets_a_clear_refusal_and_nothing_is_stored(app):
    with app.app_context():
        dealer = Dealer(name="Дилър Без Фирма")
        db.session.add(dealer)
        db.session.commit()
        client = company(dealer)

        recorded = record_payment(head_office_cashier(), client, amount="10.00")
        db.session.commit()
        assert recorded.warnings == [
            "Дилър Без Фирма няма наименование, ЕИК и адрес за фактури; попълнете ги първо."]
        with pytest.raises(InvoiceRefused, match="Дилър Без Фирма няма наименование"):
            issue_invoice(head_office_cashier(), recorded.payment)
        db.session.rollback()
        assert invoice_count() == 0

        # No number was used up by the refusals.
        dealer.company_name, dealer.eik, dealer.company_address = "Без Фирма ЕООД", "175074752", "гр. Бургас"
        db.session.commit()
        assert issue_invoice(head_office_cashier(), recorded.payment).number == "0000000001"


def test_documents_are_in_euro_when_the_payment_was_in_leva(app):
    with app.app_context():
        payment = make_payment(company(make_dealer("Алфа")), amount="100.00", currency="BGN")
        invoice = invoice_for(payment)

        assert (payment.amount, payment.currency) == (Decimal("100.00"), "BGN")
        assert invoice.currency == "EUR"
        assert invoice.total == Decimal("51.13")
        assert [(line.description, line.amount) for line in invoice.lines] == [("Аванс", Decimal("51.13"))]


def test_invoice_lines_say_what_the_payment_paid(app):
    from datetime import date

    from app.billing.charges import add_charge
    from tests.factories import make_service, make_subscription

    with app.app_context():
        client = company(vat_registered(make_dealer("Алфа")))
        service = make_service("Интернет 200", monthly_fee="12.00")
        subscription = make_subscription(client, service, activation_date=date(2026, 1, 1),
                                         paid_until=date(2026, 12, 31))
        charge = add_charge(client, "Инсталация", "30.00")
        db.session.commit()

        invoice = invoice_for(make_payment(client, periods={subscription.id: 3}, charge_ids=[charge.id]))

        lines = [(line.description, line.unit, line.quantity, line.unit_price, line.amount) for line in invoice.lines]
        assert lines == [
            ("Инсталация", "бр.", 1, Decimal("25.00"), Decimal("25.00")),
            ("Интернет 200, 01.01.2027 – 31.03.2027", "мес.", 3, Decimal("10.00"), Decimal("30.00")),
        ]
        assert (invoice.tax_base, invoice.vat_amount, invoice.total) == (
            Decimal("55.00"), Decimal("11.00"), Decimal("66.00"))


def test_invoices_cannot_be_added_edited_or_deleted(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("InvoiceView.")}
    assert {"InvoiceView.list", "InvoiceView.show", "InvoiceView.pdf"} <= endpoints
    for name in ("add", "edit", "delete", "action", "action_post", "download"):
        assert f"InvoiceView.{name}" not in endpoints


def test_the_list_shows_number_kind_date_recipient_and_total(app, admin):
    from app.core.formatting import format_date
    from tests.conftest import visible_text

    with app.app_context():
        invoice = invoice_for(make_payment(company(make_dealer("Алфа"), "Видима"), amount="1234.50"))
        issued = format_date(invoice.issue_date)

    page = visible_text(admin.get("/invoices/list/").text)
    assert "Фактури" in page
    assert f"0000000001 Фактура {issued} Видима ООД 1 234,50 EUR" in page


def test_the_record_page_shows_the_lines_and_links_the_pdf(app, admin):
    from tests.conftest import visible_text

    with app.app_context():
        invoice = invoice_for(make_payment(company(make_dealer("Алфа")), amount="24.00"))
        pk = invoice.id

    html = admin.get(f"/invoices/show/{pk}").text
    assert f"/invoices/pdf/{pk}" in html
    assert "Аванс бр. 1 24,00 24,00" in visible_text(html)
