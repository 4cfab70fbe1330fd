"""The organizer's operations: task types, tasks and their steps, the day's plan and the week's load.

Who sees and changes a task: an operator with the right "plan tasks" every
task of their dealer scope; any other operator (a technician) only the tasks
assigned to them. Every operation takes the acting operator first, raises
FieldErrors with the reason and stores nothing when refused, and flushes.
"""
import re
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from flask_babel import gettext
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from app.addresses.models import Block, Neighbourhood
from app.clients.models import ACTIVE as SUBSCRIPTION_ACTIVE
from app.clients.models import TERMINATED as SUBSCRIPTION_TERMINATED
from app.clients.models import PENDING as SUBSCRIPTION_PENDING
from app.clients.models import Client
from app.clients.subscriptions import change_status_as_consequence
from app.core.errors import FieldErrors
from app.core.formatting import local_today, office_language, utcnow
from app.core.scoping import dealer_of, in_scope, refuse_out_of_scope, scope
from app.core import validators
from app.core.validators import InvalidValue, as_id
from app.extensions import db
from app.networks.services import normalize_mac
from app.organizer.models import (
    ASKS,
    ASKS_VALUE,
    CANCELLED,
    CLOSED,
    DONE,
    HIGH,
    IN_PROGRESS,
    NORMAL,
    OPEN,
    PRIORITIES,
    PURPOSE_FAULT,
    PURPOSE_INSTALLATION,
    PURPOSES,
    STEP_DONE,
    STEP_PENDING,
    STEP_SKIPPED,
    STEP_STATUSES,
    Task,
    TaskStep,
    TaskType,
    task_technician,
)
from app.security.models import Operator
from app.security.permissions import ADD_SUBSCRIPTIONS, PLAN_TASKS, REPORT_FAULTS, RIGHTS, TECHNICIAN
from app.security.rights import holding_access, may, may_access

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_DURATION = 24 * 60


# --- task types -----------------------------------------------------------------------------------------------

def task_type_errors(record):
    """Rules for a task type (or a form's values with the same names), as {field: [message]}."""
    errors = {}
    duration = getattr(record, "duration_minutes", None)
    if duration is not None and not 0 < duration <= MAX_DURATION:
        errors["duration_minutes"] = [gettext("From 1 to %(max)d minutes.", max=MAX_DURATION)]
    colour = getattr(record, "colour", None)
    if colour and not COLOUR.match(colour):
        errors["colour"] = [gettext("A colour is written #rrggbb, e.g. #337ab7.")]
    purpose = getattr(record, "purpose", None)
    if purpose and purpose not in PURPOSES:
        errors["purpose"] = [gettext("Unknown purpose.")]
    return errors


def task_type_step_errors(record):
    """Rules for a step of a task type: a value step names what it asks for."""
    errors = {}
    asks = getattr(record, "asks", None)
    if asks and asks not in ASKS:
        errors["asks"] = [gettext("Unknown choice.")]
    if asks == ASKS_VALUE and not (getattr(record, "value_label", None) or "").strip():
        errors["value_label"] = [gettext("Name the value the step asks for, e.g. Modem MAC.")]
    position = getattr(record, "position", None)
    if position is not None and position < 1:
        errors["position"] = [gettext("The order is a whole number from 1.")]
    return errors


def type_for(purpose):
    """The task type a sale (installation) or the card's fault button opens: the first of that purpose."""
    return db.session.scalar(select(TaskType).where(TaskType.purpose == purpose).order_by(TaskType.id).limit(1))


# --- who sees what --------------------------------------------------------------------------------------------

def plans_tasks(actor):
    return may(actor, PLAN_TASKS)


def visible_tasks(query, actor):
    """`query` over Task limited to what the actor sees: the dealer's tasks for a planner, else the own ones."""
    query = scope(query, actor, Task)
    if not plans_tasks(actor):
        mine = select(task_technician.c.task_id).where(task_technician.c.operator_id == getattr(actor, "id", None))
        query = query.filter(Task.id.in_(mine))
    return query


def may_work_on(actor, task):
    """True when the actor may mark the task's steps and close it: a planner in scope, or an assigned technician."""
    if task is None or actor is None or not in_scope(task, actor):
        return False
    return plans_tasks(actor) or any(operator.id == actor.id for operator in task.technicians)


def may_add_tasks(actor):
    """Adding a task by hand: the "add" permission of tasks and the right to plan tasks."""
    return may_access(actor, "can_add", "Task") and plans_tasks(actor)


def may_report_faults(actor):
    """Logging a fault from the card: the right to log faults (a cashier's), or to add tasks (a planner's)."""
    return may(actor, REPORT_FAULTS) or may_add_tasks(actor)


def _visible_of_client(query, actor):
    """A client's tasks on the card: a desk that logs the client's faults sees them all in its dealer scope (to
    say when the technician comes); anyone else what visible_tasks gives."""
    if may(actor, REPORT_FAULTS):
        return scope(query, actor, Task)
    return visible_tasks(query, actor)


def may_change_task(actor, task):
    """Changing a task's fields: the "edit" permission of tasks, the right to plan tasks, the task in scope."""
    return may_access(actor, "can_edit", "Task") and plans_tasks(actor) and in_scope(task, actor)


def may_mark_steps(actor, task):
    """Marking the task's steps and closing it: the "mark steps, close" permission, and the task is the
    actor's to work on (may_work_on)."""
    return may_access(actor, "can_work", "Task") and may_work_on(actor, task)


def may_cancel_task(actor, task):
    """Cancelling a task: the "cancel" permission of tasks, the right to plan tasks, the task in scope."""
    return may_access(actor, "can_cancel", "Task") and plans_tasks(actor) and task is not None \
        and in_scope(task, actor)


def visible_task(actor, task_id):
    """The task with this id when the actor sees it, else None."""
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        return None
    return db.session.scalar(visible_tasks(select(Task).where(Task.id == task_id), actor))


# --- tasks ----------------------------------------------------------------------------------------------------

TASK_FIELDS = ("task_type", "client", "subscription", "address", "description", "technicians", "scheduled_on",
               "time_from", "time_to", "priority", "duration_minutes")


def create_task(actor, *, task_type=None, client=None, subscription=None, address=None, description=None,
                technicians=(), scheduled_on=None, time_from=None, time_to=None, priority=NORMAL,
                duration_minutes=None, activates_subscription=False, check_right=True):
    """A new task of `task_type` for `client`, with its own copy of the type's steps. Flushes; FieldErrors.

    The address defaults to the subscription's delivery address, then the
    client's. A task of the installation type for a subscription activates
    it when done. `check_right=False` is for tasks the system opens on its
    own (a sale's installation task).
    """
    if check_right and not may_add_tasks(actor):
        raise FieldErrors({"task_type": [gettext("You do not have the right to add tasks.")]})
    with db.session.no_autoflush:
        task = Task(task_type=task_type, client=client, subscription=subscription, description=description or None,
                    technicians=list(technicians or []), scheduled_on=scheduled_on, time_from=time_from,
                    time_to=time_to, priority=priority or NORMAL, status=OPEN,
                    activates_subscription=subscription is not None and bool(
                        activates_subscription or getattr(task_type, "purpose", None) == PURPOSE_INSTALLATION))
        task.duration_minutes = duration_minutes or (task_type.duration_minutes if task_type else 60)
        task.address = (address or "").strip() or _address_of(client, subscription)
        _refuse_invalid(actor, task)
        for step in task_type.steps:
            task.steps.append(TaskStep(position=step.position, name=step.name, required=step.required,
                                       asks=step.asks, value_label=step.value_label, status=STEP_PENDING))
    db.session.add(task)
    db.session.flush()
    return task


def report_fault(actor, client, description, subscription=None):
    """A fault the client reports, logged from the card: a task of the fault type, urgent, with no technician or
    day yet, so it is among the unplanned tasks of the client's dealer. Flushes; FieldErrors."""
    if not may_report_faults(actor):
        raise FieldErrors({"description": [gettext("You do not have the right to log faults.")]})
    description = _text(description, 2000)
    if not description:
        raise FieldErrors({"description": [gettext("Say what does not work, as the client tells it.")]})
    if subscription is not None and (client is None or subscription.client_id != client.id):
        raise FieldErrors({"subscription": [gettext("A task covers only its own client's subscriptions.")]})
    fault = type_for(PURPOSE_FAULT)
    if fault is None:
        raise FieldErrors({"description": [gettext("There is no task type for faults: an administrator adds one "
                                                   "with the purpose Fault (Организатор → Видове задачи).")]})
    return create_task(actor, task_type=fault, client=client, subscription=subscription,
                       description=description, priority=HIGH, check_right=False)


def _address_of(client, subscription):
    if subscription is not None and subscription.delivery_address:
        return subscription.delivery_address
    return client.address() if client is not None else None


def update_task(actor, task, **fields):
    """Change a task's plan: subscription, address, description, technicians, day, window, priority.

    A task stays with its client and its type (its steps are the type's copy). Flushes; FieldErrors.
    """
    if not may_change_task(actor, task):
        raise FieldErrors({"description": [gettext("You do not have the right to change tasks.")]})
    if task.is_closed:
        raise FieldErrors({"description": [gettext("A closed task cannot be changed.")]})
    if "client" in fields and fields["client"] is not task.client:
        raise FieldErrors({"client": [gettext("A task stays with its client.")]})
    if "task_type" in fields and fields["task_type"] is not task.task_type:
        raise FieldErrors({"task_type": [gettext("A task keeps its type; cancel it and open another.")]})
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise FieldErrors({name: [gettext("This field cannot be changed here.")] for name in unknown})
    with db.session.no_autoflush:
        for name, value in fields.items():
            setattr(task, name, value)
        if not task.address:
            task.address = _address_of(task.client, task.subscription)
        _refuse_invalid(actor, task)
    db.session.flush()
    return task


def _refuse_invalid(actor, task):
    errors = {}
    if task.task_type is None:
        errors["task_type"] = [gettext("Choose the task type.")]
    if task.client is None:
        errors["client"] = [gettext("Choose the client.")]
    if errors:
        raise FieldErrors(errors)
    refuse_out_of_scope(task, actor)
    if task.subscription is not None and task.subscription.client_id != task.client.id:
        errors["subscription"] = [gettext("A task covers only its own client's subscriptions.")]
    if task.priority not in PRIORITIES:
        errors["priority"] = [gettext("Unknown priority.")]
    if task.technicians:
        allowed = set(db.session.scalars(scope(select(Operator.id).where(
            works_tasks(), Operator.id.in_([operator.id for operator in task.technicians])), actor, Operator)))
        refused = [operator for operator in task.technicians if operator.id not in allowed]
        if refused:
            errors["technicians"] = [gettext("%(names)s cannot be given tasks (another dealer's, inactive, or "
                                             "without the technician's page).",
                                             names=", ".join(operator.username for operator in refused))]
    if task.duration_minutes is not None and not 0 < task.duration_minutes <= MAX_DURATION:
        errors["duration_minutes"] = [gettext("From 1 to %(max)d minutes.", max=MAX_DURATION)]
    if (task.time_from or task.time_to) and task.scheduled_on is None:
        errors["scheduled_on"] = [gettext("A time window needs its day.")]
    if task.time_from and task.time_to and task.time_to <= task.time_from:
        errors["time_to"] = [gettext("The window ends after it starts.")]
    if errors:
        raise FieldErrors(errors)


@dataclass
class StepUpdate:
    """What mark_step did: the step, and whether anything changed (a resent update changes nothing)."""

    step: TaskStep
    changed: bool
    warnings: list = field(default_factory=list)


def mark_step(actor, step, status, note=None, value=None, request_key=None):
    """Mark a step done, failed, skipped (optional steps only) or pending again, with its note or value.

    The same update sent again — the same request key, or the same target
    state — changes nothing. The first mark puts the task in progress; the
    mark that leaves no step pending with every required step done closes it.
    Flushes; FieldErrors.
    """
    task = step.task
    if not may_mark_steps(actor, task):
        raise FieldErrors({"status": [gettext("This task is not assigned to you.")]})
    request_key = (str(request_key).strip()[:64] or None) if request_key not in (None, "") else None
    if request_key is not None and step.request_key == request_key:
        return StepUpdate(step, False)
    note, value = _text(note, 500), _text(value, 200)
    if task.is_closed:
        if (status, note or step.note, value or step.value) == (step.status, step.note, step.value):
            return StepUpdate(step, False)
        raise FieldErrors({"status": [gettext("The task is closed; its steps do not change any more.")]})
    if status not in STEP_STATUSES:
        raise FieldErrors({"status": [gettext("Unknown step status.")]})
    if status == STEP_SKIPPED and step.required:
        raise FieldErrors({"status": [gettext("The step „%(step)s“ is required and cannot be skipped.",
                                              step=step.name)]})
    note = note if note is not None else step.note
    value = value if value is not None else step.value
    if value and asks_mac(step):
        value = checked_mac(step, value)
    if status == STEP_DONE and step.asks == ASKS_VALUE and not value:
        raise FieldErrors({"value": [gettext("Enter %(label)s.", label=step.value_label or gettext("the value"))]})
    if (status, note, value) == (step.status, step.note, step.value):
        if request_key is not None:
            step.request_key = request_key
        return StepUpdate(step, False)
    step.status, step.note, step.value = status, note, value
    step.marked_at = utcnow() if status != STEP_PENDING else None
    step.marked_by_id = actor.id if status != STEP_PENDING else None
    step.request_key = request_key
    if task.status == OPEN:
        task.status = IN_PROGRESS
    db.session.flush()
    if status == STEP_DONE:
        bind_installed_mac(actor, step)
    warnings = []
    if all(s.status != STEP_PENDING for s in task.steps) and not missing_required_steps(task):
        warnings = close_task(actor, task)
    return StepUpdate(step, True, warnings)


def _text(value, limit):
    """Typed text, trimmed; None for nothing (or anything that is not text)."""
    return (value.strip()[:limit] or None) if isinstance(value, str) else None


def missing_required_steps(task):
    """The required steps not done yet: while there are any, the task cannot be closed."""
    return [step for step in task.steps if step.required and step.status != STEP_DONE]


def _closed(actor, task, status):
    """Closes the task as `status` (done or cancelled); the subscription its installation was for when that sale
    still awaits it (the caller activates or ends it), else None."""
    task.status = status
    task.closed_at = utcnow()
    task.closed_by_id = actor.id
    db.session.flush()
    subscription = task.subscription
    if task.activates_subscription and subscription is not None and subscription.status == SUBSCRIPTION_PENDING:
        return subscription
    return None


def close_task(actor, task):
    """The task done. Refused while a required step is not done. An installation opened by a sale activates its
    subscription (through the subscription's status change, in the LOG). Closing a done task again changes nothing.

    Returns messages for the operator. Flushes; FieldErrors.
    """
    if not may_mark_steps(actor, task):
        raise FieldErrors({"status": [gettext("This task is not assigned to you.")]})
    if task.status == DONE:
        return []
    if task.status == CANCELLED:
        raise FieldErrors({"status": [gettext("A cancelled task cannot be closed.")]})
    missing = missing_required_steps(task)
    if missing:
        raise FieldErrors({"status": [gettext("Not done yet: %(steps)s.", steps=", ".join(s.name for s in missing))]})
    subscription = _closed(actor, task, DONE)
    if subscription is not None:
        with office_language():
            reason = gettext("Installed (task No. %(number)s).", number=task.id)
        change_status_as_consequence(actor, subscription, SUBSCRIPTION_ACTIVE, reason, right=("can_work", "Task"))
        return [gettext("The service %(service)s is active.", service=subscription.service.name)]
    return []


def cancel_task(actor, task, reason):
    """Cancel a task, saying why. A cancelled installation activates nothing: the sale it was for ends
    (terminated, with the reason), and what the sale charged is cancelled. Cancelling again changes nothing."""
    if not may_cancel_task(actor, task):
        raise FieldErrors({"cancel_reason": [gettext("You do not have the right to cancel tasks.")]})
    # A cancel says why, a repeated one too: the same request is refused or taken whatever the task's state.
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise FieldErrors({"cancel_reason": [gettext("Say why the task is cancelled.")]})
    if task.status == CANCELLED:
        return task
    if task.status == DONE:
        raise FieldErrors({"cancel_reason": [gettext("A done task cannot be cancelled.")]})
    task.cancel_reason = reason[:300]
    subscription = _closed(actor, task, CANCELLED)
    if subscription is not None:
        # The sale never started: it ends here, and billing cancels what it charged (with this reason).
        with office_language():
            why = gettext("Installation cancelled (task No. %(number)s): %(reason)s", number=task.id,
                          reason=task.cancel_reason)
        change_status_as_consequence(actor, subscription, SUBSCRIPTION_TERMINATED, why, right=("can_cancel", "Task"))
    return task


def open_installation_task(actor, subscription):
    """The installation task a sale of a service that needs installation opens; its completion activates the
    subscription. Returns a message for the operator when no task type is meant for installations.

    A consequence of the sale: the seller needs the right to add subscriptions, not the right to add tasks.
    """
    if not may(actor, ADD_SUBSCRIPTIONS):
        raise FieldErrors({"service": [gettext("You do not have the right to add services to clients.")]})
    if not subscription.service.needs_installation:
        return None
    task_type = type_for(PURPOSE_INSTALLATION)
    if task_type is None:
        return gettext("No task type is for installations: open the installation task by hand.")
    with office_language():
        description = gettext("Installation of %(service)s", service=subscription.service.name)
    create_task(actor, task_type=task_type, client=subscription.client, subscription=subscription,
                description=description,
                activates_subscription=True, check_right=False)
    return None


# --- lists: the card, the home page, the day's plan, the week -------------------------------------------------

PlanStep = namedtuple("PlanStep", "task_id position name required asks value_label status note value")


def task_list(actor, *, day=None, client=None, technician=None, open_only=False, limit=None, steps="records"):
    """Tasks the actor sees, in the order of the day's plan: day, time window, neighbourhood, block, number
    (the tasks without a day or window last).

    The client card, the home page's today and the phone page read this
    (the day's plan reads the same list as rows: day_plan). `steps`:
    "records" loads each task's TaskStep records (the pages that mark
    them); "none" loads none.
    """
    query = select(Task).options(selectinload(Task.technicians), selectinload(Task.task_type),
                                 selectinload(Task.client), selectinload(Task.subscription))
    if steps == "records":
        query = query.options(selectinload(Task.steps))
    query = _in_plan_order(query, actor, day=day, client=client, technician=technician, open_only=open_only)
    if limit:
        query = query.limit(limit)
    return db.session.scalars(query).unique().all()


def task_count_query(actor, *, client):
    """SELECT of how many of `client`'s tasks the actor sees (task_list's rows)."""
    return _visible_of_client(select(func.count(Task.id)).where(Task.client_id == client.id), actor)


def _in_plan_order(query, actor, *, day=None, client=None, technician=None, open_only=False):
    """`query` (of Task or of its columns) limited to the tasks the actor sees and the filters, in the
    order of the round."""
    query = (query.join(Client, Client.id == Task.client_id)
             .outerjoin(Block, Block.id == Client.block_id)
             .outerjoin(Neighbourhood, Neighbourhood.id == Block.neighbourhood_id))
    query = _visible_of_client(query, actor) if client is not None else visible_tasks(query, actor)
    if day is not None:
        query = query.where(Task.scheduled_on == day)
    if client is not None:
        query = query.where(Task.client_id == client.id)
    if technician is not None:
        query = query.where(Task.id.in_(select(task_technician.c.task_id)
                                        .where(task_technician.c.operator_id == technician.id)))
    if open_only:
        query = query.where(Task.status.not_in(CLOSED))
    return query.order_by(
        case((Task.scheduled_on.is_(None), 1), else_=0), Task.scheduled_on,
        case((Task.time_from.is_(None), 1), else_=0), Task.time_from,
        # Block numbers in their natural order (12 before 105): shorter first, then by text.
        Neighbourhood.name, func.length(Block.name), Block.name, Task.id,
    )


@dataclass
class PlanTask:
    """A task as the printed plan reads it: read-only, with its type, client, technicians and steps."""

    id: int
    priority: str
    status: str
    address: str
    description: str
    time_from: object
    time_to: object
    client_id: int
    task_type: object  # .name, .colour
    client: object  # .name, .client_number, .phone
    technician_names: str = ""
    plan_steps: list = field(default_factory=list)

    window = Task.window


def day_plan(actor, day, technician=None):
    """Задачи за деня as rows (screen and PDF): a whole day's 400 tasks and their 2,000 steps in three
    queries and no records — building them as records was half the page's time."""
    query = _in_plan_order(
        select(Task.id, Task.priority, Task.status, Task.address, Task.description, Task.time_from, Task.time_to,
               Task.client_id, TaskType.name.label("type_name"), TaskType.colour, Client.name.label("client_name"),
               Client.client_number, Client.phone).join(TaskType, TaskType.id == Task.task_type_id),
        actor, day=day, technician=technician)
    tasks = [PlanTask(id=row.id, priority=row.priority, status=row.status, address=row.address,
                      description=row.description, time_from=row.time_from, time_to=row.time_to,
                      client_id=row.client_id, task_type=SimpleNamespace(name=row.type_name, colour=row.colour),
                      client=SimpleNamespace(name=row.client_name, client_number=row.client_number, phone=row.phone))
             for row in db.session.execute(query)]
    by_id = {task.id: task for task in tasks}
    if not by_id:
        return tasks
    names = {}
    for task_id, first_name in db.session.execute(
            select(task_technician.c.task_id, Operator.first_name)
            .join(Operator, Operator.id == task_technician.c.operator_id)
            .where(task_technician.c.task_id.in_(by_id)).order_by(Operator.first_name)):
        names.setdefault(task_id, []).append(first_name)
    for task_id, first_names in names.items():
        by_id[task_id].technician_names = ", ".join(first_names)
    for row in db.session.execute(select(*(getattr(TaskStep, name) for name in PlanStep._fields))
                                  .where(TaskStep.task_id.in_(by_id)).order_by(TaskStep.task_id, TaskStep.position)):
        by_id[row.task_id].plan_steps.append(PlanStep(*row))
    return tasks


def works_tasks():
    """SQL condition on Operator: whom a task can be given to — active, and a technician: holding the
    technician's role, or a role with the technician's page (Task's can_mine) without planning tasks. An
    administrator, a dealer's administrator or a cashier is not offered."""
    planner = holding_access(Operator, *RIGHTS[PLAN_TASKS])
    return and_(Operator.active.is_(True),
                or_(Operator.roles.any(Role.name == TECHNICIAN),
                    and_(holding_access(Operator, "can_mine", "Task"), ~planner)))


def planned_technicians(actor):
    """The operators a planner may put on tasks (their dealer's, who work tasks), by name."""
    query = scope(select(Operator).where(works_tasks()), actor, Operator)
    return db.session.scalars(query.order_by(Operator.first_name, Operator.last_name)).all()


@dataclass
class WeekLoad:
    technician: Operator
    days: list  # [(day, tasks, minutes)] Monday to Sunday

    @property
    def total_tasks(self):
        return sum(tasks for _day, tasks, _minutes in self.days)

    @property
    def total_minutes(self):
        return sum(minutes for _day, _tasks, minutes in self.days)


def week_start(day):
    return day - timedelta(days=day.weekday())


def week_load(actor, monday, technician=None):
    """Per technician, per day of the week from `monday`: the tasks not cancelled and their planned minutes."""
    days = [monday + timedelta(days=offset) for offset in range(7)]
    query = (
        select(task_technician.c.operator_id, Task.scheduled_on, func.count(Task.id), func.sum(Task.duration_minutes))
        .select_from(Task)
        .join(task_technician, task_technician.c.task_id == Task.id)
        .where(Task.scheduled_on >= days[0], Task.scheduled_on <= days[-1], Task.status != CANCELLED)
        .group_by(task_technician.c.operator_id, Task.scheduled_on)
    )
    query = visible_tasks(query, actor)
    if technician is not None:
        query = query.where(task_technician.c.operator_id == technician.id)
    counts = {}
    for operator_id, day, tasks, minutes in db.session.execute(query):
        counts[(operator_id, day)] = (tasks, int(minutes or 0))
    if technician is not None:
        technicians = [technician]
    elif plans_tasks(actor):
        ids = {operator_id for operator_id, _day in counts}
        technicians = [op for op in planned_technicians(actor) if op.id in ids]
    else:
        technicians = [actor]
    return [WeekLoad(op, [(day, *counts.get((op.id, day), (0, 0))) for day in days]) for op in technicians]


# --- planning: the tasks with no technician or no day, and giving them both --------------------------------------

def _unplanned(query):
    """`query` over Task limited to the open tasks that miss a technician or a day (a sale's installation task
    is opened so): they are on no day's plan until planned."""
    return query.where(Task.status.not_in(CLOSED), or_(Task.scheduled_on.is_(None), ~Task.technicians.any()))


def unplanned_tasks(actor, limit=None):
    """Непланирани: the open tasks the actor sees with no technician or no day, the urgent and the oldest
    first."""
    query = _unplanned(visible_tasks(select(Task), actor)).options(
        selectinload(Task.technicians), selectinload(Task.task_type), selectinload(Task.client))
    query = query.order_by(case((Task.priority == HIGH, 0), (Task.priority == NORMAL, 1), else_=2),
                           Task.created_at, Task.id)
    if limit:
        query = query.limit(limit)
    return db.session.scalars(query).unique().all()


def unplanned_count(actor):
    """How many tasks unplanned_tasks lists for the actor (the home page's and the day plan's link)."""
    return db.session.scalar(_unplanned(visible_tasks(select(func.count(Task.id)), actor))) or 0


def may_plan(actor, task):
    """True when the actor may give the task its technician and day: a planner with the right to change
    tasks, in the task's dealer scope, while the task is open."""
    return (task is not None and not task.is_closed and plans_tasks(actor)
            and may_access(actor, "can_edit", "Task") and in_scope(task, actor))


def technicians_for(actor, task):
    """The technicians a task can be given to: the task's dealer's (head office's for a head-office
    client), and for a head-office planner head office's own too; within the actor's scope, by name."""
    dealer_id = task.client.dealer_id if task.client is not None else None
    if dealer_id is None:
        ours = Operator.dealer_id.is_(None)
    elif dealer_of(actor) is None:
        ours = or_(Operator.dealer_id == dealer_id, Operator.dealer_id.is_(None))
    else:
        ours = Operator.dealer_id == dealer_id
    query = scope(select(Operator).where(works_tasks(), ours), actor, Operator)
    return db.session.scalars(query.order_by(Operator.first_name, Operator.last_name, Operator.id)).all()


def plan_task(actor, task, *, technician, day, time_from=None, time_to=None):
    """Give an open task its technician, its day (dd.mm.yyyy, from today on) and a time (24-hour hh:mm), so
    that it is on that day's plan and the technician's phone. Typed values are read by the panel's one
    parser (parse_day, parse_time). The technician is one of technicians_for(actor, task). The change is in
    the LOG like any change of a task. Flushes; FieldErrors (nothing stored)."""
    if task is None or not (plans_tasks(actor) and may_access(actor, "can_edit", "Task")) \
            or not in_scope(task, actor):
        raise FieldErrors({"technician": [gettext("You do not have the right to plan tasks.")]})
    if task.is_closed:
        raise FieldErrors({"technician": [gettext("A closed task cannot be changed.")]})
    errors = {}
    if isinstance(technician, (str, int)) and not isinstance(technician, bool):
        technician = db.session.get(Operator, as_id(technician)) if as_id(technician) else None
    if technician is None:
        errors["technician"] = [gettext("Choose the technician.")]
    elif technician.id not in {operator.id for operator in technicians_for(actor, task)}:
        errors["technician"] = [gettext("%(name)s is not a technician of this task's dealer.",
                                        name=_full_name(technician))]
    values = {}
    # The panel's one reading of a typed day and time (app.core.validators).
    for name, read, typed in (("scheduled_on", validators.parse_day, day),
                              ("time_from", validators.parse_time, time_from),
                              ("time_to", validators.parse_time, time_to)):
        try:
            values[name] = read(typed) if name == "scheduled_on" else read(typed, None)
        except InvalidValue as error:
            errors[name] = [str(error.message)]
    if "scheduled_on" in values and values["scheduled_on"] < local_today():
        errors["scheduled_on"] = [gettext("The day has passed: plan for today or a later day.")]
    if values.get("time_from") and values.get("time_to") and values["time_to"] <= values["time_from"]:
        errors["time_to"] = [gettext("The window ends after it starts.")]
    if values.get("time_to") and not values.get("time_from") and "time_from" not in errors:
        errors["time_from"] = [gettext("Enter the time as hh:mm (24 hours), e.g. 15:30.")]
    if errors:
        raise FieldErrors(errors)
    with db.session.no_autoflush:
        task.technicians = [technician]
        for name, value in values.items():
            setattr(task, name, value)
        _refuse_invalid(actor, task)
    db.session.flush()
    return task


def _full_name(operator):
    return f"{operator.first_name} {operator.last_name}".strip() or operator.username


# --- a MAC typed at a step ----------------------------------------------------------------------------------------

MAC_LABEL = re.compile(r"\bMAC\b", re.IGNORECASE)
# The purposes whose MAC step puts a modem at the client's: an installation, a fault's replacement.
MAC_BINDING_PURPOSES = (PURPOSE_INSTALLATION, PURPOSE_FAULT)


def asks_mac(step):
    """A value step whose label names a MAC ("MAC на модема") takes a MAC address."""
    return step.asks == ASKS_VALUE and bool(MAC_LABEL.search(step.value_label or ""))


def checked_mac(step, value):
    """The value of a MAC step written AA:BB:CC:DD:EE:FF (as NASes and the card write it); FieldErrors for
    anything that is no MAC ("zz-12")."""
    mac = normalize_mac(value)
    if mac is None:
        raise FieldErrors({"value": [gettext("%(label)s: a MAC address has 12 hexadecimal digits, e.g. "
                                             "AA:BB:CC:DD:EE:FF.", label=step.value_label or "MAC")]})
    return mac


def bind_installed_mac(actor, step):
    """The MAC marked done at an installation's (or a fault's) MAC step becomes the subscription's "Вързан към
    MAC", as the technician's change in the LOG; a removal's MAC step binds nothing. Flushes."""
    task = step.task
    subscription = task.subscription
    if (not asks_mac(step) or not step.value or subscription is None or task.task_type is None
            or task.task_type.purpose not in MAC_BINDING_PURPOSES or not may_work_on(actor, task)):
        return
    if subscription.mac_address != step.value:
        subscription.mac_address = step.value
        db.session.flush()
