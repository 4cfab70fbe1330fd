"""The organizer in the panel: task types at /tasks/types/, tasks at /tasks/, the day's plan (screen and PDF),
the week's load, the technician's phone page, and the tasks parts of the client card and the home page."""
import uuid
from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.clients.models import Client
from app.clients.views import CLIENT_CARD, BackToTheCard, form_client_filters
from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.forms import BulgarianTimeField
from app.core.formatting import format_date, format_datetime, format_yes_no, local_today
from app.core.pdf import PdfError, html_to_pdf
from app.core.scoping import DealerScopedView, get_in_scope, scope
from app.core.transaction import discard
from app.core.validators import ModelRules
from app.core.views import HOME_PAGE, BillingInterface, BillingModelView, requested_day, shown_refusals
from app.extensions import db
from app.organizer.api import TASK_OPERATIONS, VISIBLE_TASKS, TaskApi
from app.organizer.models import (
    ASKS_NOTHING,
    ASKS_NOTE,
    ASKS_VALUE,
    CANCELLED,
    DONE,
    HIGH,
    IN_PROGRESS,
    LOW,
    NORMAL,
    OPEN,
    PURPOSE_FAULT,
    PURPOSE_INSTALLATION,
    PURPOSE_OTHER,
    STEP_DONE,
    STEP_FAILED,
    STEP_PENDING,
    STEP_SKIPPED,
    Task,
    TaskStep,
    TaskType,
    TaskTypeStep,
)
from app.organizer.services import (
    cancel_task,
    close_task,
    day_plan,
    mark_step,
    missing_required_steps,
    may_add_tasks,
    may_cancel_task,
    may_mark_steps,
    may_plan,
    may_report_faults,
    plan_task,
    report_fault,
    planned_technicians,
    works_tasks,
    plans_tasks,
    task_count_query,
    task_list,
    task_type_errors,
    task_type_step_errors,
    technicians_for,
    type_for,
    unplanned_count,
    unplanned_tasks,
    visible_task,
    week_load,
    week_start,
)
from app.security.models import Operator
from app.security.rights import may_access

PURPOSES = [(PURPOSE_OTHER, _l("Other")), (PURPOSE_INSTALLATION, _l("Installation (opened by a sale)")),
            (PURPOSE_FAULT, _l("Fault (the card's button)"))]
ASKS = [(ASKS_NOTHING, _l("Nothing")), (ASKS_NOTE, _l("A note")), (ASKS_VALUE, _l("A value"))]
TASK_STATUSES = [(OPEN, _l("Open (task)")), (IN_PROGRESS, _l("In progress")), (DONE, _l("Done (task)")),
                 (CANCELLED, _l("Cancelled"))]
STEP_STATUSES = [(STEP_PENDING, _l("Pending")), (STEP_DONE, _l("Done")), (STEP_FAILED, _l("Failed")),
                 (STEP_SKIPPED, _l("Skipped"))]
PRIORITIES = [(HIGH, _l("High")), (NORMAL, _l("Normal")), (LOW, _l("Low"))]

TYPE_LABELS = {
    "name": _l("Name"),
    "purpose": _l("Purpose"),
    "duration_minutes": _l("Duration, minutes"),
    "colour": _l("Colour"),
    "steps": _l("Steps"),
}
TYPE_STEP_LABELS = {
    "task_type": _l("Task type"),
    "task_type_id": _l("Task type"),
    "position": _l("Order"),
    "name": _l("Step"),
    "required": _l("Required"),
    "asks": _l("Asks for"),
    "value_label": _l("Value asked for"),
}
LABELS = {
    "id": _l("Number"),
    "task_type": _l("Task type"),
    "task_type_id": _l("Task type"),
    "client": _l("Client"),
    "client_id": _l("Client"),
    "subscription": _l("Subscription"),
    "subscription_id": _l("Subscription"),
    "address": _l("Address"),
    "description": _l("Description"),
    "technicians": _l("Technicians"),
    "scheduled_on": _l("Day"),
    "time_from": _l("From"),
    "time_to": _l("To"),
    "window": _l("Time window"),
    "duration_minutes": _l("Duration, minutes"),
    "priority": _l("Priority"),
    "status": _l("Status"),
    "activates_subscription": _l("Activates the subscription when done"),
    "cancel_reason": _l("Reason for cancelling"),
    "created_at": _l("Created on"),
    "closed_at": _l("Closed on"),
    "closed_by": _l("Closed by"),
    "closed_by_id": _l("Closed by"),
}
STEP_LABELS = {
    "task": _l("Task"),
    "task_id": _l("Task"),
    "position": _l("Order"),
    "name": _l("Step"),
    "required": _l("Required"),
    "asks": _l("Asks for"),
    "value_label": _l("Value asked for"),
    "status": _l("Status"),
    "note": _l("Note"),
    "value": _l("Value"),
    "marked_at": _l("Marked on"),
    "marked_by": _l("Marked by"),
    "marked_by_id": _l("Marked by"),
}


def window(task):
    return task.window


def _join(items):
    return ", ".join(str(item) for item in items) or "—"


def _technician_name(operator):
    return f"{operator.first_name} {operator.last_name}".strip()


def _labels(choices):
    return {code: str(label) for code, label in choices}


class TaskTypeStepView(BillingModelView):
    """The steps of a task type, in order; shown and added on the type's page."""

    datamodel = BillingInterface(TaskTypeStep)
    route_base = "/tasks/type-steps"
    class_permission_name = "TaskTypeStep"
    list_title = _l("Steps")
    show_title = _l("Step")
    add_title = _l("Add step")
    edit_title = _l("Edit step")
    label_columns = TYPE_STEP_LABELS
    list_columns = ["position", "name", "required", "asks", "value_label"]
    search_columns = ["task_type", "name"]
    order_columns = ["position"]
    base_order = ("position", "asc")
    add_columns = edit_columns = show_columns = ["task_type", "position", "name", "required", "asks", "value_label"]
    add_form_extra_fields = edit_form_extra_fields = {
        "asks": SelectField(TYPE_STEP_LABELS["asks"], choices=ASKS, default=ASKS_NOTHING),
        "required": BooleanField(TYPE_STEP_LABELS["required"], default=True),
        "position": IntegerField(TYPE_STEP_LABELS["position"], default=1, validators=[DataRequired(),
                                                                                       NumberRange(min=1)]),
    }
    formatters_columns = {"asks": _labels(ASKS).get, "required": format_yes_no}
    description_columns = {"value_label": _l("For a step that asks for a value: e.g. Modem MAC, Signal level.")}
    record_errors = staticmethod(task_type_step_errors)


class TaskTypeView(BillingModelView):
    datamodel = BillingInterface(TaskType)
    route_base = "/tasks/types"
    class_permission_name = "TaskType"
    list_title = _l("Task types")
    list_note = _l(
        "The kinds of task (installation, repair…) with their steps in order. "
        "A kind is added with the + button above the list.")
    show_title = _l("Task type")
    add_title = _l("Add task type")
    edit_title = _l("Edit task type")
    label_columns = TYPE_LABELS
    related_views = [TaskTypeStepView]
    list_columns = ["name", "purpose", "duration_minutes", "colour"]
    search_columns = ["name", "purpose"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "purpose", "duration_minutes", "colour"]
    show_columns = ["name", "purpose", "duration_minutes", "colour"]
    add_form_extra_fields = edit_form_extra_fields = {
        "purpose": SelectField(TYPE_LABELS["purpose"], choices=PURPOSES, default=PURPOSE_OTHER),
        "colour": StringField(TYPE_LABELS["colour"], default="#337ab7", render_kw={"type": "color"},
                              validators=[DataRequired(), ModelRules(task_type_errors)]),
        "duration_minutes": IntegerField(TYPE_LABELS["duration_minutes"], default=60,
                                         validators=[DataRequired(), NumberRange(min=1, max=24 * 60)]),
    }
    formatters_columns = {"purpose": _labels(PURPOSES).get}
    description_columns = {
        "purpose": _l("The sale of a service that needs installation opens a task of the installation type; the "
                      "client card's Fault button one of the fault type. The steps are added on the type's page."),
    }
    record_errors = staticmethod(task_type_errors)


FormClientFilter, FormClientSubscriptionsFilter = form_client_filters(Task, "task")


class FormTechniciansFilter(BaseFilter):
    """Task forms offer as technicians only the operators who work tasks, of the planner's dealer."""

    name = "operators who work tasks"
    arg_name = "task_technicians"

    def apply(self, query, value):
        return scope(query.filter(works_tasks()), current_operator(), Operator)


def _time_field(label):
    return BulgarianTimeField(label, validators=[Optional()])


def _safe_next(default, target=None):
    """Where a step's form returns: one of the organizer's own pages, never an outside address."""
    target = (target if target is not None else request.form.get("next")) or ""
    return target if target.startswith("/tasks/") and "//" not in target else default


class TaskView(DealerScopedView, BackToTheCard, BillingModelView):
    datamodel = BillingInterface(Task)
    route_base = "/tasks"
    class_permission_name = "Task"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_plan", "can_mine", "can_work",
                        "can_cancel"]
    base_filters = [VISIBLE_TASKS]
    list_title = _l("Tasks")
    list_note = _l(
        "The technicians' tasks. Selling a service that needs installation opens its task by "
        "itself; any other task is added with the + button above the list.")
    show_title = _l("Task")
    add_title = _l("New task")
    edit_title = _l("Edit task")
    show_template = "organizer/show.html"
    label_columns = LABELS
    list_columns = ["id", "scheduled_on", "window", "task_type", "client", "address", "technicians", "priority",
                    "status"]
    search_columns = ["task_type", "status", "priority", "scheduled_on", "technicians"]
    order_columns = ["id", "scheduled_on", "priority", "status"]
    base_order = ("id", "desc")
    add_columns = ["client", "subscription", "task_type", "address", "description", "technicians", "scheduled_on",
                   "time_from", "time_to", "duration_minutes", "priority"]
    edit_columns = ["subscription", "address", "description", "technicians", "scheduled_on", "time_from",
                    "time_to", "duration_minutes", "priority"]
    show_columns = ["id", "task_type", "client", "subscription", "address", "description", "technicians",
                    "scheduled_on", "window", "duration_minutes", "priority", "status", "cancel_reason",
                    "created_at", "closed_at", "closed_by"]
    add_form_query_rel_fields = {
        "client": [["id", FormClientFilter, None]],
        "subscription": [["id", FormClientSubscriptionsFilter, None]],
        "technicians": [["id", FormTechniciansFilter, None]],
    }
    edit_form_query_rel_fields = {"subscription": [["id", FormClientSubscriptionsFilter, None]],
                                  "technicians": [["id", FormTechniciansFilter, None]]}
    add_form_extra_fields = edit_form_extra_fields = {
        "priority": SelectField(LABELS["priority"], choices=PRIORITIES, default=NORMAL),
        "time_from": _time_field(LABELS["time_from"]),
        "time_to": _time_field(LABELS["time_to"]),
        "duration_minutes": IntegerField(LABELS["duration_minutes"], validators=[Optional(),
                                                                                 NumberRange(min=1, max=24 * 60)]),
        "address": StringField(LABELS["address"], validators=[Optional(), Length(max=300)],
                               render_kw={"class": "form-control"}),
    }
    formatters_columns = {
        "status": _labels(TASK_STATUSES).get,
        "priority": _labels(PRIORITIES).get,
        "scheduled_on": format_date,
        "created_at": format_datetime,
        "closed_at": format_datetime,
        "technicians": lambda operators: ", ".join(_technician_name(op) for op in operators) or "—",
    }
    description_columns = {
        "client": _l("A task is started from the client card (New task, Fault)."),
        "address": _l("Empty: the subscription's delivery address, else the client's."),
        "duration_minutes": _l("Empty: the task type's."),
        "subscription": _l("An installation opened by a sale activates this subscription when it is done."),
    }
    operations = TASK_OPERATIONS

    # --- the add form opened from the card: the client, and for "Повреда" the fault type, today, high priority
    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if request.method == "GET":
            client = get_in_scope(Client, request.args.get("client", type=int), current_operator())
            if client is not None:
                form.client.data = client
                form.address.data = client.address()
            if request.args.get("purpose") == PURPOSE_FAULT:
                fault = type_for(PURPOSE_FAULT)
                if fault is not None:
                    form.task_type.data = fault
                    form.duration_minutes.data = fault.duration_minutes
                form.scheduled_on.data = local_today()
                form.priority.data = HIGH
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def record_page(self, task):
        actor = current_operator()
        return dict(task=task, steps=task.steps, step_status=_labels(STEP_STATUSES),
                    can_work=may_mark_steps(actor, task), can_cancel=may_cancel_task(actor, task),
                    can_plan=may_plan(actor, task), date_bg=format_date,
                    unplanned=not task.is_closed and (task.scheduled_on is None or not task.technicians),
                    missing=missing_required_steps(task), request_key=uuid.uuid4().hex,
                    next_url=url_for("TaskView.show", pk=task.id))

    # --- marking steps, closing, cancelling (the task page and the phone page post here) ---------------------

    @expose("/step/<int:step_id>", methods=["POST"])
    @has_access
    @permission_name("work")
    def step(self, step_id):
        """Mark one step; the form's request key makes a double tap or a resent form count once."""
        actor = current_operator()
        step = db.session.get(TaskStep, step_id)
        task = visible_task(actor, step.task_id) if step is not None else None
        if task is None:
            abort(404)
        with shown_refusals():
            update = mark_step(actor, step, request.form.get("status"), note=request.form.get("note"),
                               value=request.form.get("value"), request_key=request.form.get("request_key"))
            for warning in update.warnings:
                flash(str(warning), "info")
            if update.changed and task.status == DONE:
                flash(gettext("The task is done."), "success")
        return redirect(_safe_next(url_for("TaskView.show", pk=task.id)))

    @expose("/close/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("work")
    def close(self, pk):
        task = self.record_or_404(pk)
        with shown_refusals():
            warnings = close_task(current_operator(), task)
            flash(gettext("The task is done."), "success")
            for warning in warnings:
                flash(str(warning), "info")
        return redirect(_safe_next(url_for("TaskView.show", pk=task.id)))

    @expose("/cancel/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, pk):
        task = self.record_or_404(pk)
        with shown_refusals():
            cancel_task(current_operator(), task, request.form.get("reason"))
            flash(gettext("The task is cancelled."), "info")
        return redirect(url_for("TaskView.show", pk=task.id))

    # --- planning: Непланирани, and the plan form (a technician, a day, a time) ---------------------------------

    @expose("/unplanned/")
    @has_access
    @permission_name("plan")
    def unplanned(self):
        """Непланирани: the open tasks with no technician or no day (a sale's installation task is opened so),
        each with its Планирай button."""
        actor = current_operator()
        tasks = unplanned_tasks(actor, limit=500)
        return self.render_template(
            "organizer/unplanned.html", title=gettext("Unplanned tasks"), tasks=tasks,
            plannable={task.id for task in tasks if may_plan(actor, task)},
            can_see_clients=may_access(actor, "can_show", "Client"), **_plan_helpers())

    @expose("/plan/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def plan(self, pk):
        """Планирай: give a task its technician, day and time (app.organizer.services.plan_task)."""
        actor = current_operator()
        task = self.record_or_404(pk)
        back = _safe_next(url_for("TaskView.show", pk=task.id), request.values.get("next"))
        if not may_plan(actor, task):
            flash(gettext("This task cannot be planned: it is closed, or you do not have the right to plan "
                          "tasks."), "danger")
            return redirect(url_for("TaskView.show", pk=task.id))
        errors = {}
        typed = {"technician": request.form.get("technician", ""), "day": request.form.get("day", ""),
                 "time_from": request.form.get("time_from", ""), "time_to": request.form.get("time_to", "")}
        if request.method == "POST":
            try:
                plan_task(actor, task, technician=typed["technician"], day=typed["day"],
                          time_from=typed["time_from"], time_to=typed["time_to"])
            except FieldErrors as refusal:
                discard()
                errors = refusal.errors
            else:
                day_url = url_for("TaskView.day", day=task.scheduled_on.isoformat())
                flash(Markup(gettext("Task No. %(number)s is planned for %(day)s %(time)s: %(technician)s. "
                                     "<a href=\"%(url)s\">Tasks for the day</a>",
                                     number=task.id, day=format_date(task.scheduled_on), time=task.window,
                                     technician=escape(_technician_name(task.technicians[0])),
                                     url=day_url)), "success")
                return redirect(back)
        else:
            first = task.technicians[0] if task.technicians else None
            typed.update(technician=str(first.id) if first else "",
                         day=format_date(task.scheduled_on) if task.scheduled_on else "",
                         time_from=task.time_from.strftime("%H:%M") if task.time_from else "",
                         time_to=task.time_to.strftime("%H:%M") if task.time_to else "")
        return self.render_template(
            "organizer/plan.html", title=gettext("Plan the task"), task=task, typed=typed, errors=errors,
            technicians=technicians_for(actor, task), next_url=back, **_plan_helpers())

    # --- the day's plan, its PDF, the week ----------------------------------------------------------------------

    def _plan_arguments(self):
        actor = current_operator()
        day = requested_day("day", local_today())
        technician = None
        technician_id = request.args.get("technician", type=int)
        if technician_id:
            technician = get_in_scope(Operator, technician_id, actor)
            if technician is None:
                abort(404)
        return actor, day, technician

    @expose("/day/")
    @has_access
    @permission_name("plan")
    def day(self):
        """Задачи за деня: a day's tasks, optionally of one technician, in the order of the round."""
        actor, day, technician = self._plan_arguments()
        tasks = day_plan(actor, day, technician)
        return self.render_template(
            "organizer/day.html", title=gettext("Tasks for the day"), day=day, technician=technician,
            tasks=tasks, technicians=planned_technicians(actor) if plans_tasks(actor) else [],
            can_see_clients=may_access(actor, "can_show", "Client"), unplanned=unplanned_count(actor),
            previous_day=day - timedelta(days=1), next_day=day + timedelta(days=1), **_plan_helpers())

    @expose("/day/pdf")
    @has_access
    @permission_name("plan")
    def day_pdf(self):
        """The day's plan as an A4 PDF, with a tick box for every step."""
        actor, day, technician = self._plan_arguments()
        tasks = day_plan(actor, day, technician)
        title = gettext("Tasks for the day") + f" {format_date(day)}"
        html = render_template("pdf/day_plan.html", title=title, day=day, technician=technician, tasks=tasks,
                               **_plan_helpers())
        try:
            data = html_to_pdf(html, title=title)
        except PdfError as problem:
            flash(str(problem), "danger")
            return redirect(url_for("TaskView.day", day=day.isoformat()))
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="zadachi-{day.isoformat()}.pdf"'})

    @expose("/week/")
    @has_access
    @permission_name("plan")
    def week(self):
        """Each technician's load in a week: tasks and planned hours per day."""
        actor, day, technician = self._plan_arguments()
        monday = week_start(day)
        loads = week_load(actor, monday, technician)
        return self.render_template(
            "organizer/week.html", title=gettext("The technicians' week"), monday=monday, loads=loads,
            days=[monday + timedelta(days=offset) for offset in range(7)], technician=technician,
            technicians=planned_technicians(actor) if plans_tasks(actor) else [],
            previous_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7), hours=_hours,
            **_plan_helpers())

    # --- the technician's phone page ----------------------------------------------------------------------------

    @expose("/mine/")
    @has_access
    @permission_name("mine")
    def mine(self):
        """Today's tasks assigned to me, on a phone: tap a step to mark it, call the client."""
        actor = current_operator()
        day = requested_day("day", local_today())
        tasks = [task for task in task_list(actor, day=day, technician=actor)]
        return render_template("organizer/mine.html", tasks=tasks, day=day, request_key=lambda: uuid.uuid4().hex,
                               step_status=_labels(STEP_STATUSES), task_status=_labels(TASK_STATUSES),
                               next_url=url_for("TaskView.mine"), **_plan_helpers())


def _hours(minutes):
    """Planned minutes as "2:30 ч."."""
    hours, rest = divmod(int(minutes or 0), 60)
    return gettext("%(hours)d:%(minutes)02d h", hours=hours, minutes=rest)


def _plan_helpers():
    return {"window": window, "phones": _phones, "priority_label": _labels(PRIORITIES),
            "status_label": _labels(TASK_STATUSES), "technician_name": _technician_name,
            "date_bg": format_date}


def _phones(client):
    """The client's phones, each with the digits a tel: link dials."""
    phones = []
    for phone in (client.phone or "").split(","):
        phone = phone.strip()
        if phone:
            dial = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
            phones.append((phone, dial))
    return phones


def tasks_part(record, actor, **_known):
    """The client card's tasks part and the home page's today: the same service list (task_list)."""
    if record is not None and not may_access(actor, "can_list", "Task") and may_report_faults(actor):
        # A desk that logs faults (a cashier): the client's tasks to read, and the fault form.
        return {"card_tasks": task_list(actor, client=record, limit=50, steps="none"), "task_window": window,
                "task_status_label": _labels(TASK_STATUSES), "can_add_task": False, "can_plan_task": False,
                "can_report_fault": True, "can_open_tasks": False}
    if not may_access(actor, "can_list", "Task"):
        return {}
    if record is None:
        tasks = task_list(actor, day=local_today(), limit=50, steps="none")
        return {"home_tasks": tasks, "home_tasks_day": local_today(), "task_window": window,
                "task_status_label": _labels(TASK_STATUSES), "can_plan_tasks": may_access(actor, "can_plan", "Task"),
                "home_unplanned": unplanned_count(actor) if may_access(actor, "can_plan", "Task") else 0,
                "can_mine_tasks": may_access(actor, "can_mine", "Task") and not plans_tasks(actor)}
    return {
        "card_tasks": task_list(actor, client=record, limit=50, steps="none"),
        "task_window": window,
        "task_status_label": _labels(TASK_STATUSES),
        "can_add_task": may_add_tasks(actor),
        "can_plan_task": may_access(actor, "can_edit", "Task") and plans_tasks(actor),
        "can_report_fault": False, "can_open_tasks": may_access(actor, "can_show", "Task"),
    }


class FaultView(BaseView):
    """Повреда from the card, for a desk that takes the client's call but does not plan tasks (a cashier): opened
    by whoever opens the card (the client's "show" permission); report_fault checks the right to log faults."""
    route_base = "/faults"
    class_permission_name = "Client"
    method_permission_name = {"report": "show"}

    @expose("/<int:client_id>", methods=["POST"])
    @has_access
    def report(self, client_id):
        actor = current_operator()
        client = get_in_scope(Client, client_id, actor)
        if client is None:
            abort(404)
        subscription = None
        subscription_id = request.form.get("subscription", type=int)
        if subscription_id:
            subscription = next((item for item in client.subscriptions if item.id == subscription_id), None)
        try:
            task = report_fault(actor, client, request.form.get("description"), subscription=subscription)
        except FieldErrors as refusal:
            discard()
            for messages in refusal.errors.values():
                for message in messages:
                    flash(message, "danger")
        else:
            flash(gettext("Fault logged as task No. %(number)s, urgent; the planners find it among the unplanned "
                          "tasks and give it a technician and a day.", number=task.id), "success")
        return redirect(url_for("ClientView.show", pk=client.id, _anchor="tasks"))


def card_task_count(client, actor, **_known):
    """The tasks tab's counter: the client's tasks the actor sees (the tab lists the same)."""
    if not may_access(actor, "can_list", "Task") and not may_report_faults(actor):
        return None
    return task_count_query(actor, client=client)


def register(appbuilder):
    CLIENT_CARD.add("organizer/_card_tasks.html", tasks_part, order=25, place="tasks", count=card_task_count)
    HOME_PAGE.add("organizer/_home_today.html", tasks_part, order=15)
    register_entity(TaskType, _l("Task type"), TYPE_LABELS, value_labels={"purpose": PURPOSES})
    register_entity(TaskTypeStep, _l("Step of a task type"), TYPE_STEP_LABELS, value_labels={"asks": ASKS})
    register_entity(Task, _l("Task"), LABELS, value_labels={"status": TASK_STATUSES, "priority": PRIORITIES})
    register_entity(TaskStep, _l("Step of a task"), STEP_LABELS, value_labels={"status": STEP_STATUSES,
                                                                                "asks": ASKS},
                    hidden=("request_key",))
    tasks = appbuilder.add_view(TaskView, "Tasks", label=_l("Tasks"), icon="fa-tasks", **in_menu("Organizer"))
    appbuilder.add_link("Day plan", href="/tasks/day/", icon="fa-list-ol", label=_l("Tasks for the day"),
                        **in_menu("Organizer"), baseview=tasks)
    appbuilder.add_link("Unplanned", href="/tasks/unplanned/", icon="fa-inbox", label=_l("Unplanned tasks"),
                        **in_menu("Organizer"), baseview=tasks)
    appbuilder.add_link("Week", href="/tasks/week/", icon="fa-calendar-o", label=_l("The technicians' week"),
                        **in_menu("Organizer"), baseview=tasks)
    appbuilder.add_link("My tasks", href="/tasks/mine/", icon="fa-mobile", label=_l("My tasks"),
                        **in_menu("Organizer"), baseview=tasks)
    appbuilder.add_view(TaskTypeView, "Task types", label=_l("Task types"), icon="fa-list", **in_menu("Organizer"))
    appbuilder.add_view_no_menu(TaskTypeStepView)
    appbuilder.add_view_no_menu(FaultView)
    appbuilder.add_api(TaskApi)
