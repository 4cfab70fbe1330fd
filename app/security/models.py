"""Operators: Flask-AppBuilder's users, extended with their dealer."""
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship
from sqlalchemy_continuum import versioning_manager

# FAB defines User before versioning could see it, so it is put under
# versioning here, before mappers are configured. Login bookkeeping changes
# on every login; it is not a change of the operator and stays out of the
# versions and the LOG. The password hash is logged only as "changed".
User.__versioned__ = {
    "exclude": [
        "last_login",
        "login_count",
        "fail_login_count",
        "created_on",
        "changed_on",
        "created_by_fk",
        "changed_by_fk",
        # Continuum cannot version FAB's association tables (their surrogate
        # ids have no default in a version table); the LOG records role
        # changes itself (app.audit.plugin.collection_changes).
        "roles",
        "groups",
        "allowed_services",
    ]
}
# The password hash and the second factor's key show only as "changed".
User.__log_masked__ = ("password", "totp_secret")
versioning_manager.builder.instrument_versioned_classes(User.__mapper__, User)


class Operator(User):
    """An operator of head office (no dealer) or of one dealer.

    Single-table inheritance: the extra columns live in FAB's ab_user, so
    FAB's login, JWT and role machinery work on operators unchanged.
    """

    dealer_id = Column(
        Integer, ForeignKey("dealer.id", name="fk_ab_user_dealer_id", ondelete="RESTRICT"), index=True
    )
    dealer = relationship("Dealer", foreign_keys=[dealer_id])
    # The key of the operator's authenticator app (base32), once enrolled.
    totp_secret = Column(String(64))
    # Services this operator may sell; empty means every sellable service.
    allowed_services = relationship("Service", secondary="operator_service", order_by="Service.name")

    @classmethod
    def dealer_scope(cls, dealer_id):
        return cls.dealer_id == dealer_id

    def __str__(self):
        return self.get_full_name()


class AppliedRoleGrant(Model):
    """A default grant of a built-in role that init-roles has applied once.

    Remembering it means a right an administrator removes in the panel is
    not given back by the next deployment, while a new module's defaults
    still reach the existing roles.
    """

    __tablename__ = "applied_role_grant"

    id = Column(Integer, primary_key=True)
    role_name = Column(String(64), nullable=False)
    permission = Column(String(100), nullable=False)
    view_menu = Column(String(250), nullable=False)

    __table_args__ = (
        UniqueConstraint("role_name", "permission", "view_menu", name="uq_applied_role_grant"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.role_name}: {self.permission} {self.view_menu}"


class OperatorLogin(Model):
    """An operator's login machinery, apart from the operator's record (so neither versioned nor in the LOG).

    Continuum builds ab_user's versions from FAB's User class and cannot
    leave out a column that only Operator maps; these change at every login
    and logout and are no change of the operator.
    """

    __tablename__ = "operator_login"

    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    # The time-step of the last one-time code accepted: a code of it or before is used up.
    totp_last_step = Column(BigInteger)
    # A panel session is valid while it carries this number; a logout increments it.
    session_generation = Column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = ({"extend_existing": True},)

    def __str__(self):
        return f"№ {self.operator_id}"
