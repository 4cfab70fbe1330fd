"""Defaults every module's panel views share."""
from flask import abort
from flask_appbuilder import IndexView, ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget

from app.core.errors import FieldErrors
from app.core.validators import InvalidValue


class HomeView(IndexView):
    index_template = "billing_index.html"


def _not_routed(name):
    """An override without @expose: FAB registers no URL for it at all."""

    def not_routed(self, *args, **kwargs):
        abort(404)

    not_routed.__name__ = name
    # Templates still ask which permission the method would need.
    not_routed._permission_name = name
    return not_routed


class RecordRules:
    """Refuses, before saving, a record that breaks its module's rule.

    `record_errors` is the module's services rule (record) -> {field: [message]};
    a refusal raises FieldErrors: the panel flashes it, the REST API answers
    422, and nothing is stored. Panel forms also show the same rule under the
    fields through `ModelRules`.
    """

    record_errors = None

    def _refuse_invalid(self, item):
        if self.record_errors is not None:
            errors = self.record_errors(item)
            if errors:
                raise FieldErrors(errors)

    def pre_add(self, item):
        super().pre_add(item)
        self._refuse_invalid(item)

    def pre_update(self, item):
        super().pre_update(item)
        self._refuse_invalid(item)


class BillingModelView(RecordRules, ModelView):
    """A ModelView whose record page also shows the record's LOG history."""

    page_size = 25
    # No file columns anywhere, so no can_download permission in the matrix.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    show_template = "audit/show_with_history.html"

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            from app.audit.services import record_history

            kwargs["history"] = record_history(self.datamodel.obj, kwargs["pk"])
        return super().render_template(template, **kwargs)

    # No model has file columns; FAB's file download route is not registered.
    download = _not_routed("download")


class ReadOnlyModelView(BillingModelView):
    """List and show only: the routes that could change a record do not exist."""

    base_permissions = ["can_list", "can_show"]
    add = _not_routed("add")
    edit = _not_routed("edit")
    delete = _not_routed("delete")
    action = _not_routed("action")
    action_post = _not_routed("action_post")


# Lists that grow without bound (payments, the LOG) count at most this many
# rows: an exact count(*) reads the whole table on every page view.
COUNT_CAP = 10_000


class CappedCountInterface(SQLAInterface):
    """A datamodel whose list count stops at COUNT_CAP + 1 (shown as "over 10000")."""

    def query_count(self, query, filters=None, select_columns=None):
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        return inner.limit(COUNT_CAP + 1).count()


class CappedCountListWidget(ListWidget):
    """The list widget for CappedCountInterface: says "over 10000" instead of a false exact count."""

    template = "core/capped_count_list.html"

    def __init__(self, **kwargs):
        super().__init__(count_cap=COUNT_CAP, **kwargs)


class BillingModelApi(RecordRules, ModelRestApi):
    """A ModelRestApi whose `record_errors` refusals and `raw_checks` answer 422."""

    # field → check (app.core.validators style), applied to the request body
    # as sent: the schema would already have rounded "1.234" to 1.23.
    raw_checks = {}
    # The API answers to the same permissions as the panel view of the same
    # class_permission_name, so one row of the rights matrix governs both.
    method_permission_name = {
        "get_list": "list",
        "get": "show",
        "post": "add",
        "put": "edit",
        "delete": "delete",
        "info": "list",
    }

    def _raw_errors(self):
        from flask import request

        body = request.get_json(silent=True)
        errors = {}
        if not isinstance(body, dict):
            return errors
        for field, check in self.raw_checks.items():
            if body.get(field) not in (None, ""):
                try:
                    check(body[field])
                except InvalidValue as error:
                    errors[field] = [str(error.message)]
        return errors

    def post_headless(self):
        errors = self._raw_errors()
        if errors:
            return self.response_422(message=errors)
        try:
            return super().post_headless()
        except FieldErrors as refusal:
            self.datamodel.session.rollback()
            return self.response_422(message=refusal.errors)

    def put_headless(self, pk):
        errors = self._raw_errors()
        if errors:
            return self.response_422(message=errors)
        try:
            return super().put_headless(pk)
        except FieldErrors as refusal:
            self.datamodel.session.rollback()
            return self.response_422(message=refusal.errors)
