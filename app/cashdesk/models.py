"""The cash desk's handover record."""

from flask_appbuilder import Model
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from app.core.formatting import format_date, utcnow


class CashDeskClosing(Model):
    """An operator's day handed over: the totals by method and currency at closing time."""

    __tablename__ = "cash_desk_closing"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    operator_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"), nullable=False)
    operator = relationship("Operator", foreign_keys=[operator_id])
    day = Column(Date, nullable=False)
    closed_at = Column(DateTime, nullable=False, default=utcnow)
    closed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="RESTRICT"), nullable=False)
    closed_by = relationship("Operator", foreign_keys=[closed_by_id])
    # [{"method": …, "currency": …, "count": n, "total": "12.50"}, …]
    totals = Column(Text, nullable=False)
    note = Column(String(500))

    __table_args__ = (
        UniqueConstraint("operator_id", "day", name="uq_cash_desk_closing_day"),
        {"extend_existing": True},
    )

    def __str__(self):
        """As the LOG names a closed day: "Мария Иванова 06.12.2026"."""
        return f"{self.operator or ''} {format_date(self.day)}".strip()
