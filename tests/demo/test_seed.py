"""`flask demo seed` fills a usable demo, and a second run adds nothing."""
from sqlalchemy import func, select

from app.addresses.models import Block
from app.catalog.models import Service
from app.dealers.models import Dealer
from app.extensions import db
from app.networks.models import Network
from tests.conftest import Browser


def counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count(m.id))) for m in (Dealer, Service, Block, Network))


def test_seed_is_complete_and_idempotent(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    first = counts(app)
    assert first == (3, 9, 25, 4)
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert counts(app) == first
    with app.app_context():
        from app.contracts.models import ContractType

        assert {s.currency for s in db.session.scalars(select(Service))} == {"EUR"}
        assert db.session.scalar(select(func.count(ContractType.id))) == 1
        # The demo clients and their payments were entered by the demo cashiers — the dealer's own for its
        # clients — and the LOG says so.
        from app.audit.models import LogEntry
        from app.clients.models import Client

        entered_by = db.session.scalars(select(LogEntry).where(
            LogEntry.entity_type.in_(["Client", "Payment"]), LogEntry.operation == "insert")).all()
        by_operator = {}
        for entry in entered_by:
            by_operator.setdefault(entry.user.username, []).append(entry.entity_type)
        # Head office: 5 clients, 4 payments of a month and 1 advance; Люлин: 3 clients, 2 + 1 payments.
        assert sorted(by_operator["m.ivanova"]) == ["Client"] * 5 + ["Payment"] * 5
        assert sorted(by_operator["n.todorova"]) == ["Client"] * 3 + ["Payment"] * 3
        lyulin = db.session.scalars(select(Client).join(Client.dealer).where(Dealer.name == "Дилър Люлин")).all()
        assert {client.subscriptions[0].status for client in lyulin} == {"active", "suspended"}

    dealer_admin = Browser(app)
    dealer_admin.login("l.dimitrov", "demo12345")
    networks = dealer_admin.get("/networks/list/").text
    assert "Люлин" in networks and "Надежда" not in networks
