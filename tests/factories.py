"""Records for tests, one factory per dealer-scoped model.

The isolation test creates one record of every dealer-scoped model for each
of two dealers; a model that becomes dealer-scoped needs a factory here, or
that test fails and says which.
"""
from app.audit.models import LogEntry
from app.billing.models import Charge, CycleEffect, Payment, SubscriptionFreeze
from app.invoices.models import Invoice
from app.dealers.models import Dealer
from app.epay.models import EpayRequest
from app.clients.models import Client, Subscription
from app.contracts.models import Contract
from app.extensions import db
from app.networks.models import Network
from app.notifications.models import Notification
from app.organizer.models import Task
from app.radius.models import Nas, RadiusSession
from app.security.models import Operator

EIKS = {"Алфа": "175074752", "Бета": "204123454"}


def make_dealer(name):
    dealer = Dealer(name=f"Дилър {name}", company_name=f"{name} ЕООД", eik=EIKS.get(name),
                    company_address=f"гр. Пловдив, ул. „{name}“ 1")
    db.session.add(dealer)
    db.session.flush()
    return dealer


def make_operator(dealer, tag, role_name, username=None, password="operator-pass-123"):
    """An operator of `dealer` (None = head office) with one role."""
    from flask import current_app

    security = current_app.appbuilder.sm
    username = username or f"op-{tag}-{dealer.id if dealer else 'office'}"
    operator = security.add_user(
        username=username,
        first_name=f"Оператор-{tag}",
        last_name=dealer.name if dealer else "Централа",
        email=f"{username}@example.bg",
        role=security.find_role(role_name),
        password=password,
    )
    operator.dealer_id = dealer.id if dealer else None
    db.session.commit()
    return operator


def _operator_record(dealer, tag):
    return make_operator(dealer, f"запис-{tag}", "Касиер")


def _log_record(dealer, tag):
    operator = make_operator(dealer, f"лог-{tag}", "Касиер")
    # Not a login: the LOG's plain list leaves logins out (app.audit.views.LogListFilter), scope or not.
    entry = LogEntry(operation="refused", user_id=operator.id, username=operator.username,
                     remote_addr="192.0.2.1", entity_label=f"Следа-{tag}", changes={})
    db.session.add(entry)
    db.session.commit()
    return entry


def make_network(cidr, name, dealer=None, gateway=None):
    from app.networks.services import network_errors

    network = Network(name=name, cidr=cidr, dealer_id=dealer.id if dealer else None, gateway=gateway)
    assert network_errors(network) == {}
    db.session.add(network)
    db.session.commit()
    return network


def _network_record(dealer, tag):
    return make_network({"Алфа": "10.1.0.0/24", "Бета": "10.2.0.0/24"}[tag], f"Мрежа-{tag}", dealer)


def make_client(dealer, name, egn=None, block=None, **values):
    """A client created through the clients' operation by the test administrator, committed."""
    from app.clients.services import create_client

    client = create_client(head_office_cashier(), name=name, dealer=dealer, egn=egn, block=block, **values)
    db.session.commit()
    return client


def make_service(name="Интернет 100", ip_count=0, username_type="none", technology=None, monthly_fee="12.90"):
    from app.catalog.models import Service, ServiceGroup

    group = db.session.query(ServiceGroup).filter_by(name="Интернет").first() or ServiceGroup(name="Интернет")
    service = Service(name=name, group=group, monthly_fee=monthly_fee, ip_count=ip_count,
                      username_type=username_type, technology=technology)
    db.session.add(service)
    db.session.commit()
    return service


def _client_record(dealer, tag):
    return make_client(dealer, f"Клиент-{tag}")


def _subscription_record(dealer, tag):
    from app.clients.models import Subscription

    client = make_client(dealer, f"Абонат-{tag}")
    service = make_service(f"Услуга-{tag}")
    subscription = Subscription(client=client, service=service, status="active", username=f"user-{tag}")
    db.session.add(subscription)
    db.session.commit()
    return subscription


def make_contract_type(name="Договор за интернет", template="<p>{{ client.name }}</p>"):
    """The contract type of that name, made on first use."""
    from app.contracts.models import ContractType

    contract_type = db.session.query(ContractType).filter_by(name=name).first()
    if contract_type is None:
        contract_type = ContractType(name=name, template=template)
        db.session.add(contract_type)
        db.session.commit()
    return contract_type


def make_contract(client, subscriptions=(), contract_type=None, **values):
    from app.contracts.services import create_contract

    contract = create_contract(head_office_cashier(), client=client, subscriptions=list(subscriptions),
                               contract_type=contract_type or make_contract_type(), **values)
    db.session.commit()
    return contract


def _contract_record(dealer, tag):
    return make_contract(make_client(dealer, f"Подписал-{tag}"))


def make_subscription(client, service, status="active", activation_date=None, paid_until=None, **values):
    """A subscription placed directly (no sale rules): for billing tests."""
    from app.clients.models import Subscription

    subscription = Subscription(client=client, service=service, status=status, activation_date=activation_date,
                                paid_until=paid_until, **values)
    db.session.add(subscription)
    db.session.commit()
    return subscription


def head_office_cashier():
    """The test administrator: head office, every right."""
    from app.security.models import Operator

    return db.session.query(Operator).filter_by(username="admin").one()


def make_payment(client, operator=None, **values):
    """A payment recorded through the billing service, committed."""
    from app.billing.services import record_payment

    result = record_payment(operator or head_office_cashier(), client, **values)
    db.session.commit()
    return result.payment


def _charge_record(dealer, tag):
    from app.billing.charges import add_charge

    charge = add_charge(make_client(dealer, f"Длъжник-{tag}"), f"Такса-{tag}", "15.00", type_code="other")
    db.session.commit()
    return charge


def _payment_record(dealer, tag):
    return make_payment(make_client(dealer, f"Платец-{tag}"), amount="21.00", note=f"Бележка-{tag}")


def _invoice_record(dealer, tag):
    from app.invoices.services import issue_invoice

    client = make_client(dealer, f"Фирма-{tag}")
    invoice = issue_invoice(head_office_cashier(), make_payment(client, amount="30.00"))
    db.session.commit()
    return invoice


def _cycle_effect_record(dealer, tag):
    from datetime import date

    from app.billing.models import BillingRun

    subscription = _subscription_record(dealer, f"цикъл-{tag}")
    run = BillingRun(day=date(2026, 12, 1), status="done")
    effect = CycleEffect(run=run, subscription_id=subscription.id, client_id=subscription.client_id,
                         kind="warning", period_end=date(2026, 12, 31), detail=f"Предупреждение-{tag}")
    db.session.add(effect)
    db.session.commit()
    return effect


def _notification_record(dealer, tag):
    client = make_client(dealer, f"Получател-{tag}", email=f"mail-{tag}@example.bg")
    notification = Notification(key=f"test:{tag}", client=client, recipient=client.email,
                                subject=f"Писмо-{tag}", body="…")
    db.session.add(notification)
    db.session.commit()
    return notification


def _freeze_record(dealer, tag):
    from datetime import date

    subscription = _subscription_record(dealer, f"ваканция-{tag}")
    freeze = SubscriptionFreeze(subscription=subscription, client_id=subscription.client_id,
                                starts_on=date(2027, 7, 1), ends_on=date(2027, 7, 20), last_day=date(2027, 7, 20),
                                reason=f"На море-{tag}")
    db.session.add(freeze)
    db.session.commit()
    return freeze


def _radius_session_record(dealer, tag):
    from app.core.formatting import utcnow

    subscription = _subscription_record(dealer, f"сесия-{tag}")
    nas = Nas(name=f"NAS-{tag}", ip_address=f"10.99.0.{1 + db.session.query(Nas).count()}", secret="nas-secret-1")
    now = utcnow()
    session = RadiusSession(nas=nas, acct_session_id=f"s-{tag}", username=f"online-{tag}",
                            subscription_id=subscription.id, started_at=now, updated_at=now)
    db.session.add(session)
    db.session.commit()
    return session


def _task_record(dealer, tag):
    from app.organizer.models import TaskType, TaskTypeStep
    from app.organizer.services import create_task

    task_type = TaskType(name=f"Вид задача-{tag}", steps=[TaskTypeStep(position=1, name="Стъпка")])
    db.session.add(task_type)
    task = create_task(head_office_cashier(), task_type=task_type, client=make_client(dealer, f"Поръчал-{tag}"),
                       description=f"Задача-{tag}")
    db.session.commit()
    return task


def _epay_request_record(dealer, tag):
    from datetime import timedelta

    from app.core.formatting import utcnow

    client = make_client(dealer, f"Онлайн-{tag}")
    request = EpayRequest(invoice=str(900000 + client.id), client=client, amount="10.00", currency="EUR",
                          description=f"Онлайн плащане-{tag}", status="pending", created_at=utcnow(),
                          expires_at=utcnow() + timedelta(days=1))
    db.session.add(request)
    db.session.commit()
    return request


# model → (make a record for dealer, text that identifies it on a page)
SCOPED_FACTORIES = {
    Dealer: (lambda dealer, tag: dealer, lambda record: record.name),
    Operator: (_operator_record, lambda record: record.first_name),
    LogEntry: (_log_record, lambda record: record.entity_label),
    Network: (_network_record, lambda record: record.name),
    Client: (_client_record, lambda record: record.name),
    Subscription: (_subscription_record, lambda record: record.username),
    Contract: (_contract_record, lambda record: record.client.name),
    Charge: (_charge_record, lambda record: record.description),
    Payment: (_payment_record, lambda record: record.note),
    Invoice: (_invoice_record, lambda record: record.recipient_name),
    CycleEffect: (_cycle_effect_record, lambda record: record.detail),
    Notification: (_notification_record, lambda record: record.subject),
    SubscriptionFreeze: (_freeze_record, lambda record: record.reason),
    RadiusSession: (_radius_session_record, lambda record: record.username),
    Task: (_task_record, lambda record: record.client.name),
    EpayRequest: (_epay_request_record, lambda record: record.description),
}
