"""Records for tests, one factory per dealer-scoped model.

The isolation test creates one record of every dealer-scoped model for each
of two dealers; a model that becomes dealer-scoped needs a factory here, or
that test fails and says which.
"""
from app.audit.models import LogEntry
from app.dealers.models import Dealer
from app.extensions import db
from app.networks.models import Network
from app.security.models import Operator

EIKS = {"Алфа": "175074752", "Бета": "204123454"}


def make_dealer(name):
    dealer = Dealer(name=f"Дилър {name}", company_name=f"{name} ЕООД", eik=EIKS.get(name))
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
    entry = LogEntry(operation="login", user_id=operator.id, username=operator.username,
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


# model → (make a record for dealer, text that identifies it on a page)
SCOPED_FACTORIES = {
    Dealer: (lambda dealer, tag: dealer, lambda record: record.name),
    Operator: (_operator_record, lambda record: record.first_name),
    LogEntry: (_log_record, lambda record: record.entity_label),
    Network: (_network_record, lambda record: record.name),
}
