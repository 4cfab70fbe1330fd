"""Messages the system sends (e-mail), each kept with its status: the notifications page lists them."""
from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from app.clients.models import OfAClient
from app.core.formatting import office_language, utcnow

PENDING = "pending"
# Claimed by a sender, before the SMTP conversation. A message left in it was
# interrupted (the process died mid-send): it may or may not have gone out,
# so it is never sent again on its own; the notifications page shows it.
SENDING = "sending"
SENT = "sent"
FAILED = "failed"  # the server refused or was unreachable; tried again until MAX_ATTEMPTS
STATUSES = (PENDING, SENDING, SENT, FAILED)
MAX_ATTEMPTS = 5


class Notification(OfAClient, Model):
    """One e-mail to one address. `key` names what it is about ("warning:<subscription>:<paid until>"):
    the same key is never queued twice, so a retried or repeated run sends nothing twice."""

    __tablename__ = "notification"

    id = Column(Integer, primary_key=True)
    key = Column(String(120), nullable=False, unique=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), index=True)
    client = relationship("Client", lazy="joined")  # the list shows it on every row
    recipient = Column(String(150), nullable=False)
    subject = Column(String(300), nullable=False)
    body = Column(Text, nullable=False)
    status = Column(String(10), nullable=False, default=PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    error = Column(String(500))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="ck_notification_status"),
        Index("ix_notification_status", "status", "id"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.subject} → {self.recipient}"


class MailTemplate(Model):
    """An e-mail's subject and text as the office has edited them (app.notifications.templates); without a
    row, the kind's default is used."""

    __tablename__ = "mail_template"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    kind = Column(String(50), nullable=False, unique=True)
    subject = Column(String(300), nullable=False)
    body = Column(Text, nullable=False)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __str__(self):
        """The kind's name ("Предупреждение за плащане"), as the LOG stores it, not its key ("warning")."""
        from app.notifications.templates import KINDS  # the kinds import this model

        kind = KINDS.get(self.kind)
        if kind is None:
            return self.kind or ""
        with office_language():
            return str(kind.name)
