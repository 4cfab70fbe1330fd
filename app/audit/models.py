"""The LOG's searchable index.

SQLAlchemy-Continuum keeps a full copy of every version of every business
record in its <table>_version tables, grouped by the `transaction` table
(who, when, from which IP). Listing "what changed" across all record types
from those tables would need a UNION over every version table and a
comparison with each previous version, so every change is also written here,
once, as a row with the changed fields old → new. Security events (logins,
refusals) that change no record are rows here too.
"""

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import JSON, select, BigInteger, Column, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship

from app.audit.formatting import SUMMARY_LINES, format_changes
from app.audit.plugin import log_entries_are
from app.core.formatting import utcnow


class LogEntry(Model):
    __tablename__ = "log_entry"

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    REFUSED = "refused"
    JOB = "job"
    OVERRIDE = "override"
    PERSONAL_DATA = "personal_data"
    SECRET_VIEWED = "secret_viewed"
    COLLECTOR = "collector"
    RADIUS_DROPPED = "radius_dropped"
    EXPORT = "export"
    SECOND_FACTOR = "second_factor"
    IMPORT = "import"
    PORTAL_LINK = "portal_link"

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    transaction_id = Column(BigInteger, index=True)
    issued_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    user = relationship("User", foreign_keys=[user_id])
    # The name typed at a failed login, or the operator's name when the
    # operator record is later deleted.
    username = Column(String(256))
    remote_addr = Column(String(50), index=True)
    entity_type = Column(String(100), index=True)
    entity_id = Column(String(100))
    entity_label = Column(String(500))
    operation = Column(String(20), nullable=False, index=True)
    changes = Column(JSON, nullable=False, default=dict)
    note = Column(String(500))

    __table_args__ = (
        Index("ix_log_entry_entity", "entity_type", "entity_id"),
        {"extend_existing": True},
    )

    @classmethod
    def dealer_scope(cls, dealer_id):
        """A dealer's operators see what they themselves did."""
        operators = User.__table__  # ab_user, with the dealer column the security module adds
        return cls.user_id.in_(select(operators.c.id).where(operators.c.dealer_id == dealer_id))

    def __str__(self):
        return f"{self.operation} {self.entity_type or ''} {self.entity_id or ''}".strip()

    def changes_display(self):
        """The changed fields, old → new, as the entry's page shows them."""
        return format_changes(self)

    def changes_summary(self):
        """The changed fields as the LOG's list shows them: a creation in a few lines."""
        return format_changes(self, limit=SUMMARY_LINES)


log_entries_are(LogEntry)
