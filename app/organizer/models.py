"""The organizer: task types with their ordered steps, and the technicians' tasks with copies of them.

A task copies its type's steps when it is created (TaskStep), so a later
edit of the type changes no existing task. A task's scheduled day and time
window are the office's wall-clock plan (Europe/Sofia), not moments; the
moments (created, a step marked, closed) are stored in UTC like everywhere.
"""
from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
)
from sqlalchemy.orm import relationship

from app.clients.models import OfAClient
from app.core.formatting import utcnow

# What a task type is for: the sale of a service that needs installation opens an installation task (and its
# completion activates the subscription); the client card's "Повреда" button opens a fault task.
PURPOSE_OTHER = "other"
PURPOSE_INSTALLATION = "installation"
PURPOSE_FAULT = "fault"
PURPOSES = (PURPOSE_OTHER, PURPOSE_INSTALLATION, PURPOSE_FAULT)

# What a step asks the technician for.
ASKS_NOTHING = "nothing"
ASKS_NOTE = "note"
ASKS_VALUE = "value"
ASKS = (ASKS_NOTHING, ASKS_NOTE, ASKS_VALUE)

OPEN = "open"
IN_PROGRESS = "in_progress"
DONE = "done"
CANCELLED = "cancelled"
TASK_STATUSES = (OPEN, IN_PROGRESS, DONE, CANCELLED)
CLOSED = (DONE, CANCELLED)

STEP_PENDING = "pending"
STEP_DONE = "done"
STEP_FAILED = "failed"
STEP_SKIPPED = "skipped"
STEP_STATUSES = (STEP_PENDING, STEP_DONE, STEP_FAILED, STEP_SKIPPED)

HIGH = "high"
NORMAL = "normal"
LOW = "low"
PRIORITIES = (HIGH, NORMAL, LOW)


class TaskType(Model):
    """A kind of task (new installation, fault, disconnection…) with its ordered steps."""

    __tablename__ = "task_type"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    purpose = Column(String(15), nullable=False, default=PURPOSE_OTHER)
    duration_minutes = Column(Integer, nullable=False, default=60)
    colour = Column(String(7), nullable=False, default="#337ab7")  # "#rrggbb"
    steps = relationship("TaskTypeStep", back_populates="task_type", cascade="all, delete-orphan",
                         order_by="TaskTypeStep.position")

    __table_args__ = (
        CheckConstraint("purpose IN ('other', 'installation', 'fault')", name="ck_task_type_purpose"),
        CheckConstraint("duration_minutes > 0", name="ck_task_type_duration"),
        {"extend_existing": True},
    )

    def __str__(self):
        return self.name or ""


class TaskTypeStep(Model):
    """One step of a task type: its place in the order, whether it is required, and what it asks for."""

    __tablename__ = "task_type_step"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    task_type_id = Column(Integer, ForeignKey("task_type.id", ondelete="CASCADE"), nullable=False, index=True)
    task_type = relationship("TaskType", back_populates="steps")
    position = Column(Integer, nullable=False, default=1)
    name = Column(String(150), nullable=False)
    required = Column(Boolean, nullable=False, default=True)
    asks = Column(String(10), nullable=False, default=ASKS_NOTHING)
    value_label = Column(String(100))  # "MAC на модема", "Ниво на сигнала, dBmV"

    __table_args__ = (
        CheckConstraint("asks IN ('nothing', 'note', 'value')", name="ck_task_type_step_asks"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.position}. {self.name}"


task_technician = Table(
    "task_technician",
    Model.metadata,
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("operator_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Task(OfAClient, Model):
    """A job at a client's: its type's steps copied, technicians assigned, a day and a time window."""

    __tablename__ = "task"
    # Continuum cannot version association tables cleanly; the LOG records
    # collection changes itself (app.audit.plugin.collection_changes).
    __versioned__ = {"exclude": ["technicians"]}

    id = Column(Integer, primary_key=True)
    task_type_id = Column(Integer, ForeignKey("task_type.id", ondelete="RESTRICT"), nullable=False, index=True)
    # Loaded for a whole page at once (lists print the type, client and technicians of every row).
    task_type = relationship("TaskType", lazy="selectin")
    client_id = Column(Integer, ForeignKey("client.id", ondelete="RESTRICT"), nullable=False, index=True)
    client = relationship("Client", lazy="selectin")
    subscription_id = Column(Integer, ForeignKey("subscription.id", ondelete="RESTRICT"), index=True)
    subscription = relationship("Subscription")
    address = Column(String(300))
    description = Column(Text)
    technicians = relationship("Operator", secondary=task_technician, order_by="Operator.first_name",
                               lazy="selectin")
    scheduled_on = Column(Date)
    time_from = Column(Time)
    time_to = Column(Time)
    duration_minutes = Column(Integer, nullable=False, default=60)
    priority = Column(String(10), nullable=False, default=NORMAL)
    status = Column(String(12), nullable=False, default=OPEN, index=True)
    # Opened by a sale: its completion activates the subscription (app.organizer.services.close_task).
    activates_subscription = Column(Boolean, nullable=False, default=False)
    cancel_reason = Column(String(300))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime)
    closed_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    closed_by = relationship("Operator", foreign_keys=[closed_by_id])
    steps = relationship("TaskStep", back_populates="task", cascade="all, delete-orphan",
                         order_by="TaskStep.position")

    __table_args__ = (
        CheckConstraint("status IN ('open', 'in_progress', 'done', 'cancelled')", name="ck_task_status"),
        CheckConstraint("priority IN ('high', 'normal', 'low')", name="ck_task_priority"),
        CheckConstraint("duration_minutes > 0", name="ck_task_duration"),
        # The day's plan and the week's load: the tasks of a day, by status.
        Index("ix_task_day_status", "scheduled_on", "status"),
        {"extend_existing": True},
    )

    @property
    def window(self):
        """The time window as the plan reads it: "09:00–11:00", or the one end known."""
        ends = [moment.strftime("%H:%M") for moment in (self.time_from, self.time_to) if moment]
        return "–".join(ends)

    @property
    def is_closed(self):
        return self.status in CLOSED

    @property
    def technician_names(self):
        """"Тодор, Петър": who goes (a plain join; Jinja's map filter cost the day's plan a quarter of its
        time at 400 tasks)."""
        return ", ".join(operator.first_name for operator in self.technicians)

    def __str__(self):
        kind = self.task_type.name if self.task_type else ""
        client = f" — {self.client.name}" if self.client else ""
        return f"№ {self.id} {kind}{client}"


class TaskStep(Model):
    """A task's own copy of one step of its type, with what the technician marked."""

    __tablename__ = "task_step"
    __versioned__ = {"exclude": ["request_key"]}

    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False, index=True)
    task = relationship("Task", back_populates="steps")
    position = Column(Integer, nullable=False)
    name = Column(String(150), nullable=False)
    required = Column(Boolean, nullable=False, default=True)
    asks = Column(String(10), nullable=False, default=ASKS_NOTHING)
    value_label = Column(String(100))
    status = Column(String(10), nullable=False, default=STEP_PENDING)
    note = Column(String(500))
    value = Column(String(200))
    marked_at = Column(DateTime)
    marked_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    marked_by = relationship("Operator")
    # The last update's key (the phone page's and the API's request_key): the same update resent changes nothing.
    request_key = Column(String(64))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed', 'skipped')", name="ck_task_step_status"),
        CheckConstraint("asks IN ('nothing', 'note', 'value')", name="ck_task_step_asks"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.position}. {self.name}"
