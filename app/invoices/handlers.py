"""What the invoices module does when payments happen (connected in app.invoices.wiring.init)."""
from app.invoices.services import InvoiceRefused, credit_note_for_reversal, issue_invoice


def invoice_company_payment(actor, payment, **_details):
    """Companies get their invoice with every payment; why none could be issued goes back to the operator."""
    if not payment.client.is_company:
        return None
    try:
        issue_invoice(actor, payment)
    except InvoiceRefused as refusal:
        return str(refusal)
    return None


def credit_reversed_payment(actor, payment, reversal, **_details):
    """A reversed payment's invoice is cancelled by a credit note for the whole invoice."""
    credit_note_for_reversal(actor, payment, reversal)
