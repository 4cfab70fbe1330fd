"""A client's access to the portal: the password's hash, its last login and failed attempts.

Not versioned: its changes (a password set or changed, a link sent, a login)
are LOG events written by app.portal.services with the acting subscriber or
operator, and the password's hash never reaches the LOG.
"""
from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from app.core.formatting import utcnow


class PortalAccess(Model):
    """One per client who was sent access; the password is empty until the client sets it by the link."""

    __tablename__ = "portal_access"

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("client.id", ondelete="CASCADE"), nullable=False, unique=True)
    client = relationship("Client")
    password_hash = Column(String(256))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    password_set_at = Column(DateTime)
    last_login_at = Column(DateTime)
    last_login_addr = Column(String(50))
    failed_logins = Column(Integer, nullable=False, default=0)  # since the last login
    # A password change or a logout ends every other session of the client (as app.security.logins does).
    session_generation = Column(Integer, nullable=False, default=0)

    def __str__(self):
        return f"№ {self.client.client_number}" if self.client is not None else f"№ {self.id}"
