from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import relationship

from app.clients.models import OfAClient
from app.core.formatting import utcnow

DRAFT = "draft"
ACTIVE = "active"
TERMINATED = "terminated"
STATUSES = (DRAFT, ACTIVE, TERMINATED)


# The services a contract type is for; none means any service.
contract_type_service = Table(
    "contract_type_service",
    Model.metadata,
    Column("contract_type_id", Integer, ForeignKey("contract_type.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Integer, ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
)


class ContractType(Model):
    """A kind of contract: its HTML template with placeholders, and the services it covers."""

    __tablename__ = "contract_type"
    # Continuum cannot version association tables cleanly; the LOG records
    # collection changes itself (app.audit.plugin.collection_changes).
    __versioned__ = {"exclude": ["services"]}

    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False, unique=True)
    description = Column(Text)
    template = Column(Text, nullable=False)
    services = relationship("Service", secondary=contract_type_service, order_by="Service.name")

    def __str__(self):
        return self.name or ""


contract_subscription = Table(
    "contract_subscription",
    Model.metadata,
    Column("contract_id", Integer, ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    # A subscription named in a contract stays (it is terminated, not deleted).
    Column("subscription_id", Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), primary_key=True,
           index=True),
)


class Contract(OfAClient, Model):
    """A client's contract of one type, covering some of the client's subscriptions."""

    __tablename__ = "contract"
    __versioned__ = {"exclude": ["subscriptions"]}

    id = Column(Integer, primary_key=True)
    # Sequential, from app.core.counters (app.contracts.services.create_contract).
    number = Column(Integer, nullable=False, unique=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client")
    contract_type_id = Column(Integer, ForeignKey("contract_type.id", ondelete="RESTRICT"), nullable=False,
                              index=True)
    contract_type = relationship("ContractType")
    subscriptions = relationship("Subscription", secondary=contract_subscription, order_by="Subscription.id")
    signed_on = Column(Date)
    term_months = Column(Integer)  # None: indefinite
    status = Column(String(12), nullable=False, default=DRAFT, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'terminated')", name="ck_contract_status"),
        CheckConstraint("term_months IS NULL OR term_months > 0", name="ck_contract_term_months"),
        {"extend_existing": True},
    )

    def __str__(self):
        client = f" — {self.client.name}" if self.client else ""
        return f"№ {self.number}{client}"
