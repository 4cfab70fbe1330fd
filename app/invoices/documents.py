"""Invoices, credit notes and payment receipts as PDF (Bulgarian legal documents).

The documents' text is Bulgarian in the templates (app/templates/pdf/),
not translated: an invoice reads the same whoever prints it. Everything a
template shows is prepared here as plain text (money "1 234,50 EUR",
dates dd.mm.yyyy), so the templates hold layout only.
"""
from decimal import Decimal

from flask import Response, render_template

from app.billing.models import PAID_CHARGE, PAID_PERIODS
from app.core.formatting import format_date, format_datetime
from app.core.money import format_money
from app.core.pdf import html_to_pdf
from app.dealers.services import company_of
from app.invoices.models import CREDIT_NOTE

UNITS = {
    "masculine": ("", "един", "два", "три", "четири", "пет", "шест", "седем", "осем", "девет"),
    "feminine": ("", "една", "две", "три", "четири", "пет", "шест", "седем", "осем", "девет"),
    "neuter": ("", "едно", "две", "три", "четири", "пет", "шест", "седем", "осем", "девет"),
}
TEENS = ("десет", "единадесет", "дванадесет", "тринадесет", "четиринадесет", "петнадесет", "шестнадесет",
         "седемнадесет", "осемнадесет", "деветнадесет")
TENS = ("", "", "двадесет", "тридесет", "четиридесет", "петдесет", "шестдесет", "седемдесет", "осемдесет",
        "деветдесет")
HUNDREDS = ("", "сто", "двеста", "триста", "четиристотин", "петстотин", "шестстотин", "седемстотин", "осемстотин",
            "деветстотин")
MAX_IN_WORDS = Decimal("999999.99")


def _parts(number, gender):
    """The words of 1…999 as separate parts ("сто", "двадесет", "три"), to be joined with "и"."""
    hundreds, rest = divmod(number, 100)
    parts = [HUNDREDS[hundreds]] if hundreds else []
    if 10 <= rest < 20:
        parts.append(TEENS[rest - 10])
    else:
        tens, units = divmod(rest, 10)
        if tens:
            parts.append(TENS[tens])
        if units:
            parts.append(UNITS[gender][units])
    return parts


def _join(parts):
    """Bulgarian puts "и" before the last part: "сто двадесет и три", "хиляда и двеста"."""
    if len(parts) < 2:
        return "".join(parts)
    return " ".join(parts[:-1]) + " и " + parts[-1]


def number_in_words(number, gender):
    """0…999 999 in Bulgarian words, agreeing with a noun of `gender` (masculine, feminine, neuter)."""
    if number == 0:
        return "нула"
    thousands, rest = divmod(number, 1000)
    parts = []
    if thousands == 1:
        parts.append("хиляда")
    elif thousands:
        # "хиляда" is feminine: "две хиляди", "двадесет и една хиляди".
        parts.append(_join(_parts(thousands, "feminine")) + " хиляди")
    parts.extend(_parts(rest, gender))
    return _join(parts)


def amount_in_words(amount):
    """A euro amount in Bulgarian words: 51,13 → "петдесет и едно евро и тринадесет цента"."""
    amount = Decimal(amount).quantize(Decimal("0.01"))
    if abs(amount) > MAX_IN_WORDS:
        raise ValueError(f"{amount} is beyond {MAX_IN_WORDS}")
    euros, cents = divmod(int(abs(amount) * 100), 100)
    words = f"{number_in_words(euros, 'neuter')} евро"
    if cents:
        # "един цент", but "двадесет и един цента": only a lone 1 takes the singular.
        words += f" и {number_in_words(cents, 'masculine')} {'цент' if cents == 1 else 'цента'}"
    return f"минус {words}" if amount < 0 else words


def _quantity(value):
    """3 → "3", 1.500 → "1,5"."""
    text = f"{Decimal(value).normalize():f}"
    return text.replace(".", ",")


def invoice_lines(invoice):
    """The lines as text: description, unit, quantity, unit price and amount (without VAT)."""
    return [
        {"description": line.description, "unit": line.unit, "quantity": _quantity(line.quantity),
         "unit_price": format_money(line.unit_price), "amount": format_money(line.amount)}
        for line in invoice.lines
    ]


def invoice_context(invoice):
    """What the invoice template prints, as text."""
    original = invoice.original
    return {
        "title": "КРЕДИТНО ИЗВЕСТИЕ" if invoice.kind == CREDIT_NOTE else "ФАКТУРА",
        "number": invoice.number,
        "original": {"number": original.number, "date": format_date(original.issue_date)} if original else None,
        "issue_date": format_date(invoice.issue_date),
        "tax_event_date": format_date(invoice.tax_event_date),
        "issuer": {
            "name": invoice.issuer_name, "address": invoice.issuer_address, "eik": invoice.issuer_eik,
            "vat_number": invoice.issuer_vat_number, "mol": invoice.issuer_mol, "bank": invoice.issuer_bank,
            "iban": invoice.issuer_iban, "bic": invoice.issuer_bic,
        },
        "recipient": {
            "name": invoice.recipient_name, "address": invoice.recipient_address, "eik": invoice.recipient_eik,
            "vat_number": invoice.recipient_vat_number, "mol": invoice.recipient_mol,
        },
        "lines": invoice_lines(invoice),
        "currency": invoice.currency,
        "tax_base": format_money(invoice.tax_base, invoice.currency),
        "vat_rate": f"{invoice.vat_rate.normalize():f}".replace(".", ","),
        "vat_amount": format_money(invoice.vat_amount, invoice.currency),
        "total": format_money(invoice.total, invoice.currency),
        "total_in_words": amount_in_words(invoice.total),
        "no_vat_reason": invoice.no_vat_reason,
        "payment_method": invoice.payment_method,
        "place_of_issue": invoice.place_of_issue,
        "compiled_by": invoice.compiled_by,
    }


def invoice_pdf(invoice):
    """The invoice or credit note as PDF bytes. Raises app.core.pdf.PdfError."""
    return html_to_pdf(render_template("pdf/invoice.html", **invoice_context(invoice)), title=str(invoice))


def invoice_filename(invoice):
    prefix = "kreditno-izvestie" if invoice.kind == CREDIT_NOTE else "faktura"
    return f"{prefix}-{invoice.number}.pdf"


def invoice_response(invoice):
    """The invoice as a PDF response, opened in the browser. Raises app.core.pdf.PdfError."""
    return _pdf_response(invoice_pdf(invoice), invoice_filename(invoice))


def receipt_issuer(payment):
    """Who received the money: the client's dealer (its company when it has one) or head office."""
    company = company_of(payment.dealer)
    return {"name": company["name"], "address": company["address"], "eik": company["eik"]}


def _allocation_text(allocation):
    if allocation.kind == PAID_CHARGE:
        return allocation.charge.description
    if allocation.kind == PAID_PERIODS:
        return (f"{allocation.subscription.service.name}: {allocation.periods} мес., "
                f"платено до {format_date(allocation.paid_until_after)}")
    return "Аванс" if allocation.amount_eur > 0 else "Приспаднат аванс"


def receipt_context(payment):
    """What the receipt template prints, as text. A reversal lists what it undid (the original's allocations)."""
    original = payment.reversal_of
    paid = original if original is not None else payment
    if payment.operator is not None:
        received_by = f"{payment.operator.first_name} {payment.operator.last_name}".strip()
    else:
        received_by = str(payment.collector or "")
    return {
        "number": payment.id,
        "original_number": original.id if original is not None else None,
        "issuer": receipt_issuer(payment),
        "client_name": payment.client.name,
        "client_number": payment.client.client_number,
        "paid_at": format_datetime(payment.paid_at),
        "amount": format_money(payment.amount, payment.currency),
        "amount_eur": format_money(payment.amount_eur, "EUR") if payment.currency != "EUR" else None,
        "method": str(payment.method),
        "payment_type": str(payment.payment_type),
        "items": [{"text": _allocation_text(allocation), "amount": format_money(allocation.amount_eur)}
                  for allocation in paid.allocations],
        "received_by": received_by,
        "by_collector": payment.operator is None and payment.collector is not None,
        "note": payment.note,
    }


def receipt_pdf(payment):
    """The payment's receipt (or its reversal's) as PDF bytes. Raises app.core.pdf.PdfError."""
    context = receipt_context(payment)
    return html_to_pdf(render_template("pdf/receipt.html", **context), title=f"Разписка № {payment.id}")


def receipt_response(payment):
    """The receipt as a PDF response, opened in the browser. Raises app.core.pdf.PdfError."""
    return _pdf_response(receipt_pdf(payment), f"razpiska-{payment.id}.pdf")


def _pdf_response(data, filename):
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
