import ipaddress

from flask_appbuilder import Model
from sqlalchemy import (
    and_,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    or_,
    select,
)
from sqlalchemy.orm import column_property, relationship

from app.core.formatting import utcnow

network_service = Table(
    "network_service",
    Model.metadata,
    Column("network_id", Integer, ForeignKey("network.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Integer, ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
)


class IpAllocation(Model):
    """One address given out. The unique address makes a double allocation impossible,
    whatever the number of processes allocating at once."""

    __tablename__ = "ip_allocation"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    network_id = Column(Integer, ForeignKey("network.id", ondelete="RESTRICT"), nullable=False, index=True)
    network = relationship("Network", back_populates="allocations")
    address = Column(BigInteger, nullable=False, unique=True)  # IPv4 as an integer
    holder = Column(String(200))
    subscription_id = Column(
        Integer, ForeignKey("subscription.id", ondelete="RESTRICT", name="fk_ip_allocation_subscription"), index=True
    )
    subscription = relationship("Subscription", back_populates="ip_allocations")
    allocated_at = Column(DateTime, nullable=False, default=utcnow)

    # "Highest address of this network" and per-network counts read this
    # index only, however full the other networks are.
    __table_args__ = (
        Index("ix_ip_allocation_network_address", "network_id", "address"),
        {"extend_existing": True},
    )

    @property
    def ip(self):
        return str(ipaddress.IPv4Address(self.address))

    @classmethod
    def held_for_dealer(cls, dealer_id):
        """SQL: the address is held by a subscription of the dealer's clients (the subscriptions' own scope: this
        module may not import the clients module, which builds on it)."""
        subscription = cls.subscription.property.mapper.class_
        return cls.subscription.has(subscription.dealer_scope(dealer_id))

    def __str__(self):
        return self.ip


def usable_range(network):
    """(first, last) usable addresses as integers: without network and broadcast.

    `network` is a Network or a form's values with the same names.
    """
    first, last = network.first_address, network.last_address
    if last - first >= 2:
        return first + 1, last - 1
    return first, last  # /31 and /32 have no network or broadcast address


def gateway_int(network):
    return int(ipaddress.IPv4Address(network.gateway)) if network.gateway else None


def usable_count(network):
    """Addresses that can be given out: the usable range without the gateway."""
    first, last = usable_range(network)
    gateway = gateway_int(network)
    return (last - first + 1) - (1 if gateway is not None and first <= gateway <= last else 0)


class Network(Model):
    """An IPv4 pool: CIDR, name, group, speed, owning dealer, gateway."""

    __tablename__ = "network"
    # first/last address are derived from the CIDR: not versioned, not in the LOG.
    __versioned__ = {"exclude": ["services", "first_address", "last_address"]}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    cidr = Column(String(18), nullable=False, unique=True)
    # First and last address as integers: overlap checks and allocation are
    # range queries on these.
    first_address = Column(BigInteger, nullable=False, index=True)
    last_address = Column(BigInteger, nullable=False, index=True)
    group = Column(String(100), index=True)
    speed_mbps = Column(Integer)
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="RESTRICT"), index=True)
    dealer = relationship("Dealer")
    gateway = Column(String(15))
    comment = Column(Text)
    # Services that take their addresses from this network; none = any service.
    services = relationship("Service", secondary=network_service, order_by="Service.name")
    allocations = relationship("IpAllocation", back_populates="network", lazy="dynamic")
    used_count = column_property(
        select(func.count())
        .select_from(IpAllocation)
        .where(IpAllocation.network_id == id)
        .correlate_except(IpAllocation)
        .scalar_subquery(),
        deferred=False,
    )

    __table_args__ = (
        CheckConstraint("first_address <= last_address", name="ck_network_range"),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        """A dealer sees its own networks, and of the shared ones (no dealer) those its clients hold addresses in:
        a shared network only head office's clients use is head office's business, not the dealer's."""
        return or_(cls.dealer_id == dealer_id,
                   and_(cls.dealer_id.is_(None), cls.allocations.any(IpAllocation.held_for_dealer(dealer_id))))

    @property
    def usable_count(self):
        return usable_count(self)

    @property
    def free_count(self):
        return max(self.usable_count - (self.used_count or 0), 0)

    @property
    def used_percent(self):
        usable = self.usable_count
        return round(100.0 * (self.used_count or 0) / usable, 1) if usable else 0.0

    def __str__(self):
        return f"{self.name} ({self.cidr})"


# --- IPv6 ---------------------------------------------------------------------------------------------------
# A pool hands out whole prefixes: /64s for the subscriber's link (Framed-IPv6-Prefix) or /56s or /60s
# delegated to the subscriber's router by DHCPv6-PD (Delegated-IPv6-Prefix). Every prefix handed out is at most
# a /64, so it is told by the upper 64 bits of its addresses: pools and prefixes are stored as ranges of those
# ("keys", shifted by 2⁶³ into a signed BIGINT so that fc00::/7 fits and the order is kept).
LINK, DELEGATED = "link", "delegated"
IPV6_KINDS = (LINK, DELEGATED)
LINK_LENGTH = 64
DELEGATED_LENGTHS = (56, 60)
KEY_SHIFT = 2 ** 63


def ipv6_key(address):
    """The key of an IPv6 address (or of a network's first address): its upper 64 bits, shifted to fit BIGINT."""
    return (int(address) >> 64) - KEY_SHIFT


class Ipv6Pool(Model):
    """An IPv6 prefix the system carves subscribers' prefixes from: the link's /64s or delegated /56s or /60s."""

    __tablename__ = "ipv6_pool"
    __versioned__ = {"exclude": ["first_key", "last_key"]}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    prefix = Column(String(43), nullable=False, unique=True)  # "2001:db8:100::/40"
    kind = Column(String(10), nullable=False, default=LINK)
    # The length of each prefix handed out: 64 for the link, 56 or 60 delegated.
    assign_length = Column(Integer, nullable=False, default=LINK_LENGTH)
    first_key = Column(BigInteger, nullable=False, index=True)
    last_key = Column(BigInteger, nullable=False, index=True)
    comment = Column(Text)
    allocations = relationship("Ipv6Allocation", back_populates="pool", lazy="dynamic")

    __table_args__ = (
        CheckConstraint("kind IN ('link', 'delegated')", name="ck_ipv6_pool_kind"),
        CheckConstraint("(kind = 'link' AND assign_length = 64) OR (kind = 'delegated' AND assign_length IN (56, 60))",
                        name="ck_ipv6_pool_assign_length"),
        CheckConstraint("first_key <= last_key", name="ck_ipv6_pool_range"),
        {"extend_existing": True},
    )

    @property
    def network(self):
        return ipaddress.IPv6Network(self.prefix)

    @property
    def size(self):
        """How many prefixes the pool holds."""
        return 2 ** (self.assign_length - self.network.prefixlen)

    @property
    def free_count(self):
        return max(self.size - (self.used_count or 0), 0)

    def prefix_at(self, slot):
        """The `slot`-th prefix of the pool, as text."""
        network = self.network
        address = int(network.network_address) + (slot << (128 - self.assign_length))
        return str(ipaddress.IPv6Network((address, self.assign_length)))

    def __str__(self):
        return f"{self.name} ({self.prefix})"


class Ipv6Allocation(Model):
    """One prefix handed to a subscription. The pool and slot are unique (no prefix twice, however many processes
    allocate at once), and so are the subscription and kind (one link prefix, one delegated prefix each)."""

    __tablename__ = "ipv6_allocation"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    pool_id = Column(Integer, ForeignKey("ipv6_pool.id", ondelete="RESTRICT"), nullable=False)
    pool = relationship("Ipv6Pool", back_populates="allocations")
    slot = Column(BigInteger, nullable=False)  # the prefix's place in its pool, from 0
    kind = Column(String(10), nullable=False)
    prefix = Column(String(43), nullable=False)
    # The prefix's range of keys (ipv6_key): the search finds the prefix holding an address by it.
    first_key = Column(BigInteger, nullable=False, index=True)
    last_key = Column(BigInteger, nullable=False)
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT",
                                                 name="fk_ipv6_allocation_subscription"), index=True)
    subscription = relationship("Subscription", back_populates="ipv6_allocations")
    allocated_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("uq_ipv6_allocation_pool_slot", "pool_id", "slot", unique=True),
        Index("uq_ipv6_allocation_subscription_kind", "subscription_id", "kind", unique=True),
        CheckConstraint("kind IN ('link', 'delegated')", name="ck_ipv6_allocation_kind"),
        {"extend_existing": True},
    )

    def __str__(self):
        return self.prefix


# How many prefixes a pool has handed out (the pools' list).
Ipv6Pool.used_count = column_property(
    select(func.count()).select_from(Ipv6Allocation).where(Ipv6Allocation.pool_id == Ipv6Pool.id)
    .correlate_except(Ipv6Allocation).scalar_subquery())
