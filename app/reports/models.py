"""An export being written or ready to download (app.reports.exports)."""
from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from app.core.formatting import utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class Export(Model):
    """One export an operator asked for: what (a report or a list, with the filters on screen, as the query
    string it was asked with), in which format, how far it got, and the file once written.

    Not versioned: asking for an export is a LOG event (who, what, which filters), and the row itself is
    working state that the cleanup removes with its file.
    """

    __tablename__ = "export"

    id = Column(Integer, primary_key=True)
    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    operator = relationship("Operator")
    source = Column(String(100), nullable=False)  # "report:revenue", "list:PaymentView"
    title = Column(String(200), nullable=False)
    query_string = Column(Text, nullable=False, default="")
    fmt = Column(String(4), nullable=False)
    status = Column(String(10), nullable=False, default=QUEUED)
    rows_done = Column(Integer, nullable=False, default=0)
    rows_total = Column(Integer)
    file_name = Column(String(200))
    error = Column(String(500))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)

    __table_args__ = (
        CheckConstraint("fmt IN ('csv', 'xlsx', 'pdf')", name="ck_export_fmt"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_export_status"),
        {"extend_existing": True},
    )

    def __str__(self):
        """As the LOG names an export: "Клиенти (CSV)"."""
        return f"{self.title or ''} ({(self.fmt or '').upper()})"
