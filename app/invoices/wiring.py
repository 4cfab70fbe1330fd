"""What invoices plug into the application, panel or worker alike (app.create_app calls init):
a company's payment is invoiced, a reversed payment's invoice gets its credit note."""
from app.core import events
from app.invoices import handlers


def init(app):
    """Connects the receivers (once per process, however many apps: blinker keeps one connection per function)."""
    events.payment_recorded.connect(handlers.invoice_company_payment)
    events.payment_reversed.connect(handlers.credit_reversed_payment)
