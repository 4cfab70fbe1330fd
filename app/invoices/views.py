"""Invoices and credit notes at /invoices/: read-only, with their PDF."""
from flask import abort, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.billing.models import Payment
from app.billing.views import PAYMENT_PAGE, ClientParameterFilter
from app.clients.views import CLIENT_CARD
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.formatting import format_date
from app.core.money import format_money
from app.core.pdf import PdfError
from app.core.transaction import discard
from app.core.views import BillingInterface, ReadOnlyModelView
from app.extensions import db
from app.invoices.documents import invoice_lines, invoice_response, receipt_response
from app.invoices.models import CREDIT_NOTE, INVOICE, Invoice
from app.invoices.services import InvoiceRefused, invoice_for, issue_invoice, may_invoice
from app.security.rights import may_access
from app.core.scoping import DealerScopedView, get_in_scope

KINDS = [(INVOICE, _l("Invoice")), (CREDIT_NOTE, _l("Credit note"))]
LABELS = {
    "number": _l("Number"),
    "kind": _l("Kind"),
    "issuer_key": _l("Numbering"),
    "issue_date": _l("Date of issue"),
    "tax_event_date": _l("Date of the tax event"),
    "place_of_issue": _l("Place of issue"),
    "dealer": _l("Dealer"),
    "dealer_id": _l("Dealer"),
    "client": _l("Client"),
    "client_id": _l("Client"),
    "payment": _l("Payment"),
    "payment_id": _l("Payment"),
    "original": _l("To invoice"),
    "original_id": _l("To invoice"),
    "currency": _l("Currency"),
    "issuer_name": _l("Issuer"),
    "issuer_eik": _l("Issuer's EIK"),
    "issuer_vat_number": _l("Issuer's VAT number"),
    "issuer_vat_registered": _l("Issuer VAT-registered"),
    "issuer_address": _l("Issuer's address"),
    "issuer_mol": _l("Issuer's manager (MOL)"),
    "issuer_bank": _l("Issuer's bank"),
    "issuer_iban": "IBAN",
    "issuer_bic": "BIC",
    "recipient_name": _l("Recipient"),
    "recipient_eik": _l("Recipient's EIK"),
    "recipient_vat_number": _l("Recipient's VAT number"),
    "recipient_address": _l("Recipient's address"),
    "recipient_mol": _l("Recipient's manager (MOL)"),
    "tax_base": _l("Tax base"),
    "vat_rate": _l("VAT rate, %"),
    "vat_amount": _l("VAT"),
    "total": _l("Total"),
    "no_vat_reason": _l("Reason for no VAT"),
    "payment_method": _l("Payment method"),
    "compiled_by": _l("Compiled by"),
    "created_at": _l("Created on"),
}


def _money(amount):
    # Invoices are in EUR only (since 2026).
    return format_money(amount, "EUR")


class InvoiceView(DealerScopedView, ReadOnlyModelView):
    datamodel = BillingInterface(Invoice)
    route_base = "/invoices"
    class_permission_name = "Invoice"
    # Whoever may open an invoice may print it.
    method_permission_name = {"pdf": "show"}
    list_title = _l("Invoices")
    list_note = _l(
        "Invoices and credit notes. A company's payment gets its invoice by itself, anyone else's "
        "from the payment's page (\"Issue an invoice\"); a reversal cancels it with a credit note.")
    show_title = _l("Invoice")
    show_template = "invoices/show.html"
    label_columns = LABELS
    list_columns = ["number", "kind", "issue_date", "recipient_name", "total"]
    search_columns = ["number", "recipient_name", "issue_date", "kind"]
    search_form_extra_fields = {"kind": SelectField(LABELS["kind"], choices=KINDS)}
    order_columns = ["number", "issue_date", "total"]
    base_order = ("id", "desc")
    base_filters = [["id", ClientParameterFilter, None]]  # ?client=<id>: the card's "all invoices"
    show_columns = ["number", "kind", "original", "issue_date", "tax_event_date", "issuer_name", "issuer_eik",
                    "client", "recipient_name", "recipient_eik", "payment", "tax_base", "vat_amount", "total",
                    "no_vat_reason", "payment_method", "compiled_by"]
    formatters_columns = {
        "kind": dict(KINDS).get,
        "issue_date": format_date,
        "tax_event_date": format_date,
        "tax_base": _money,
        "vat_amount": _money,
        "total": _money,
    }

    # DealerScopedView re-exposes the action routes; an invoice has no actions.
    action = ReadOnlyModelView.action
    action_post = ReadOnlyModelView.action_post

    @expose("/pdf/<int:pk>")
    @has_access
    def pdf(self, pk):
        """The invoice as an A4 PDF, opened in the browser."""
        invoice = self.record_or_404(pk)
        try:
            return invoice_response(invoice)
        except PdfError as problem:
            flash(str(problem), "danger")
            return redirect(url_for("InvoiceView.show", pk=pk))

    def record_page(self, invoice):
        return {"lines": invoice_lines(invoice), "invoice": invoice}


class PaymentDocumentsView(BaseView):
    """A payment's receipt and, on the client's request, its invoice: pages of the payment."""

    route_base = "/payments"
    class_permission_name = "Payment"
    # The same permissions as the payments' own view (one row of the rights
    # matrix); what may be done here is decided by the business rights.
    base_permissions = ["can_list", "can_show"]
    method_permission_name = {"receipt": "show", "invoice": "show"}

    def _payment_or_404(self, pk):
        payment = get_in_scope(Payment, pk, current_operator())
        if payment is None:
            abort(404)
        return payment

    @expose("/receipt/<int:pk>")
    @has_access
    def receipt(self, pk):
        payment = self._payment_or_404(pk)
        if payment.imported_from:
            abort(404)  # moved in from the previous system: its receipt was issued there
        return receipt_response(payment)

    @expose("/invoice/<int:pk>", methods=["POST"])
    @has_access
    def invoice(self, pk):
        """An invoice on the client's request (companies get one automatically)."""
        payment = self._payment_or_404(pk)
        try:
            invoice = issue_invoice(current_operator(), payment)
        except (FieldErrors, InvoiceRefused) as refusal:
            discard()
            flash(str(refusal), "danger")
            return redirect(url_for("PaymentView.show", pk=pk))
        return redirect(url_for("InvoiceView.show", pk=invoice.id))


def payment_documents(payment, actor, reversal=None, **_known):
    """The payment page's documents part: its receipt and its invoice, or the button to issue one."""
    return {
        "invoice": invoice_for(payment),
        "can_invoice": may_invoice(actor, payment),
    }


def card_invoices(client, actor, **_known):
    """The client card's invoices (in its payments tab): the latest ten, for whoever may open invoices."""
    if not may_access(actor, "can_list", "Invoice"):
        return {"invoices": None}
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.client_id == client.id)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(10)
    ).all()
    return {"invoices": invoices, "invoice_kind": dict(KINDS).get}


def card_invoice_count(client, actor, **_known):
    """The payments tab's counter counts the client's invoices and credit notes too, for whoever may open
    invoices."""
    if not may_access(actor, "can_list", "Invoice"):
        return None
    return select(db.func.count(Invoice.id)).where(Invoice.client_id == client.id)


def register(appbuilder):
    # The numbering's key ("head", "dealer:3") is internal: the issuer's name says whose numbering it is.
    register_entity(Invoice, _l("Invoice"), LABELS, value_labels={"kind": KINDS}, hidden=("issuer_key",))
    appbuilder.add_view(InvoiceView, "Invoices", label=_l("Invoices"), icon="fa-file-text-o",
                        **in_menu("Payments"))
    appbuilder.add_view_no_menu(PaymentDocumentsView)
    PAYMENT_PAGE.add("invoices/_payment_documents.html", payment_documents, order=10)
    CLIENT_CARD.add("invoices/_card_invoices.html", card_invoices, order=15, place="payments",
                    count=card_invoice_count)
