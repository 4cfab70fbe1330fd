"""Two clients with everything the portal shows (services, payments, an invoice, a contract, a portal
password), and logging in as one of them."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.core.formatting import local_today
from app.extensions import db
from app.invoices.services import invoice_for, issue_invoice
from app.organizer.models import PURPOSE_FAULT, TaskType, TaskTypeStep
from app.portal.services import demo_password
from tests.factories import head_office_cashier, make_client, make_contract, make_payment, make_service, \
    make_subscription

PASSWORD = "portal-pass-123"
EIKS = {"A": "175074752", "B": "204123454", "C": "131313139"}


@dataclass
class Owned:
    client_id: int
    number: str
    subscription_id: int
    payment_id: int
    invoice_id: int
    contract_id: int
    username: str


def fault_type():
    task_type = db.session.scalar(select(TaskType).where(TaskType.purpose == PURPOSE_FAULT))
    if task_type is None:
        task_type = TaskType(name="Повреда", purpose=PURPOSE_FAULT, steps=[TaskTypeStep(position=1, name="Проверка")])
        db.session.add(task_type)
        db.session.commit()
    return task_type


def portal_client(name, tag, email="", password=PASSWORD):
    """A company (its payments get invoices) with a RADIUS service that may be frozen 30 days a year, paid a
    month ahead, a payment, its invoice, a contract and a portal password."""
    service = make_service(f"Интернет {tag}", username_type="radius")
    service.max_freeze_days = 30
    service.download_kbps, service.upload_kbps = 100000, 20000
    client = make_client(None, name, kind="company", company_name=name, eik=EIKS[tag], mol="Иван Иванов",
                         company_address="гр. Варна, ул. „Морска“ 5", email=f"{tag.lower()}@example.bg" if email == "" else email,
                         phone="0888 123 456")
    today = local_today()
    subscription = make_subscription(client, service, activation_date=today - timedelta(days=60),
                                     paid_until=today + timedelta(days=40), username=f"user-{tag.lower()}",
                                     password="radius-pass")
    payment = make_payment(client, amount="25.00")
    invoice = invoice_for(payment) or issue_invoice(head_office_cashier(), payment)
    contract = make_contract(client, [subscription])
    if password:
        demo_password(client, password)
    db.session.commit()
    return Owned(client.id, client.client_number, subscription.id, payment.id, invoice.id, contract.id,
                 subscription.username)


def portal_login(browser, login, password=PASSWORD):
    return browser.submit("/my/login", {"login": login, "password": password})
