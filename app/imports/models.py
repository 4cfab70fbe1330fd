"""What an import keeps: each imported record's key in the old system, and the uploaded files."""
from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint

from app.core.formatting import utcnow

CLIENTS = "clients"
SUBSCRIPTIONS = "subscriptions"
BALANCES = "balances"
PAYMENTS = "payments"
KINDS = (CLIENTS, SUBSCRIPTIONS, BALANCES, PAYMENTS)


class ImportKey(Model):
    """An imported record's key in the old system (its client number, its subscription's id) and the values the
    last import gave it: the same row again changes nothing, a corrected row changes what was corrected."""

    __tablename__ = "import_key"

    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)
    # Whose old system the key is of: head office's ("office") or a dealer's ("dealer:7"); two may both have a "1".
    origin = Column(String(20), nullable=False)
    source_key = Column(String(100), nullable=False)
    # The Client's or Subscription's id; a balance's Charge or Payment id (its values say which); a Payment's.
    record_id = Column(Integer, nullable=False)
    imported_values = Column(JSON, nullable=False, default=dict)
    file_name = Column(String(200))
    row_number = Column(Integer)
    imported_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "origin", "source_key", name="uq_import_key_source"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.kind} {self.source_key}"


class ImportFile(Model):
    """A file uploaded on the import page: kept between its dry run and its run, with the latest report."""

    __tablename__ = "import_file"

    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)
    file_name = Column(String(200), nullable=False)
    content = Column(LargeBinary, nullable=False)
    dealer_id = Column(Integer, ForeignKey("dealer.id", ondelete="CASCADE"))
    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    uploaded_at = Column(DateTime, nullable=False, default=utcnow)
    report = Column(JSON)
    ran_at = Column(DateTime)

    __table_args__ = ({"extend_existing": True},)

    def __str__(self):
        return self.file_name
