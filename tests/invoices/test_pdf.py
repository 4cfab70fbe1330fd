"""Invoices, credit notes and receipts as PDF: what a reader finds on the page."""
import re
import subprocess
from datetime import date, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.billing.charges import add_charge
from app.billing.services import reverse_payment
from app.extensions import db
from app.invoices.documents import amount_in_words, invoice_pdf, receipt_pdf
from app.invoices.models import CREDIT_NOTE, Invoice
from app.invoices.services import invoice_for
from tests.conftest import Browser
from tests.contracts.conftest import pdf_fonts
from tests.factories import (
    head_office_cashier,
    make_client,
    make_dealer,
    make_operator,
    make_payment,
    make_service,
    make_subscription,
)

PASSWORD = "operator-pass-123"


@pytest.mark.parametrize("amount, words", [
    ("51.13", "петдесет и едно евро и тринадесет цента"),
    ("0.00", "нула евро"),
    ("0.01", "нула евро и един цент"),
    ("1.00", "едно евро"),
    ("2.02", "две евро и два цента"),
    ("12.21", "дванадесет евро и двадесет и един цента"),
    ("11.11", "единадесет евро и единадесет цента"),
    ("100.00", "сто евро"),
    ("105.00", "сто и пет евро"),
    ("120.00", "сто и двадесет евро"),
    ("123.45", "сто двадесет и три евро и четиридесет и пет цента"),
    ("1000.00", "хиляда евро"),
    ("1001.00", "хиляда и едно евро"),
    ("1200.00", "хиляда и двеста евро"),
    ("1234.50", "хиляда двеста тридесет и четири евро и петдесет цента"),
    ("2000.00", "две хиляди евро"),
    ("21015.00", "двадесет и една хиляди и петнадесет евро"),
    ("100000.00", "сто хиляди евро"),
    ("999999.99", "деветстотин деветдесет и девет хиляди деветстотин деветдесет и девет евро"
                  " и деветдесет и девет цента"),
    ("-24.00", "минус двадесет и четири евро"),
])
def test_amount_in_bulgarian_words(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_amounts_beyond_a_million_are_not_written_in_words():
    with pytest.raises(ValueError):
        amount_in_words(Decimal("1000000.00"))


def layout_text(data, tmp_path):
    """The PDF's text as pdftotext -layout reads it, runs of spaces squeezed to one."""
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())


def full_dealer(name="Алфа", vat=True):
    dealer = make_dealer(name)
    dealer.mol = "Петър Петров"
    dealer.bank_name = "УниКредит Булбанк"
    dealer.iban = "BG80BNBG96611020345678"
    dealer.bic = "UNCRBGSF"
    if vat:
        dealer.vat_registered, dealer.vat_number = True, "BG175074752"
    db.session.commit()
    return dealer


def company(dealer, vat=True):
    return make_client(dealer, "Хоризонт фирма", kind="company", company_name="Хоризонт ООД", eik="204123454",
                       mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5",
                       vat_registered=vat, vat_number="BG204123454" if vat else None)


def paid_months_and_charge(client):
    """A payment of 3 months of a 12,00 EUR service and a 30,00 EUR installation charge."""
    service = make_service("Интернет 200", monthly_fee="12.00")
    subscription = make_subscription(client, service, activation_date=date(2026, 1, 1),
                                     paid_until=date(2026, 12, 31))
    charge = add_charge(client, "Инсталация", "30.00")
    db.session.commit()
    return make_payment(client, periods={subscription.id: 3}, charge_ids=[charge.id], note="Платено на гише")


def test_an_invoice_shows_every_field_the_vat_act_requires(app, tmp_path):
    with app.app_context():
        invoice = invoice_for(paid_months_and_charge(company(full_dealer())))
        issued, tax_event = invoice.issue_date.strftime("%d.%m.%Y"), invoice.tax_event_date.strftime("%d.%m.%Y")
        data = invoice_pdf(invoice)

    text = layout_text(data, tmp_path)
    lines = text.splitlines()
    for expected in (
        "Оригинал", "ФАКТУРА", "№ 0000000001",
        f"Дата на издаване: {issued}", f"Дата на данъчното събитие: {tax_event}",
        "Доставчик: Алфа ЕООД", "Адрес: гр. Пловдив, ул. „Алфа“ 1", "ЕИК: 175074752", "ДДС №: BG175074752",
        "МОЛ: Петър Петров", "Банка: УниКредит Булбанк", "IBAN: BG80BNBG96611020345678", "BIC: UNCRBGSF",
        "Получател: Хоризонт ООД", "Адрес: гр. Варна, ул. „Морска“ 5", "ЕИК: 204123454", "ДДС №: BG204123454",
        "МОЛ: Иван Иванов",
        "Данъчна основа: 55,00 EUR", "ДДС 20 %: 11,00 EUR", "Сума за плащане: 66,00 EUR",
        "Словом: шестдесет и шест евро",
        "Начин на плащане: В брой", "Място на издаване: Пловдив", "Съставил: Администратор Тестов",
    ):
        assert expected in text, expected
    # The line columns: description, unit, quantity, unit price without VAT, amount.
    assert "1 Инсталация бр. 1 25,00 25,00" in lines
    assert "2 Интернет 200, 01.01.2027 – 31.03.2027 мес. 3 10,00 30,00" in lines
    assert any("Ед. цена" in line for line in lines) and any("без ДДС" in line for line in lines)
    assert "Основание за неначисляване" not in text
    fonts = pdf_fonts(data, tmp_path)
    assert any("DejaVuSans" in name and embedded for name, embedded in fonts.items())


def test_an_issuer_not_registered_for_vat_prints_the_reason_instead_of_vat(app, tmp_path):
    with app.app_context():
        payment = make_payment(company(full_dealer(vat=False), vat=False), amount="100.00", currency="BGN")
        text = layout_text(invoice_pdf(invoice_for(payment)), tmp_path)

    assert "Основание за неначисляване на ДДС: чл. 113, ал. 9 от ЗДДС" in text
    assert "ДДС 20 %" not in text and "ДДС №" not in text
    assert "Данъчна основа: 51,13 EUR" in text and "Сума за плащане: 51,13 EUR" in text
    assert "Словом: петдесет и едно евро и тринадесет цента" in text
    assert "BGN" not in text


def test_a_credit_note_names_the_invoice_it_corrects(app, tmp_path):
    with app.app_context():
        payment = make_payment(company(full_dealer()), amount="24.00")
        invoice = invoice_for(payment)
        reverse_payment(head_office_cashier(), payment, "Грешен клиент")
        db.session.commit()
        note = db.session.scalar(db.select(Invoice).where(Invoice.kind == CREDIT_NOTE))
        text = layout_text(invoice_pdf(note), tmp_path)
        invoice_date = invoice.issue_date.strftime("%d.%m.%Y")

    assert "КРЕДИТНО ИЗВЕСТИЕ" in text and "ФАКТУРА" not in text
    assert "№ 0000000002" in text
    assert f"към фактура № 0000000001 от {invoice_date}" in text
    assert "Данъчна основа: -20,00 EUR" in text and "ДДС 20 %: -4,00 EUR" in text
    assert "Сума за плащане: -24,00 EUR" in text
    assert "Словом: минус двадесет и четири евро" in text


def local_minute(moment):
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Sofia")).strftime("%d.%m.%Y %H:%M")


def test_a_receipt_says_who_paid_what_and_how(app, tmp_path):
    with app.app_context():
        client = company(full_dealer())
        payment = paid_months_and_charge(client)
        payment_id, paid_at, number = payment.id, local_minute(payment.paid_at), client.client_number
        data = receipt_pdf(payment)

    text = layout_text(data, tmp_path)
    lines = text.splitlines()
    for expected in (
        f"РАЗПИСКА № {payment_id}", "Алфа ЕООД, ЕИК 175074752",
        f"Клиент: Хоризонт фирма, клиентски № {number}", f"Дата и час: {paid_at}",
        "Сума: 66,00 EUR", "Начин на плащане: В брой", "Вид плащане:", "Бележка: Платено на гише",
        "Приел: Администратор Тестов",
    ):
        assert expected in text, expected
    assert "Инсталация 30,00" in lines
    assert "Интернет 200: 3 мес., платено до 31.03.2027 36,00" in lines
    assert "(=" not in text  # paid in euro: no conversion shown
    assert any("DejaVuSans" in name and embedded for name, embedded in pdf_fonts(data, tmp_path).items())


def test_a_receipt_in_leva_shows_the_euro_value_and_a_reversal_its_own_receipt(app, tmp_path):
    with app.app_context():
        client = make_client(full_dealer(), "Иван Петров")
        payment = make_payment(client, amount="100.00", currency="BGN")
        receipt = layout_text(receipt_pdf(payment), tmp_path)
        reversal = reverse_payment(head_office_cashier(), payment, "Сгрешен клиент")
        db.session.commit()
        reversal_text = layout_text(receipt_pdf(reversal), tmp_path)
        payment_id = payment.id

    assert "Сума: 100,00 BGN (= 51,13 EUR)" in receipt
    assert "Аванс 51,13" in receipt.splitlines()
    assert f"СТОРНО на разписка № {payment_id}" in reversal_text
    assert "Сума: -100,00 BGN (= -51,13 EUR)" in reversal_text
    assert "Бележка: Сгрешен клиент" in reversal_text
    assert "Аванс 51,13" in reversal_text.splitlines()


def test_the_pdf_route_serves_the_invoice_within_the_dealers_scope(app, tmp_path):
    with app.app_context():
        alpha, beta = full_dealer("Алфа"), make_dealer("Бета")
        invoice = invoice_for(make_payment(company(alpha), amount="24.00"))
        pk = invoice.id
        make_operator(alpha, "алфа", "Касиер", username="alpha-cashier")
        make_operator(beta, "бета", "Касиер", username="beta-cashier")
        make_operator(alpha, "техник", "Техник", username="alpha-technician")

    admin = Browser(app)
    admin.login()
    response = admin.get(f"/invoices/pdf/{pk}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert 'filename="faktura-0000000001.pdf"' in response.headers["Content-Disposition"]
    assert "№ 0000000001" in layout_text(response.data, tmp_path)

    results = {}
    for username in ("alpha-cashier", "beta-cashier", "alpha-technician"):
        browser = Browser(app)
        browser.login(username, PASSWORD)
        results[username] = browser.get(f"/invoices/pdf/{pk}").status_code
    # Another dealer's invoice does not exist for the operator; without the
    # right to open invoices, printing one is refused.
    assert results == {"alpha-cashier": 200, "beta-cashier": 404, "alpha-technician": 403}
