from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship, validates
from sqlalchemy.sql.expression import false

from app.core.money import check_amount, check_currency, format_money

MONTH_FIXED = "fixed"  # calendar months
MONTH_FLOATING = "floating"  # from the activation day
USERNAME_TYPES = ("none", "radius", "email", "ftp")


class ServiceGroup(Model):
    """User-defined group: cable internet, mailboxes, FTP access, leased lines, cable TV…"""

    __tablename__ = "service_group"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    description = Column(Text)

    def __str__(self):
        return self.name or ""


class Service(Model):
    """A catalog entry with its prices and the billing rules subscriptions follow."""

    __tablename__ = "service"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False, unique=True)
    group_id = Column(Integer, ForeignKey("service_group.id", ondelete="RESTRICT"), nullable=False, index=True)
    group = relationship("ServiceGroup")
    description = Column(Text)
    installation_fee = Column(Numeric(12, 2), nullable=False, default=0)
    monthly_fee = Column(Numeric(12, 2), nullable=False, default=0)
    currency = Column(String(3), nullable=False, default="EUR")
    extra_traffic_fee = Column(Numeric(12, 2), nullable=False, default=0)  # per GB over the included traffic
    included_traffic_gb = Column(Integer)  # None: unlimited
    month_type = Column(String(10), nullable=False, default=MONTH_FIXED)
    warning_days = Column(Integer, nullable=False, default=5)
    tolerance_days = Column(Integer, nullable=False, default=3)
    # Days a year a subscription may be frozen (ваканция); 0: it cannot be.
    max_freeze_days = Column(Integer, nullable=False, default=0, server_default="0")
    ip_count = Column(Integer, nullable=False, default=0)
    username_type = Column(String(10), nullable=False, default="none")
    # IPv6: a /64 on the subscriber's link (Framed-IPv6-Prefix), and a /56 or /60 delegated to their router
    # (Delegated-IPv6-Prefix; None: no delegation), from the Networks module's IPv6 pools.
    ipv6 = Column(Boolean, nullable=False, default=False, server_default=false())
    ipv6_delegated_length = Column(Integer)
    download_kbps = Column(Integer)
    upload_kbps = Column(Integer)
    # RADIUS Simultaneous-Use: sessions a subscription may have open at once; 0: any number (app.radius.simultaneous).
    simultaneous_use = Column(Integer, nullable=False, default=1, server_default="1")
    technology_id = Column(Integer, ForeignKey("technology.id", ondelete="RESTRICT"), index=True)
    technology = relationship("Technology")
    sellable = Column(Boolean, nullable=False, default=True)
    # A sale opens an installation task (app.organizer.handlers); its completion activates the subscription.
    needs_installation = Column(Boolean, nullable=False, default=False, server_default=false())
    parameters = relationship(
        "ServiceParameter", back_populates="service", cascade="all, delete-orphan", order_by="ServiceParameter.name"
    )

    __table_args__ = (
        CheckConstraint("installation_fee >= 0 AND monthly_fee >= 0 AND extra_traffic_fee >= 0",
                        name="ck_service_money_not_negative"),
        CheckConstraint("currency IN ('EUR', 'BGN', 'USD')", name="ck_service_currency"),
        CheckConstraint("month_type IN ('fixed', 'floating')", name="ck_service_month_type"),
        CheckConstraint("username_type IN ('none', 'radius', 'email', 'ftp')", name="ck_service_username_type"),
        CheckConstraint("ip_count >= 0 AND warning_days >= 0 AND tolerance_days >= 0",
                        name="ck_service_counts_not_negative"),
        CheckConstraint("ipv6_delegated_length IS NULL OR ipv6_delegated_length IN (56, 60)",
                        name="ck_service_ipv6_delegated_length"),
        {"extend_existing": True},
    )

    @validates("installation_fee", "monthly_fee", "extra_traffic_fee")
    def _check_money(self, key, value):
        return check_amount(value if value is not None else 0)

    @validates("currency")
    def _check_currency(self, key, value):
        return check_currency(value)

    def monthly_price(self):
        """The monthly fee with its currency, as lists show it."""
        return format_money(self.monthly_fee, self.currency)

    def installation_price(self):
        return format_money(self.installation_fee, self.currency)

    def parameter(self, name, default=None):
        """The value of a free extra parameter (e.g. a RADIUS reply attribute)."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter.value
        return default

    def __str__(self):
        return self.name or ""


class ServiceParameter(Model):
    """A free name/value pair of a service, so a new parameter needs no code change."""

    __tablename__ = "service_parameter"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    service_id = Column(Integer, ForeignKey("service.id", ondelete="CASCADE"), nullable=False, index=True)
    service = relationship("Service", back_populates="parameters")
    name = Column(String(100), nullable=False)
    value = Column(String(500), nullable=False, default="")
    # RADIUS: the NAS makes it is sent to, "mikrotik,cisco"; empty: every make that knows the attribute
    # (app.radius.attributes). The form gives a list.
    nas_makes = Column(String(60))

    __table_args__ = (
        UniqueConstraint("service_id", "name", name="uq_service_parameter_name"),
        {"extend_existing": True},
    )

    @staticmethod
    def split_makes(text):
        """The NAS makes "mikrotik,cisco" names, ["mikrotik", "cisco"]; empty: none named."""
        return [make.strip() for make in (text or "").split(",") if make.strip()]

    @validates("nas_makes")
    def _join_makes(self, key, value):
        if isinstance(value, (list, tuple, set)):
            value = ",".join(str(item) for item in value)
        return (value or "").strip() or None

    def __str__(self):
        return f"{self.name}={self.value}"


# Which services an operator may sell; an empty list means every sellable one.
operator_service = Table(
    "operator_service",
    Model.metadata,
    Column("operator_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", Integer, ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
)
