"""REST API /api/v1/tasks/: the panel's task operations — create, plan, mark a step, close, cancel.

A technician's token sees and changes only the tasks assigned to them (the
same rule as the panel, app.organizer.services.visible_tasks).
"""
from flask_appbuilder.api import expose, permission_name, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import gettext

from app.core.actors import current_operator
from app.core.api import (RECORD_ID, api_operation, body_text, documented, json_request, reason_request,
                          record_answer)
from app.core.scoping import DealerScopedApi
from app.core.validators import as_id
from app.core.views import BillingInterface, BillingModelApi, RecordOperations
from app.extensions import db
from app.organizer.models import Task, TaskStep
from app.organizer.services import cancel_task, close_task, create_task, mark_step, update_task, visible_tasks

TASK_OPERATIONS = RecordOperations(create=create_task, update=update_task)
FIELDS = ["task_type", "client", "subscription", "address", "description", "technicians", "scheduled_on",
          "time_from", "time_to", "duration_minutes", "priority"]
STEP_FIELDS = ["steps.id", "steps.position", "steps.name", "steps.required", "steps.asks", "steps.value_label",
               "steps.status", "steps.note", "steps.value", "steps.marked_at"]


class AssignedTasksFilter(BaseFilter):
    """FAB filter: an operator without the right to plan tasks sees only the tasks assigned to them."""

    name = "tasks the operator sees"
    arg_name = "visible_tasks"

    def apply(self, query, value):
        return visible_tasks(query, current_operator())


VISIBLE_TASKS = ["id", AssignedTasksFilter, None]

# The spec's answer of every task operation: the task as it is now (a resent request changes nothing and answers
# the same).
TASK_ANSWER = {200: record_answer("The task as it is now (a resent update changes nothing and answers the same)",
                                  changed={"type": "boolean"},
                                  warnings={"type": "array", "items": {"type": "string"}})}
STEP_ID = {"in": "path", "schema": {"type": "integer"}, "name": "step_id"}
STEP_BODY = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["pending", "done", "failed", "skipped"]},
    "note": {"type": "string", "maxLength": 500},
    "value": {"type": "string", "maxLength": 200},
    "request_key": {"type": "string", "maxLength": 64},
}}


class TaskApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Task)
    resource_name = "tasks"
    class_permission_name = "Task"
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info", "step", "close", "cancel"}
    method_permission_name = {**BillingModelApi.method_permission_name, "step": "work", "close": "work",
                              "cancel": "cancel"}
    base_filters = [VISIBLE_TASKS]
    list_columns = ["id", "task_type.id", "task_type.name", "client.id", "client.name", "subscription.id", "address",
                    "description", "technicians.id", "scheduled_on", "time_from", "time_to", "duration_minutes",
                    "priority", "status", "cancel_reason", "created_at", "closed_at"]
    show_columns = list_columns + STEP_FIELDS
    add_columns = FIELDS
    # A task stays with its client and its type.
    edit_columns = [name for name in FIELDS if name not in ("client", "task_type")]
    search_columns = ["task_type", "client", "status", "priority", "scheduled_on"]
    order_columns = ["id", "scheduled_on", "time_from", "priority", "status"]
    base_order = ("id", "desc")
    operations = TASK_OPERATIONS

    def _task(self, pk):
        return db.session.scalar(visible_tasks(db.select(Task).where(Task.id == pk), current_operator()))

    def _answer(self, task, changed=True, warnings=()):
        return self.response(200, id=task.id, changed=changed, warnings=[str(w) for w in warnings],
                             result=self.show_model_schema.dump(task))

    @expose("/<int:pk>/steps/<int:step_id>", methods=["POST"])
    @protect()
    @safe
    @permission_name("work")
    @documented(path=[RECORD_ID, STEP_ID], requestBody=json_request(STEP_BODY), responses=TASK_ANSWER)
    @api_operation
    def step(self, pk, step_id):
        """Mark a step of the task: done, failed, skipped (optional steps) or pending, with a note or value.
        The same request_key (or the same target state) sent again changes nothing."""
        body = self.json_body()
        task = self._task(as_id(pk))
        step = db.session.get(TaskStep, as_id(step_id)) if task is not None and as_id(step_id) else None
        if step is None or step.task_id != task.id:
            return self.response_404()
        texts = {name: body.get(name) for name in ("status", "note", "value", "request_key")}
        wrong = {name: [gettext("Not valid: check the values sent.")] for name, value in texts.items()
                 if value is not None and not isinstance(value, str)}
        if wrong:
            return self.response_422(message=wrong)
        update = mark_step(current_operator(), step, texts["status"], note=texts["note"], value=texts["value"],
                           request_key=texts["request_key"])
        return self._answer(task, update.changed, update.warnings)

    @expose("/<int:pk>/close", methods=["POST"])
    @protect()
    @safe
    @permission_name("work")
    @documented(path=[RECORD_ID], responses=TASK_ANSWER)
    @api_operation
    def close(self, pk):
        """Close the task as done: refused while a required step is not done; an installation activates its
        subscription."""
        task = self.found(self._task(as_id(pk)))
        was_done = task.status == "done"
        warnings = close_task(current_operator(), task)
        return self._answer(task, not was_done, warnings)

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    @documented(path=[RECORD_ID], requestBody=reason_request(300), responses=TASK_ANSWER)
    @api_operation
    def cancel(self, pk):
        """Cancel the task, saying why; a cancelled installation activates nothing."""
        body = self.json_body()
        task = self.found(self._task(as_id(pk)))
        was_cancelled = task.status == "cancelled"
        cancel_task(current_operator(), task, body_text(body, "reason"))
        return self._answer(task, not was_cancelled)
