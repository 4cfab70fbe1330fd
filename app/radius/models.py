"""RADIUS: the access servers (NAS) that ask, and the sessions their accounting reports."""
from flask_appbuilder import Model
from flask_appbuilder.models.decorators import renders
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import relationship

from app.clients.models import Client, Subscription
from app.core.formatting import utcnow

MIKROTIK, CISCO, JUNIPER, OTHER = "mikrotik", "cisco", "juniper", "other"
VENDORS = (MIKROTIK, CISCO, JUNIPER, OTHER)
NAS_IDENTIFIER_LENGTH = 128
MIN_INTERIM, MAX_INTERIM = 60, 86400  # a NAS's own Acct-Interim-Interval, seconds


class Nas(Model):
    """An access server (MikroTik, Cisco, Juniper…) allowed to ask: its address, shared secret and CoA port.

    A NAS is known by the address its packets come from and, where set, the
    NAS-Identifier they carry: several NAS behind one address (a concentrator
    behind NAT) are told apart by it (app.radius.server.NasList.find)."""

    __tablename__ = "nas"
    __versioned__ = {}
    # The shared secret: "changed" in the LOG, never the value; shown only to who holds the right, logged.
    __log_masked__ = ("secret",)

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    ip_address = Column(String(45), nullable=False)
    # The NAS-Identifier its requests carry; empty: any request from the address that names no other NAS of it.
    nas_identifier = Column(String(NAS_IDENTIFIER_LENGTH))
    secret = Column(String(128), nullable=False)
    vendor = Column(String(10), nullable=False, default=MIKROTIK)
    coa_port = Column(Integer, nullable=False, default=3799)
    # BlastRADIUS (CVE-2024-3596): an Access-Request without a valid Message-Authenticator is dropped.
    require_message_authenticator = Column(Boolean, nullable=False, default=True)
    # A suspended (unpaid) subscriber with the right password is let into this address pool of the NAS,
    # whose firewall shows only how to pay, instead of being rejected; empty: rejected.
    walled_garden_pool = Column(String(64))
    # Sent as Reply-Message with a walled-garden login; empty: app.radius.auth.WALLED_GARDEN_MESSAGE.
    walled_garden_message = Column(String(500))
    # Acct-Interim-Interval in its Accepts, seconds; empty: RADIUS_INTERIM_INTERVAL.
    interim_interval = Column(Integer)
    description = Column(String(300))

    __table_args__ = (
        CheckConstraint("vendor IN ('mikrotik', 'cisco', 'juniper', 'other')", name="ck_nas_vendor"),
        CheckConstraint("coa_port BETWEEN 1 AND 65535", name="ck_nas_coa_port"),
        CheckConstraint(f"interim_interval BETWEEN {MIN_INTERIM} AND {MAX_INTERIM}", name="ck_nas_interim_interval"),
        # One NAS per address and identifier, and at most one of an address without one.
        Index("uq_nas_address_identifier", "ip_address", "nas_identifier", unique=True),
        Index("uq_nas_address", "ip_address", unique=True, postgresql_where=text("nas_identifier IS NULL"),
              sqlite_where=text("nas_identifier IS NULL")),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.name} ({self.ip_address})"


class RadiusSession(Model):
    """One subscriber session as the NAS's accounting reports it; byte counts are 64-bit (gigawords joined)."""

    __tablename__ = "radius_session"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    nas_id = Column(Integer, ForeignKey("nas.id", ondelete="RESTRICT"), nullable=False)
    nas = relationship("Nas", lazy="joined")
    acct_session_id = Column(String(64), nullable=False)
    username = Column(String(100), nullable=False)
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="SET NULL"), index=True)
    subscription = relationship("Subscription")
    # The online page shows the client on every row: joined through the subscription, not a query per row.
    client = relationship("Client", secondary="subscription",
                          primaryjoin="RadiusSession.subscription_id == Subscription.id",
                          secondaryjoin="Subscription.client_id == Client.id",
                          viewonly=True, uselist=False, lazy="joined")
    # What the online page filters by (never loaded to show): the subscription's service and the client's
    # dealer. Lists of one, so that FAB filters them with contains(), which goes through the subscription.
    service = relationship("Service", secondary="subscription",
                           primaryjoin="RadiusSession.subscription_id == Subscription.id",
                           secondaryjoin="Subscription.service_id == Service.id", viewonly=True, lazy="select")
    dealer = relationship("Dealer", secondary="join(Subscription, Client, Subscription.client_id == Client.id)",
                          primaryjoin="RadiusSession.subscription_id == Subscription.id",
                          secondaryjoin="Client.dealer_id == Dealer.id", viewonly=True, lazy="select")
    framed_ip = Column(String(45))
    # IPv6 as the NAS reports it: the link's prefix, the prefix delegated to the router, the link's address.
    framed_ipv6_prefix = Column(String(43))
    delegated_ipv6_prefix = Column(String(43))
    framed_ipv6_address = Column(String(39))
    # The same as ranges of keys (app.networks.ipv6.prefix_keys), which the search finds an address inside by:
    # the link (its prefix, else its address's /64) and the delegated prefix. Filled by the accounting.
    ipv6_link_first_key = Column(BigInteger)
    ipv6_link_last_key = Column(BigInteger)
    ipv6_delegated_first_key = Column(BigInteger)
    ipv6_delegated_last_key = Column(BigInteger)
    calling_station_id = Column(String(50))
    # NAS-Port-Id, else NAS-Port, as the accounting reports it: a redial from the same device comes on it again.
    nas_port = Column(String(50))
    started_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    stopped_at = Column(DateTime)
    stop_cause = Column(String(40))
    input_bytes = Column(BigInteger, nullable=False, default=0)
    output_bytes = Column(BigInteger, nullable=False, default=0)
    session_time = Column(Integer, nullable=False, default=0)

    __table_args__ = (
        # A NAS names its sessions uniquely: retransmits and duplicates land on the same row.
        Index("uq_radius_session_nas_session", "nas_id", "acct_session_id", unique=True),
        # Who is online now: the open sessions only.
        Index("ix_radius_session_open", "nas_id", postgresql_where=text("stopped_at IS NULL"),
              sqlite_where=text("stopped_at IS NULL")),
        # A login's Simultaneous-Use check: the open sessions of the batch's subscriptions, not their history.
        Index("ix_radius_session_open_subscription", "subscription_id", postgresql_where=text("stopped_at IS NULL"),
              sqlite_where=text("stopped_at IS NULL")),
        Index("ix_radius_session_started", "started_at"),
        # Who holds an address now (the portal's walled-garden page): the open sessions only.
        Index("ix_radius_session_open_ip", "framed_ip", postgresql_where=text("stopped_at IS NULL"),
              sqlite_where=text("stopped_at IS NULL")),
        # Who had an IPv6 address (the online page, the sessions and the client search): the sessions that report
        # any, by their ranges' first keys (app.networks.ipv6.inside_condition: one index probe per prefix length).
        Index("ix_radius_session_ipv6_link", "ipv6_link_first_key",
              postgresql_where=text("ipv6_link_first_key IS NOT NULL"),
              sqlite_where=text("ipv6_link_first_key IS NOT NULL")),
        Index("ix_radius_session_ipv6_delegated", "ipv6_delegated_first_key",
              postgresql_where=text("ipv6_delegated_first_key IS NOT NULL"),
              sqlite_where=text("ipv6_delegated_first_key IS NOT NULL")),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        """A dealer sees the sessions of its clients' subscriptions (one of no subscription is head office's)."""
        return cls.subscription_id.in_(
            select(Subscription.id).join(Client, Client.id == Subscription.client_id)
            .where(Client.dealer_id == dealer_id))

    @property
    def is_open(self):
        return self.stopped_at is None

    @hybrid_property
    def shown_address(self):
        """The address the online page shows: the IPv4 one, else what the NAS reported of IPv6 — the link's address,
        else its prefix (the /64), else the delegated prefix. In SQL the same, which the list sorts by."""
        return (self.framed_ip or self.framed_ipv6_address or self.framed_ipv6_prefix or self.delegated_ipv6_prefix
                or "")

    @shown_address.inplace.expression
    @classmethod
    def _shown_address_expression(cls):
        return func.coalesce(cls.framed_ip, cls.framed_ipv6_address, cls.framed_ipv6_prefix,
                             cls.delegated_ipv6_prefix, "")

    @renders("shown_address")
    def ip_address(self):
        """The list's column (`shown_address`), sorted by what it shows: an IPv6-only session by its IPv6 address
        or prefix among the others, not all of them at one end."""
        return self.shown_address

    @property
    def client_name(self):
        return self.client.name if self.client is not None else ""

    @property
    def duration(self):
        """Seconds online: as the NAS last reported, or from start to end when that is longer (no Stop came)."""
        end = self.stopped_at or self.updated_at
        return max(self.session_time or 0, int((end - self.started_at).total_seconds()) if end else 0)

    @property
    def traffic(self):
        """Down and up of the session, as the office reads it (the NAS's output is the subscriber's download)."""
        return (self.output_bytes, self.input_bytes)

    def __str__(self):
        return f"{self.username} {self.acct_session_id}"


ACK, NAK, NO_ANSWER = "ack", "nak", "no_answer"
DISCONNECT, COA = "disconnect", "coa"


class RadiusDisconnect(Model):
    """One Disconnect-Request or CoA-Request sent for a session, and what the NAS answered (app.radius.disconnect)."""

    __tablename__ = "radius_disconnect"

    id = Column(Integer, primary_key=True)
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    session_id = Column(BigInteger().with_variant(Integer, "sqlite"),
                        ForeignKey("radius_session.id", ondelete="SET NULL"))
    nas_id = Column(Integer, ForeignKey("nas.id", ondelete="CASCADE"), nullable=False)
    nas = relationship("Nas", lazy="joined")
    acct_session_id = Column(String(64), nullable=False)
    username = Column(String(100), nullable=False)
    # A Disconnect-Request ends the session; a CoA-Request changes it (a new speed).
    kind = Column(String(10), nullable=False, default=DISCONNECT, server_default=DISCONNECT)
    reason = Column(String(100), nullable=False)
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    answered_at = Column(DateTime)
    result = Column(String(10), nullable=False)
    error_cause = Column(Integer)  # RFC 5176 Error-Cause of a NAK (503: no such session)
    attempts = Column(Integer, nullable=False, default=1)

    __table_args__ = (
        CheckConstraint("result IN ('ack', 'nak', 'no_answer')", name="ck_radius_disconnect_result"),
        CheckConstraint("kind IN ('disconnect', 'coa')", name="ck_radius_disconnect_kind"),
        # The retry of sessions still online that may not be (app.radius.disconnect.enforce) asks by session.
        Index("ix_radius_disconnect_session", "session_id", "requested_at"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.username} {self.acct_session_id}"
