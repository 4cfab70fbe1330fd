"""Issuing invoices and credit notes for payments.

The issuer is the client's dealer, or head office (COMPANY_* settings) for
head-office clients. Each issuer numbers its documents 0000000001, 2, 3…
from one database counter, incremented inside the issuing transaction: a
rolled-back issue gives its number back, and concurrent issues queue on the
counter row, so numbers have no gaps and no repeats. Since 01.01.2026
documents are in EUR only.
"""
import re
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext

from app.billing.models import ADVANCE, PAID_CHARGE, PAID_PERIODS
from app.billing.services import reversal_of
from app.clients.services import format_address
from app.core.actors import SystemActor
from app.core.counters import next_number
from app.core.errors import FieldErrors
from app.core.formatting import format_date, local_time, local_today
from app.core.money import quantize
from app.core.scoping import in_scope
from app.dealers.services import company_of
from app.extensions import db
from app.invoices.models import CREDIT_NOTE, HEAD_OFFICE, INVOICE, Invoice, InvoiceLine
from app.security import permissions
from app.security.rights import may

VAT_RATE = Decimal("20.00")
NO_VAT_REASON = "чл. 113, ал. 9 от ЗДДС"
EURO_SINCE = date(2026, 1, 1)
# "гр. Пловдив, ул. …" / "с. Лозен, …" → the town or village.
PLACE = re.compile(r"\s*(?:гр\.|град|с\.|село)\s*([^,]+)")


class InvoiceRefused(Exception):
    """An invoice cannot be issued (missing issuer data, nothing to invoice…)."""


def issuer_key(dealer_id):
    return f"dealer:{dealer_id}" if dealer_id else HEAD_OFFICE


def issuer_details(dealer):
    """The seller's details as the document prints them; refuses when the law's minimum is missing."""
    company = company_of(dealer)
    details = {
        "name": dealer.company_name if dealer is not None else company["name"], "eik": company["eik"] or None,
        "vat_number": company["vat_number"] or None, "address": company["address"], "mol": company["mol"] or None,
        "bank": company["bank_name"] or None, "iban": company["iban"] or None, "bic": company["bic"] or None,
        "vat_registered": company["vat_registered"],
    }
    owner = dealer.name if dealer is not None else gettext("Head office")
    if not (details["name"] and details["eik"] and details["address"]):
        raise InvoiceRefused(gettext(
            "%(owner)s has no company name, EIK and address for invoices; fill them in first.", owner=owner))
    if details["vat_registered"] and not details["vat_number"]:
        raise InvoiceRefused(gettext("%(owner)s is VAT-registered but has no VAT number.", owner=owner))
    return details


def split_vat(total, vat_registered):
    """(tax base, VAT) of a total that includes VAT; no VAT for a non-registered issuer."""
    if not vat_registered:
        return total, Decimal("0.00")
    base = quantize(total * 100 / (100 + VAT_RATE))
    return base, total - base


def _recipient(client):
    if client.is_company:
        return {
            "recipient_name": client.company_name or client.name, "recipient_eik": client.eik,
            "recipient_vat_number": client.vat_number if client.vat_registered else None,
            "recipient_address": client.company_address or format_address(client), "recipient_mol": client.mol,
        }
    # An individual's ЕГН is not needed on an invoice, so it is not printed.
    return {"recipient_name": client.name, "recipient_address": format_address(client)}


def _payment_lines(payment):
    """What the payment paid, one line per charge or subscription (amounts with VAT, EUR).

    The descriptions are Bulgarian literals, not translations: they are part
    of a legal document, stored as issued, whatever the operator's language.
    """
    lines = []
    for allocation in payment.allocations:
        if allocation.kind == PAID_CHARGE:
            lines.append((allocation.charge.description, "бр.", Decimal(1), allocation.amount_eur))
        elif allocation.kind == PAID_PERIODS:
            service = allocation.subscription.service.name
            end = format_date(allocation.paid_until_after)
            if allocation.paid_until_before is None:
                text = f"{service}, до {end}"
            else:
                start = format_date(allocation.paid_until_before + timedelta(days=1))
                text = f"{service}, {start} – {end}"
            lines.append((text, "мес.", Decimal(allocation.periods), allocation.amount_eur))
        elif allocation.kind == ADVANCE:
            # A negative advance: an earlier payment's advance (invoiced with it) deducted from this one.
            text = "Аванс" if allocation.amount_eur > 0 else "Приспаднат аванс"
            lines.append((text, "бр.", Decimal(1), allocation.amount_eur))
    if not lines:
        lines.append((str(payment.payment_type), "бр.", Decimal(1), payment.amount_eur))
    return lines


def place_of_issue(dealer, address):
    """Head office's city (/head-office/); for a dealer, the town its address starts with ("гр. Пловдив, …")."""
    if dealer is None:
        return company_of(None)["city"] or None
    match = PLACE.match(address or "")
    return match.group(1).strip() if match else None


def _operator_name(actor):
    """Who compiled the document: the operator's name; none for a system actor (a collector)."""
    if actor is None or isinstance(actor, SystemActor):
        return None
    operator = actor
    return f"{operator.first_name or ''} {operator.last_name or ''}".strip() or operator.username


def _new_document(kind, dealer, client, issue_date, tax_event_date, operator, issuer=None):
    issuer = issuer or issuer_details(dealer)
    key = issuer_key(dealer.id if dealer else None)
    document = Invoice(
        kind=kind, issuer_key=key, number=f"{next_number('invoice:' + key):010d}",
        dealer_id=dealer.id if dealer else None, client=client, issue_date=issue_date,
        tax_event_date=tax_event_date, currency="EUR", place_of_issue=place_of_issue(dealer, issuer["address"]),
        vat_rate=VAT_RATE if issuer["vat_registered"] else Decimal("0.00"),
        no_vat_reason=None if issuer["vat_registered"] else NO_VAT_REASON,
        compiled_by=_operator_name(operator),
        **{f"issuer_{name}": value for name, value in issuer.items()},
        **_recipient(client),
    )
    return document, issuer["vat_registered"]


def _add_lines(document, lines, vat_registered):
    """Adds lines (amounts with VAT) and sets the totals; bases and VAT per line sum to the document's."""
    base_total = vat_total = total = Decimal("0.00")
    for description, unit, quantity, gross in lines:
        gross = Decimal(gross)
        base, vat = split_vat(gross, vat_registered)
        unit_price = quantize(base / quantity) if quantity else base
        document.lines.append(InvoiceLine(description=description[:300], unit=unit, quantity=quantity,
                                          unit_price=unit_price, amount=base))
        base_total, vat_total, total = base_total + base, vat_total + vat, total + gross
    document.tax_base, document.vat_amount, document.total = base_total, vat_total, total


def invoice_for(payment):
    return db.session.scalar(db.select(Invoice).where(Invoice.payment_id == payment.id, Invoice.kind == INVOICE))


def may_invoice(actor, payment):
    """Whether the actor may have an invoice issued for this payment: who may record payments, for a payment in
    their scope that is not itself a reversal (the payment page's button asks this too)."""
    return (may(actor, permissions.RECORD_PAYMENT) and not payment.is_reversal and not payment.imported_from
            and in_scope(payment, actor))


def issue_invoice(actor, payment, issue_date=None):
    """The invoice for a payment (the one already issued, if any), compiled by `actor`. Flushes.

    The tax event is the day the money was received. Raises FieldErrors when the actor may not record payments
    or the payment is another dealer's, InvoiceRefused when no invoice can be issued.
    """
    if not may(actor, permissions.RECORD_PAYMENT):
        raise FieldErrors({"invoice": [gettext("You do not have the right to issue invoices.")]})
    if not in_scope(payment, actor):
        raise FieldErrors({"invoice": [gettext("This record belongs to another dealer.")]})
    existing = invoice_for(payment)
    if existing is not None:
        return existing
    if payment.is_reversal:
        raise InvoiceRefused(gettext("A reversal gets a credit note, not an invoice."))
    if payment.imported_from:
        raise InvoiceRefused(gettext("A payment moved in from the previous system gets no invoice here."))
    if reversal_of(payment) is not None:
        raise InvoiceRefused(gettext("The payment is reversed; there is nothing to invoice."))
    issue_date = issue_date or local_today()
    tax_event_date = local_time(payment.paid_at).date()
    if issue_date < EURO_SINCE:
        raise InvoiceRefused(gettext("Documents before 2026 are not issued here."))
    document, vat_registered = _new_document(INVOICE, payment.dealer, payment.client, issue_date, tax_event_date,
                                             actor)
    document.payment = payment
    document.payment_method = str(payment.method)
    _add_lines(document, _payment_lines(payment), vat_registered)
    db.session.add(document)
    db.session.flush()
    return document


def _issuer_of(invoice):
    return {name: getattr(invoice, f"issuer_{name}") for name in
            ("name", "eik", "vat_number", "address", "mol", "bank", "iban", "bic", "vat_registered")}


def credit_note_for_reversal(actor, payment, reversal):
    """When a payment with an invoice is reversed: a credit note for the whole invoice. Flushes.

    Only by who may reverse payments, for a payment in their scope (FieldErrors).
    """
    if not may(actor, permissions.REVERSE_PAYMENT):
        raise FieldErrors({"reason": [gettext("You do not have the right to reverse payments.")]})
    if not in_scope(payment, actor):
        raise FieldErrors({"reason": [gettext("This record belongs to another dealer.")]})
    invoice = invoice_for(payment)
    if invoice is None:
        return None
    try:
        issuer = issuer_details(payment.dealer)
    except InvoiceRefused:
        # The issuer's data was cleared since: the credit note still has to
        # exist, so it names the issuer as the invoice did.
        issuer = _issuer_of(invoice)
    issue_date = local_today()
    # Linking the note to the invoice loads the invoice's credit notes; the
    # half-built note must not be flushed by that.
    with db.session.no_autoflush:
        document, _vat = _new_document(CREDIT_NOTE, payment.dealer, payment.client, issue_date, issue_date,
                                       actor, issuer)
        # The credit note cancels the invoice as it was issued (same VAT treatment).
        document.vat_rate, document.no_vat_reason = invoice.vat_rate, invoice.no_vat_reason
        document.original = invoice
        document.payment = reversal
        document.payment_method = invoice.payment_method
        document.lines = [
            InvoiceLine(description=line.description, unit=line.unit, quantity=line.quantity,
                        unit_price=line.unit_price, amount=-line.amount)
            for line in invoice.lines
        ]
        document.tax_base, document.vat_amount, document.total = (-invoice.tax_base, -invoice.vat_amount,
                                                                  -invoice.total)
    db.session.add(document)
    db.session.flush()
    return document
