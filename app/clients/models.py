import re
from datetime import timedelta

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import column_property, relationship, validates

from app.core.formatting import utcnow
from app.core.phones import phone_keys
from app.core.validators import normalise_identifier

INDIVIDUAL = "individual"
COMPANY = "company"
# How the panel names the two types (forms, the card, the LOG).
KINDS = [(INDIVIDUAL, _l("Individual")), (COMPANY, _l("Company (legal entity)"))]

PENDING = "pending"  # awaiting installation
ACTIVE = "active"
SUSPENDED = "suspended"
TERMINATED = "terminated"
STATUSES = (PENDING, ACTIVE, SUSPENDED, TERMINATED)
LIVE = (ACTIVE, SUSPENDED)  # the statuses that owe periods


def digits_only(value):
    return "".join(ch for ch in (value or "") if ch.isdigit())


def name_key(name):
    """A name as the search compares it: in lower case (Client.search_name holds the client's)."""
    return (name or "").lower()


def name_words(text):
    """The words of a typed name, in the search's case: each must be in the name, in any order."""
    return re.findall(r"\w+", name_key(text))


class Client(Model):
    """A subscriber: an individual (ЕГН) or a company (ЕИК), of head office or a dealer."""

    __tablename__ = "client"
    __versioned__ = {"exclude": ["search_name", "phone_digits"]}

    id = Column(Integer, primary_key=True)
    client_number = Column(String(20), nullable=False, unique=True)
    kind = Column(String(10), nullable=False, default=INDIVIDUAL)
    name = Column(String(200), nullable=False)
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="RESTRICT"), index=True)
    # Loaded for a whole page in one extra query each (the list prints the
    # dealer and address of every client); not joined, so sorting a search's
    # matches by name handles narrow rows.
    dealer = relationship("Dealer", lazy="selectin")
    phone = Column(String(100))  # one or more, comma separated
    fax = Column(String(50))
    email = Column(String(150))
    comment = Column(Text)
    # individual
    egn = Column(String(10), index=True)
    id_card = Column(String(20))
    # company
    company_name = Column(String(200))
    eik = Column(String(13), index=True)
    tax_number = Column(String(20))
    mol = Column(String(150))
    company_address = Column(String(300))
    vat_registered = Column(Boolean, nullable=False, default=False)
    vat_number = Column(String(15))
    # address: structured (block, entrance, floor, apartment) or free text
    block_id = Column(Integer, ForeignKey("block.id", ondelete="RESTRICT"), index=True)
    block = relationship("Block", lazy="selectin")
    entrance = Column(String(5))
    floor = Column(String(5))
    apartment = Column(String(10))
    address_text = Column(String(300))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # Search keys kept by the model whenever the name or the phone is set: the name in lower case
    # (name_key), each phone's key (app.core.phones.phone_keys).
    search_name = Column(String(200), index=True)
    phone_digits = Column(String(100), index=True)

    subscriptions = relationship("Subscription", back_populates="client", order_by="Subscription.id")

    __table_args__ = (
        CheckConstraint("kind IN ('individual', 'company')", name="ck_client_kind"),
        # The client list's default order: its first page without sorting all clients.
        Index("ix_client_name_id", "name", "id"),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.dealer_id == dealer_id

    @validates("name")
    def _keep_search_name(self, key, value):
        self.search_name = name_key(value)
        return value

    @validates("phone")
    def _keep_phone_digits(self, key, value):
        self.phone_digits = phone_keys(value)
        return value

    @validates("egn", "eik", "vat_number")
    def _normalise_identifiers(self, key, value):
        return normalise_identifier(key, value)

    @property
    def is_company(self):
        return self.kind == COMPANY

    def address(self):
        """The Bulgarian way: "гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12"."""
        block = self.block
        if block is None:
            return self.address_text or ""
        neighbourhood = block.neighbourhood
        parts = [f"гр. {neighbourhood.city.name}", str(neighbourhood), f"бл. {block.name}"]
        for prefix, value in (("вх.", self.entrance), ("ет.", self.floor), ("ап.", self.apartment)):
            if value:
                parts.append(f"{prefix} {value}")
        if self.address_text:
            parts.append(self.address_text)
        return ", ".join(parts)

    def __str__(self):
        return f"{self.name} ({self.client_number})"


class OfAClient:
    """Mixin of a record that has a client_id: it belongs to the client's dealer."""

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.client_id.in_(select(Client.id).where(Client.dealer_id == dealer_id))


class Subscription(OfAClient, Model):
    """A client's instance of a service: status, paid until, IPs, username."""

    __tablename__ = "subscription"
    __versioned__ = {}
    # The subscriber's network password: "changed" in the LOG, never the value.
    __log_masked__ = ("password",)

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client", back_populates="subscriptions")
    service_id = Column(Integer, ForeignKey("service.id", ondelete="RESTRICT"), nullable=False, index=True)
    service = relationship("Service")
    status = Column(String(12), nullable=False, default=PENDING, index=True)
    status_reason = Column(String(300))
    activation_date = Column(Date)
    # The day chosen at the sale for a service without installation: awaiting until the cycle's run for it.
    activates_on = Column(Date)
    paid_until = Column(Date, index=True)
    username = Column(String(100), unique=True)
    # Kept readable: RADIUS CHAP needs the subscriber's cleartext password.
    password = Column(String(100))
    delivery_address = Column(String(300))
    # RADIUS logins only from this device (its Calling-Station-Id), "AA:BB:CC:DD:EE:FF"; empty: from any.
    mac_address = Column(String(17))
    # RADIUS sessions open at once, when not the service's number (Service.simultaneous_use); 0: any number.
    simultaneous_use = Column(Integer)
    technology_override = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    ip_allocations = relationship("IpAllocation", back_populates="subscription", order_by="IpAllocation.address")
    # Its IPv6 prefixes (the link's /64 first, then the delegated one), kept until termination.
    ipv6_allocations = relationship("Ipv6Allocation", back_populates="subscription",
                                    order_by="desc(Ipv6Allocation.kind)")

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'suspended', 'terminated')", name="ck_subscription_status"),
        Index("ix_subscription_client_status", "client_id", "status"),
        {"extend_existing": True},
    )


    @property
    def ip_addresses(self):
        return ", ".join(allocation.ip for allocation in self.ip_allocations)

    @property
    def ipv6_prefixes(self):
        """"2001:db8:1:2::/64, 2001:db8:ff00:100::/56": the link's prefix, then the delegated one."""
        return ", ".join(allocation.prefix for allocation in self.ipv6_allocations)

    # When a subscription owes periods is decided here, once, in Python and in SQL alike: the card, the
    # desk, the collectors, the warnings and the billing cycle ask the methods; the debtors report and the
    # home page the conditions. Only a live subscription (active or suspended) owes periods: one awaiting
    # installation owes nothing but what its sale charged, and money brought for it stays an advance.

    def first_unpaid_day(self, day):
        """The first day not paid: the day after "paid until", or, never paid, the activation day (`day`
        when it has none)."""
        if self.paid_until is not None:
            return self.paid_until + timedelta(days=1)
        return self.activation_date or day

    def owes_periods(self, day):
        """Live, with a monthly fee, and not paid through `day`."""
        return self.status in LIVE and bool(self.service.monthly_fee) and self.first_unpaid_day(day) <= day

    @classmethod
    def period_ended_condition(cls, day):
        """SQL: the paid period has ended by `day` (first_unpaid_day <= day); never paid counts from the
        activation day."""
        return or_(cls.paid_until < day, cls.paid_until.is_(None) & (func.coalesce(cls.activation_date, day) <= day))

    @classmethod
    def owes_periods_condition(cls, day, service_class):
        """SQL twin of owes_periods; the query joins the service (`service_class`)."""
        return cls.status.in_(LIVE) & (service_class.monthly_fee > 0) & cls.period_ended_condition(day)

    def __str__(self):
        service = self.service.name if self.service else ""
        return f"{service} — {self.client.name if self.client else ''}"


# The client list's two columns of the client's services, each a correlated subquery on
# ix_subscription_client_status (a page of 50 rows, not the client's subscriptions loaded one by one).
# Where the client stands: the most urgent status among its live services (suspended, then active, then pending).
STANDING_RANK = {SUSPENDED: 3, ACTIVE: 2, PENDING: 1}
Client.standing = column_property(
    select(func.max(case(*((Subscription.status == status, rank) for status, rank in STANDING_RANK.items()),
                         else_=0)))
    .where(Subscription.client_id == Client.id).correlate_except(Subscription).scalar_subquery(),
    deferred=True)
# The nearest "paid until" among its active and suspended services: whom to call first.
Client.nearest_paid_until = column_property(
    select(func.min(Subscription.paid_until))
    .where(Subscription.client_id == Client.id, Subscription.status.in_((ACTIVE, SUSPENDED)))
    .correlate_except(Subscription).scalar_subquery(),
    deferred=True)
