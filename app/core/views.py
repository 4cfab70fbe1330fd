"""Defaults every module's panel views and REST APIs share.

Views and APIs are adapters: they read a form or a JSON body, call the
module's operation with the acting operator, and turn its FieldErrors into
field messages (panel) or a 422 (API). They never commit: their data access
(BillingInterface) flushes, and the request's unit of work commits
(app.core.transaction).
"""
import datetime
import functools
import re
from dataclasses import dataclass
from typing import Callable

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, IndexView, ModelView, expose, has_access
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla import filters as fab_filters
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter, get_field_setup_query
from flask_appbuilder.models.sqla.interface import SQLAInterface, _is_sqla_type
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jsonschema import Draft7Validator, FormatChecker
from marshmallow import ValidationError
from sqlalchemy import and_, false, inspect, or_, types as sa_types
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from wtforms.validators import Optional

from app.core import like
from app.core.actors import current_operator
from app.core.api import Answer, api_operation
from app.core.errors import FieldErrors
from app.core.formatting import utc_bounds
from app.core.forms import BulgarianDateField
from app.core.openapi import NullableRelationsConverter
from app.core.sections import PageSections
from app.core.settings import SETTINGS_ID
from app.core.transaction import discard
from app.core.validators import InvalidValue, as_id, parse_day, parse_moment

# A list's filter in its query string, as FAB's list pages write it: _flt_<filter index>_<column>=<value>.
FILTER_ARG = re.compile(r"_flt_(\d)_(.+)")


def refuse_day(error):
    """Say once per request that a typed day is not one (a list asks for its rows and for their count)."""
    message = str(error.message)
    shown = g.setdefault("refused_days", set())
    if message not in shown:
        shown.add(message)
        flash(message, "danger")


def requested_day(name, default=None, source=None):
    """The day of the request's parameter `name` (dd.mm.yyyy, or yyyy-mm-dd as links carry it).

    Absent: `default`. A value that is not a day (31.11.2026, 2026/12/01) is
    refused out loud: its message is flashed and `default` stands in, so a
    page never quietly shows another day (or every day) than the one asked for.
    """
    try:
        return parse_day((source if source is not None else request.args).get(name), default)
    except InvalidValue as error:
        refuse_day(error)
        return default


def visible_columns(view, actor, columns):
    """Of `columns`, those `actor` may see, filter on and order by in `view`'s list — its page and its export.

    The one rule for both: a column the view guards (`column_visible_when =
    {column: check(actor)}`: a ЕГН, a password, a secret) is left out unless
    its check passes for the actor.
    """
    guards = getattr(view, "column_visible_when", None) or {}
    return [column for column in columns if column not in guards or guards[column](actor)]


def read_list_filters(view, actor, filters=None):
    """The list's filters from the request's query string, on the search columns the actor may see only.

    A filter on any other column (a hidden one, or one the list never
    offers) is ignored, as on FAB's own list page: otherwise the number of
    rows would answer yes or no about a value the actor may not read.
    """
    filters = filters if filters is not None else view.datamodel.get_filters(view.search_columns)
    allowed = filters.get_search_filters()
    offered = set(visible_columns(view, actor, view.search_columns))
    filters.clear_filters()
    for arg in request.args:
        match = FILTER_ARG.fullmatch(arg)
        if match is None or match.group(2) not in offered:
            continue
        index, column = int(match.group(1)), match.group(2)
        if index < len(allowed.get(column, ())):
            filters.add_filter_index(column, index, request.args.getlist(arg))
    return filters


def list_order(view, actor):
    """The list's (column, direction) from the query string when the actor may see that order column; else the
    view's own order (sorting by a hidden column would tell its values apart)."""
    name = type(view).__name__
    column = request.args.get(f"_oc_{name}")
    if column and column in visible_columns(view, actor, view.order_columns or []):
        return column, "desc" if request.args.get(f"_od_{name}") == "desc" else "asc"
    return view.base_order or ("", "")


class _DayFilter(BaseFilter):
    """A list's filter on a date or a moment column by the office's days, typed dd.mm.yyyy (parse_day).

    FAB's own reads the value with dateutil (01.12.2026 as the 12th of
    January), compares a moment with UTC midnight, and drops a value it cannot
    read, listing everything. Here a moment column is compared with the
    day's bounds on the office's clock, and a day that is not one
    (31.11.2026) lists nothing and says so.
    """

    def bounds(self, value):
        """[start, end) of the typed day in the column's terms, or None when it is not a day."""
        moment = self.datamodel.is_datetime(self.column_name)
        try:
            if moment and " " in str(value).strip():  # a moment, as an address may carry one: that minute
                start = parse_moment(value)
                return start, start + datetime.timedelta(minutes=1)
            day = parse_day(value)
        except InvalidValue as error:
            refuse_day(error)
            return None
        return utc_bounds(day) if moment else (day, day + datetime.timedelta(days=1))

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        bounds = self.bounds(value)
        if bounds is None:
            return query.filter(false())
        return query.filter(self.condition(field, *bounds))


class DayEqual(_DayFilter):
    name = _l("On the day")
    arg_name = "eq"

    def condition(self, field, start, end):
        return and_(field >= start, field < end)


class DayFrom(_DayFilter):
    name = _l("From the day")
    arg_name = "ge"

    def condition(self, field, start, end):
        return field >= start


class DayTo(_DayFilter):
    name = _l("To the day (inclusive)")
    arg_name = "le"

    def condition(self, field, start, end):
        return field < end


class DayNotEqual(_DayFilter):
    name = _l("Not on the day")
    arg_name = "neq"

    def condition(self, field, start, end):
        return or_(field < start, field >= end, field.is_(None))


DAY_FILTERS = [DayEqual, DayFrom, DayTo, DayNotEqual]


class FilterConverter(SQLAFilterConverter):
    """FAB's filters, knowing that a time of day (a task's window) has none, rather than warning at start.

    The REST API's: it publishes and takes FAB's operators (gt, lt…) on ISO moments."""

    conversion_table = (("is_time", []),) + SQLAFilterConverter.conversion_table


class _EscapedPattern:
    """FAB's text filter with the typed value's `%`, `_` and `\\` matching only themselves (app.core.like):
    FAB pastes the value into its ILIKE pattern as it is, so "ivan_p" also listed "ivanxp"."""

    pattern = None  # value → the LIKE pattern
    negated = False

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        condition = field.ilike(self.pattern(value), escape=like.ESCAPE)
        return query.filter(~condition if self.negated else condition)


def _escaped(filter_class, pattern, negated=False):
    return type(filter_class.__name__, (_EscapedPattern, filter_class),
                {"pattern": staticmethod(pattern), "negated": negated})


ESCAPED_TEXT_FILTERS = {
    fab_filters.FilterStartsWith: _escaped(fab_filters.FilterStartsWith, like.starts_with),
    fab_filters.FilterNotStartsWith: _escaped(fab_filters.FilterNotStartsWith, like.starts_with, negated=True),
    fab_filters.FilterEndsWith: _escaped(fab_filters.FilterEndsWith, like.ends_with),
    fab_filters.FilterNotEndsWith: _escaped(fab_filters.FilterNotEndsWith, like.ends_with, negated=True),
    fab_filters.FilterContains: _escaped(fab_filters.FilterContains, like.contains),
    fab_filters.FilterNotContains: _escaped(fab_filters.FilterNotContains, like.contains, negated=True),
}


def escaped_text_filters(converter):
    """`converter` with FAB's contains/starts with/ends with filters taking the typed text literally."""
    return type(f"Escaped{converter.__name__}", (converter,), {
        "conversion_table": tuple(
            (marker, [ESCAPED_TEXT_FILTERS.get(filter_class, filter_class) for filter_class in filters])
            for marker, filters in converter.conversion_table),
    })


def panel_filter_converter(converter):
    """The panel's lists: `converter` (a data access's own, e.g. the clients' phone filter) with date and
    moment columns filtered by the office's days (DAY_FILTERS), and text filters taking "%" and "_" as typed
    (a username "ivan_p" does not also find "ivanxp")."""
    if getattr(converter, "filters_by_office_days", False):
        return converter
    return type(f"Panel{converter.__name__}", (converter,), {
        "filters_by_office_days": True,
        "conversion_table": (("is_time", []), ("is_date", DAY_FILTERS), ("is_datetime", DAY_FILTERS)) + tuple(
            (marker, filters) for marker, filters in escaped_text_filters(converter).conversion_table
            if marker not in ("is_time", "is_date", "is_datetime")),
    })


class BillingInterface(SQLAInterface):
    """FAB's data access without its commits: add, edit and delete flush; the unit of work commits.

    FAB passes `commit`; it is ignored on purpose.
    """

    filter_converter_class = FilterConverter

    def is_time(self, col_name):
        column = self.list_columns.get(col_name)
        return column is not None and hasattr(column, "type") and _is_sqla_type(column.type, sa_types.Time)

    def apply_all(self, query, *args, related=(), **kwargs):
        """FAB's filters, order and page, with every eager load of the list's query (`eager_loads`): `related`
        names the many-to-one relations the caller reads of every row besides the list's own (an export's
        columns), which this interface loads as it decides."""
        return super().apply_all(query, *args, **kwargs).options(*self.eager_loads(related))

    def eager_loads(self, related=()):
        """The one place that chooses the loaders of the list's query (SQLAlchemy refuses two strategies for
        one relation): each relation of `related` read with one statement more per page. An interface that
        loads more with its rows (ClientListInterface) says it here."""
        return [selectinload(getattr(self.obj, name)) for name in related]

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        # An id no record can have answers "not found" (FAB would pass SQLite a number it overflows on).
        pk = as_id(id)
        if pk is None:
            return None
        return super().get(pk, filters, select_columns=select_columns, outer_default_load=outer_default_load)

    def add(self, item, commit=True):
        self.session.add(item)
        self.session.flush()

    def edit(self, item, commit=True):
        self.session.merge(item)
        self.session.flush()

    def delete(self, item, commit=True):
        self.session.delete(item)
        self.session.flush()

    def delete_all(self, items):
        for item in items:
            self.session.delete(item)
        self.session.flush()


@dataclass(frozen=True)
class RecordOperations:
    """A module's operations behind its generated add, edit and delete, for its view and its API alike.

    create(actor, **values) -> record; update(actor, record, **values) -> record;
    delete(actor, record). Each raises FieldErrors and only flushes. A missing
    one falls back to storing the values under the view's pre_add/pre_update
    rules (RecordRules, dealer scoping).
    """

    create: Callable = None
    update: Callable = None
    delete: Callable = None
    # update takes `notices`, a list receiving what the operator is to be told of the change (the panel flashes
    # it, the API answers it as `messages`).
    tells: bool = False


class RecordAdapter:
    """What a generated view and a generated API share: where add, edit and delete go."""

    operations = RecordOperations()

    def create_record(self, actor, values):
        if self.operations.create is not None:
            return self.operations.create(actor, **values)
        item = self.datamodel.obj()
        for name, value in values.items():
            setattr(item, name, value)
        self.pre_add(item)
        self.datamodel.add(item)
        self.post_add(item)
        return item

    def update_record(self, actor, item, values, notices=None):
        """The update; `notices`, a list, receives what the operation tells the operator (RecordOperations.tells)."""
        if self.operations.update is not None:
            if self.operations.tells:
                return self.operations.update(actor, item, notices=notices, **values)
            return self.operations.update(actor, item, **values)
        for name, value in values.items():
            setattr(item, name, value)
        self.pre_update(item)
        self.datamodel.edit(item)
        self.post_update(item)
        return item

    def delete_record(self, actor, item):
        if self.operations.delete is not None:
            return self.operations.delete(actor, item)
        self.pre_delete(item)
        self.datamodel.delete(item)
        self.post_delete(item)
        return None


def show_refusal_on_form(form, refusal):
    """A refusal's messages under the fields they are about; the rest flashed."""
    for name, messages in refusal.errors.items():
        if name in form and messages:
            form[name].errors = list(form[name].errors or ()) + [str(message) for message in messages]
        else:
            for message in messages:
                flash(str(message), "danger")


class shown_refusals:
    """`with shown_refusals():` around an operation and what follows its success (a flash, a redirect): a
    FieldErrors refusal raised inside is undone (discard) and flashed — or shown under the form's fields with
    `form` — and the view goes on after the block (its redirect, or the form again). A typed value no parser
    reads (InvalidValue) is flashed the same way. `conflict`: the message for an IntegrityError (the same
    request twice at once, a record in use). `.refused` is the refusal, None when there was none.
    """

    def __init__(self, form=None, conflict=None):
        self.form = form
        self.conflict = conflict
        self.refused = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _traceback):
        if isinstance(error, FieldErrors):
            self.refused = error
        elif isinstance(error, InvalidValue):
            self.refused = FieldErrors({"_schema": [error.message]})
        elif isinstance(error, IntegrityError) and self.conflict is not None:
            self.refused = FieldErrors({"_schema": [self.conflict]})
        else:
            return False
        discard()
        if self.form is not None:
            show_refusal_on_form(self.form, self.refused)
        else:
            flash(str(self.refused), "danger")
        return True


def form_values(form, columns):
    """The form's values for the view's declared columns, as an operation takes them."""
    return {field.name: field.data for field in form if field.name in columns}


# The home page's parts: the clients' search and their day's figures, the cash desk's takings, the operator's
# latest LOG entries (each module adds its own in its register(); each part decides what the operator may see).
HOME_PAGE = PageSections()


class HomeView(IndexView):
    index_template = "billing_index.html"

    @expose("/")
    def index(self):
        actor = current_operator()
        values = HOME_PAGE.context(None, actor) if actor is not None else {"section_templates": []}
        return self.render_template(self.index_template, appbuilder=self.appbuilder, **values)


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

    `record_errors` is the module's services rule (record) -> {field: [message]}
    for modules whose records are stored without an operation of their own;
    a refusal raises FieldErrors: the panel shows it under the fields, the
    REST API answers 422, and nothing is stored.
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


def _record_history(model_class, pk):
    return []


def show_history_with(record_history):
    """The LOG module's `record_history(model, pk)`: what a record page shows under the record."""
    global _record_history
    _record_history = record_history


class ListNote:
    """An empty list says in one line what belongs in it and how it gets there, not only "Няма намерени записи".

    Each list in the menu declares its `list_note` (lazy_gettext); the shared
    list page (appbuilder/general/model/list.html) shows it when the list is
    empty. tests/core/test_menu_walk.py holds every menu list to it.
    """

    list_note = None

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.setdefault("list_note", self.list_note)
        return super().render_template(template, **kwargs)


class BillingModelView(RecordAdapter, RecordRules, ListNote, ModelView):
    """A ModelView over the module's operations, whose record page also shows the record's LOG history."""

    page_size = 25
    # No file columns anywhere, so no can_download permission in the matrix.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    show_template = "audit/show_with_history.html"

    # record_page(record) -> {name: value}: what a view's record page shows besides the record's columns (its
    # buttons' conditions, its lines); None for a page of the columns alone.
    record_page = None

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs and self.record_page is not None:
            # FAB has answered 404 already for a record the operator may not see.
            record = self.datamodel.get(kwargs["pk"], self._base_filters)
            if record is not None:
                kwargs.update(self.record_page(record))
        # Only a versioned record has a history; a page of one that is not (a notification) shows none.
        # A page that gathers a wider history of its own (the client card) has set it already.
        if template == self.show_template and "pk" in kwargs and hasattr(self.datamodel.obj, "__versioned__") \
                and "history" not in kwargs:
            kwargs["history"] = _record_history(self.datamodel.obj, kwargs["pk"])
        return super().render_template(template, **kwargs)

    # No model has file columns; FAB's file download route is not registered.
    download = _not_routed("download")

    def record_or_404(self, pk):
        """The view's record `pk` as the operator may see it (the view's base filters: dealer scope), or 404."""
        record = self.datamodel.get(pk, self._base_filters)
        if record is None:
            abort(404)
        return record

    def __init__(self, **kwargs):
        # The view's own data access object (each view declares its own; the API's has FAB's filters).
        self.datamodel.filter_converter_class = panel_filter_converter(self.datamodel.filter_converter_class)
        super().__init__(**kwargs)

    def _init_forms(self):
        """The search form's date and moment columns as the day picker, empty: their filters take a day
        (DAY_FILTERS), and a column's default (a payment's paid_at: now, UTC) is no value to search by."""
        super()._init_forms()
        for column in self.search_columns or []:
            if self.datamodel.is_date(column) or self.datamodel.is_datetime(column):
                setattr(self.search_form, column,
                        BulgarianDateField(self.label_columns.get(column, column), validators=[Optional()]))

    # FAB's list page, its columns, filters and order read for the operator by the functions its export uses.
    def _list(self, **kwargs):
        actor = current_operator()
        filters = read_list_filters(self, actor, self._filters)
        order_column, order_direction = list_order(self, actor)
        name = self.__class__.__name__
        widgets = self._get_list_widget(filters=filters, order_column=order_column, order_direction=order_direction,
                                        page=get_page_args().get(name), page_size=get_page_size_args().get(name),
                                        **kwargs)
        form = self.search_form.refresh()
        self.update_redirect()
        widgets["search"] = self.search_widget(route_base=self.route_base, form=form, exclude_cols=[],
                                               include_cols=visible_columns(self, actor, self.search_columns),
                                               filters=filters)
        return widgets

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="", page=None,
                         page_size=None, widgets=None, **kwargs):
        widgets = widgets or {}
        columns = visible_columns(self, current_operator(), self.list_columns)
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        count, items = self.datamodel.query(filters.get_joined_filters(self._base_filters), order_column,
                                            order_direction, page=page, page_size=page_size or self.page_size)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=columns,
            value_columns=self.datamodel.get_values(items, columns),
            order_columns=visible_columns(self, current_operator(), self.order_columns),
            formatters_columns=self.formatters_columns, page=page, page_size=page_size or self.page_size,
            count=count, pks=[self._serialize_pk_if_composite(pk) for pk in self.datamodel.get_keys(items)],
            actions=actions or self.actions, filters=filters, modelview_name=self.__class__.__name__, **kwargs)
        return widgets

    # FAB's _add/_edit/_delete, with the module's operation in place of
    # populate_obj + pre_add + datamodel.add, and a refusal undone and shown
    # under its fields instead of flashed after a half-done save.
    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                created = []
                if self._saved(form, lambda values: created.append(self.create_record(current_operator(), values)),
                               self.add_columns, self.add_row_message):
                    g.added_record = created[0] if created else None
                    return None
        else:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def post_add_redirect(self):
        """A new record's save lands on its own page (where the office goes on with it), not on the list."""
        record = g.pop("added_record", None)
        show = f"{self.endpoint}.show"
        # FAB's own check: app/core is plumbing and may not import app.security (tests/core/test_import_cycles).
        if (record is not None and getattr(record, "id", None) is not None and show in current_app.view_functions
                and current_app.appbuilder.sm.has_access("can_show", self.class_permission_name)):
            return redirect(url_for(show, pk=record.id))
        return super().post_add_redirect()

    def _edit(self, pk):
        pages, page_sizes, orders = get_page_args(), get_page_size_args(), get_order_args()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.record_or_404(pk)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk  # FAB's Unique validator skips the record itself
            if form.validate():
                self.process_form(form, False)
                if self._saved(form, lambda values: self.update_record(current_operator(), item, values),
                               self.edit_columns, self.edit_row_message):
                    return None
                item = self.record_or_404(pk)
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(item, filters={}, orders=orders, pages=pages,
                                               page_sizes=page_sizes, widgets=widgets)

    def _saved(self, form, save, columns, message):
        """Runs the save; True when it is done, else the refusal is undone and shown on the form."""
        with shown_refusals(form, conflict=gettext("Already exists.")):
            save(form_values(form, columns))
            flash(message, "success")
            return True
        return False

    def _delete(self, pk):
        item = self.record_or_404(pk)
        with shown_refusals(conflict=gettext("The record is in use and cannot be deleted.")):
            self.delete_record(current_operator(), item)
            flash(self.delete_row_message, "success")
        self.update_redirect()


class AddedOnly:
    """Put first among a view's bases: records added, then only shown — no generated edit, delete or actions (a
    record's later changes are its own operations' routes)."""

    edit = _not_routed("edit")
    delete = _not_routed("delete")
    action = _not_routed("action")
    action_post = _not_routed("action_post")


class ReadOnlyModelView(AddedOnly, BillingModelView):
    """List and show only: the routes that could change a record do not exist."""

    base_permissions = ["can_list", "can_show"]
    add = _not_routed("add")


class SettingsView(BaseView):
    """A page editing one row of settings (head office's company data, FREEFTP's settings): the form, the
    module's save operation (its refusals under their fields, nothing kept), the row's LOG history.

    A module's view names its form, model, template (extending core/settings.html with its intro) and title,
    and says how its settings are read (`current`) and saved (`save(actor, values)`, the module's operation).
    """

    default_view = "edit"
    method_permission_name = {"edit": "edit"}
    form_class = None
    model = None
    template = "core/settings.html"
    title = None
    saved_message = _l("Saved.")
    label_width = 2  # of 12: the form's label column

    def current(self):
        """The settings as they are: the stored row, or the defaults of one not saved yet."""
        raise NotImplementedError

    def save(self, actor, values):
        raise NotImplementedError

    def page_values(self):
        """More values for the template (its intro's)."""
        return {}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def edit(self):
        settings = self.current()
        form = self.form_class(obj=settings)
        if form.validate_on_submit():
            with shown_refusals(form):
                self.save(current_operator(), form.data)
                flash(str(self.saved_message), "info")
                return redirect(url_for(f"{self.endpoint}.edit"))
        return self.render_template(self.template, form=form, history=_record_history(self.model, SETTINGS_ID),
                                    saved=inspect(settings).persistent, title=self.title,
                                    label_width=self.label_width, **self.page_values())


# Lists that grow without bound (payments, the LOG) count at most this many
# rows: an exact count(*) reads the whole table on every page view.
COUNT_CAP = 10_000


class CappedCountInterface(BillingInterface):
    """A datamodel whose list count stops at COUNT_CAP + 1 (shown as "over 10000")."""

    def query_count(self, query, filters=None, select_columns=None):
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        return inner.limit(COUNT_CAP + 1).count()


class CappedCountListWidget(ListWidget):
    """The list widget for CappedCountInterface: says "over 10000" instead of a false exact count."""

    template = "core/capped_count_list.html"

    def __init__(self, **kwargs):
        super().__init__(count_cap=COUNT_CAP, **kwargs)


MAX_PAGE = 1_000_000
# A time and a day in a list query, as the database will take them (Python reads RFC 3339 as it does).
QUERY_FORMATS = FormatChecker(formats=())
QUERY_FORMATS.checks("date-time", raises=ValueError)(
    lambda value: not isinstance(value, str) or datetime.datetime.fromisoformat(value.upper()) is not None)
QUERY_FORMATS.checks("date", raises=ValueError)(
    lambda value: not isinstance(value, str) or datetime.date.fromisoformat(value) is not None)
LIST_OPERATORS = {"in", "not_in"}
# What a column's filter compares, as JSON: SQL's own range of whole numbers (beyond it SQLite overflows).
WHOLE_NUMBER = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}


# The PUT's answer beside the record: what the operator is told of the change, as the panel flashes it.
PUT_MESSAGES = """\
                      messages:
                        description: What the operator is told of the change, as the panel shows it after saving
                          (e.g. how many subscriptions of a service got their IPv6 prefixes); empty when nothing.
                        type: array
                        items:
                          type: string
"""


def _on_record_ids(method, answer_also=None):
    """FAB's route of `method` with its record id typed as a whole number, as its GET's already is.

    FAB routes PUT and DELETE at "/<pk>" (any text): "/-1" then matched
    PUT and DELETE but not GET (405 to GET), and "/_info" took PUT and
    DELETE (400, with PUT and DELETE advertised in its Allow). With
    "/<int:pk>" an address that is no record's is 404 to every method, and
    "/_info" answers 405 to all but GET.
    """

    @functools.wraps(method)  # FAB's permission name, docstring (the spec) and decorators' marks come along
    def on_record_ids(self, pk):
        return method(self, pk)

    on_record_ids._urls = [(url.replace("<pk>", "<int:pk>"), methods) for url, methods in method._urls]
    if answer_also:  # more properties of the 200 answer's object, in the spec (the docstring FAB reads)
        result = "                      result:\n"
        assert on_record_ids.__doc__.count(result) == 1, "FAB's PUT docstring changed"
        on_record_ids.__doc__ = on_record_ids.__doc__.replace(result, answer_also + result)
    return on_record_ids


class BillingModelApi(RecordAdapter, RecordRules, ModelRestApi):
    """A ModelRestApi over the module's operations: refusals answer 422 and change nothing."""

    model2schemaconverter = NullableRelationsConverter
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

    put = _on_record_ids(ModelRestApi.put, answer_also=PUT_MESSAGES)
    delete = _on_record_ids(ModelRestApi.delete)

    def json_body(self):
        """The request's JSON object, or the 400 that says one is expected (an Answer, see @api_operation)."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Answer(self.response_400(message=gettext("A JSON object is expected.")))
        return body

    def found(self, record):
        """The record the path names, or the 404 when there is none the operator may see (an Answer)."""
        if record is None:
            raise Answer(self.response_404())
        return record

    def loaded(self, schema, body, **kwargs):
        """The body as the schema loads it, or the 422 that says what is wrong with it (an Answer)."""
        values, refusal = self._load(schema, body, **kwargs)
        if refusal is not None:
            discard()
            raise Answer(refusal)
        return values

    def _raw_errors(self, body):
        errors = {}
        for field, check in self.raw_checks.items():
            if body.get(field) not in (None, ""):
                try:
                    check(body[field])
                except InvalidValue as error:
                    errors[field] = [str(error.message)]
        return errors

    def _refused(self, refusal):
        discard()
        return self.response_422(message=refusal.errors)

    def _related_errors(self, body, columns):
        """Related records named other than by an existing record's id: a nested object, text, a huge number."""
        relations = inspect(self.datamodel.obj).relationships
        errors = {}
        for name in columns:
            if name not in body or name not in relations:
                continue
            value = body[name]
            if relations[name].uselist:
                fine = isinstance(value, list) and all(as_id(item) is not None and not isinstance(item, str)
                                                       for item in value)
            else:
                fine = value is None or (as_id(value) is not None and not isinstance(value, str))
            if not fine:
                errors[name] = [gettext("Name an existing record by its id.")]
        return errors

    def _taken_errors(self, body, columns, pk=None):
        """Unique columns whose value another record has already, as the panel's form says it: "Вече съществува."."""
        model = self.datamodel.obj
        mapper = inspect(model)
        key = mapper.primary_key[0]
        errors = {}
        for name in columns:
            column = mapper.columns.get(name)
            if column is None or not column.unique or name not in body or body[name] is None:
                continue
            query = self.datamodel.session.query(key).filter(column == body[name])
            if pk is not None:
                query = query.filter(key != pk)
            with self.datamodel.session.no_autoflush:
                if query.first() is not None:
                    errors[name] = [gettext("Already exists.")]
        return errors

    def _type_errors(self, schema, body):
        """The body's values the schema's own fields refuse (a number or a boolean for a name, text for a date).

        Run before anything of the body reaches the database: a number compared
        with a text column is an error in PostgreSQL (a 500), not "no match".
        Relations are _related_errors' (FAB's related fields look records up
        while they load).
        """
        relations = inspect(self.datamodel.obj).relationships
        return schema.validate({name: value for name, value in body.items() if name not in relations}, partial=True)

    def _body_errors(self, schema, body, columns, pk=None):
        """What is wrong with a body, {field: [message]}, decided before it is loaded or stored; {} when nothing.

        The one place a body is judged before the schema loads it: types first
        (so no rule or query meets a value of the wrong type), then the module's
        raw checks, related records by id, and unique values already taken.
        """
        errors = self._type_errors(schema, body)
        checked = {name: value for name, value in body.items() if name not in errors}
        errors.update({**self._raw_errors(checked), **self._related_errors(checked, columns)})
        if errors:
            return errors
        return self._taken_errors(body, columns, pk=pk)

    def _load(self, schema, body, **kwargs):
        """The body as the schema loads it, or the 422 that says what is wrong with it."""
        try:
            return schema.load(body, **kwargs), None
        except ValidationError as error:
            return None, self.response_422(message=error.messages)
        except (TypeError, ValueError, OverflowError):
            # A value of a type the schema's own fields cannot take (FAB's related fields raise, not refuse).
            discard()
            return None, self.response_422(message={"_schema": [gettext("Not valid: check the values sent.")]})

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        # FAB asks gettext("") for a column without one, which is the catalog's header.
        if not self.label_columns.get(field.name):
            info["label"] = self._prettify_column(field.name)
        if field.name in self.description_columns:
            info["description"] = str(self.description_columns[field.name])
        else:
            info.pop("description", None)
        return info

    def _filter_value_schema(self, column):
        """What a filter on `column` compares with: the column's own type (a record by its id for a relation)."""
        model = self.datamodel
        if model.is_relation(column):
            return {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
        if model.is_enum(column):
            return {"type": "string", "enum": list(model.list_columns[column].type.enums)}
        if model.is_boolean(column):
            return {"type": "boolean"}
        if model.is_integer(column):
            return dict(WHOLE_NUMBER)
        if model.is_numeric(column) or model.is_float(column):
            return {"type": "number"}
        if model.is_datetime(column):
            return {"type": "string", "format": "date-time"}
        if model.is_date(column):
            return {"type": "string", "format": "date"}
        return {"type": "string"}

    def list_query_schema(self):
        """The list's `q` as this API reads it: its own filter columns, operators and value types, its order columns.

        The one description of a list query: published in the spec (app.core.openapi) and checked
        against every request (get_list_headless), so the two cannot disagree.
        """
        filters = []
        for column, found in sorted(self._filters._search_filters.items()):
            value = self._filter_value_schema(column)
            operators = {item.arg_name for item in found}
            # "in" and "not_in" take a list of values, every other operator one value.
            for names, taken in ((operators - LIST_OPERATORS, value),
                                 (operators & LIST_OPERATORS, {"type": "array", "items": value})):
                if names:
                    filters.append({"type": "object", "required": ["col", "opr", "value"],
                                    "properties": {"col": {"enum": [column]}, "opr": {"enum": sorted(names)},
                                                   "value": taken}})
        return {
            "type": "object",
            "additionalProperties": False,  # FAB reads nothing else; an unknown key is a mistake, said so
            "not": {"required": ["columns", "select_columns"]},  # FAB takes one or the other (400 for both)
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "select_columns": {"type": "array", "items": {"type": "string"}},
                "keys": {"type": "array", "items": {"type": "string", "enum": [
                    "list_columns", "order_columns", "label_columns", "description_columns", "list_title", "none"]}},
                "filters": {"type": "array", "items": {"anyOf": filters} if filters else {"not": {}}},
                "order_column": {"type": "string", "enum": list(self.order_columns)},
                "order_direction": {"type": "string", "enum": ["asc", "desc"]},
                "page": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
                "page_size": {"type": "integer", "minimum": 1,
                              "maximum": self.max_page_size or current_app.config.get("FAB_API_MAX_PAGE_SIZE") or MAX_PAGE},
            },
        }

    def _query_error(self, query):
        """Why a list query does not fit list_query_schema, in one sentence; None when it fits."""
        for error in Draft7Validator(self.list_query_schema(), format_checker=QUERY_FORMATS).iter_errors(query):
            where = "/".join(str(part) for part in error.absolute_path) or "q"
            return gettext("The list query q does not fit this list at %(where)s.", where=where)
        return None

    def get_list_headless(self, **kwargs):
        refusal = self._query_error(kwargs.get("rison") or {})
        if refusal is not None:
            return self.response_400(message=refusal)
        page = (kwargs.get("rison") or {}).get("page")
        if page is not None and not (isinstance(page, int) and 0 <= page <= MAX_PAGE):
            # SQLite overflows on an OFFSET beyond 64 bits; no list has that many pages anyway.
            return self.response_400(message=gettext("The page is a whole number from 0 to %(max)d.", max=MAX_PAGE))
        return super().get_list_headless(**kwargs)

    def _judged(self, schema, body, columns, pk=None):
        """The body with nothing _body_errors refuses, or the 422 that lists what it refuses (an Answer)."""
        errors = self._body_errors(schema, body, columns, pk=pk)
        if errors:
            raise Answer(self.response_422(message=errors))
        return body

    @api_operation
    def post_headless(self):
        body = self._judged(self.add_model_schema, self.json_body(), self.add_columns)
        item = self.loaded(self.add_model_schema, body)
        try:
            values = sent_values(item, body, self.add_columns)
            if self.operations.create is not None:
                _forget_loaded(item)  # the operation builds the record itself
            record = self.create_record(current_operator(), values)
        except IntegrityError:
            return self._refused(FieldErrors({"_schema": [gettext("Already exists.")]}))
        return self.response(201, result=self.add_model_schema.dump(record, many=False),
                             id=self.datamodel.get_pk_value(record))

    @api_operation
    def put_headless(self, pk):
        body = self.json_body()
        item = self.found(self.datamodel.get(pk, self._base_filters))
        self._judged(self.edit_model_schema, body, self.edit_columns, pk=item.id)
        item = self.loaded(self.edit_model_schema, self._merge_update_item(item, body), instance=item)
        notices = []
        try:
            record = self.update_record(current_operator(), item, sent_values(item, body, self.edit_columns),
                                        notices=notices)
        except IntegrityError:
            return self._refused(FieldErrors({"_schema": [gettext("Already exists.")]}))
        # What the panel would flash after the same change (e.g. how many subscriptions got IPv6 prefixes).
        return self.response(200, result=self.edit_model_schema.dump(record, many=False),
                             messages=[str(notice) for notice in notices])

    def _merge_update_item(self, model_item, data):
        """FAB's PUT-as-PATCH merge, without the write-only secrets: a PUT that leaves out a password keeps
        it (the record is not answered with it, so the dump has none to copy)."""
        data_item = self.edit_model_schema.dump(model_item, many=False)
        for name in self.edit_columns:
            if name not in data and name in data_item:
                data[name] = data_item[name]
        return data

    @api_operation
    def delete_headless(self, pk):
        item = self.found(self.datamodel.get(pk, self._base_filters))
        try:
            self.delete_record(current_operator(), item)
        except IntegrityError:
            return self._refused(FieldErrors({"_schema": [gettext("The record is in use and cannot be deleted.")]}))
        return self.response(200, message="OK")


def _forget_loaded(item):
    """Unlinks the schema's transient copy of a body from the records it names.

    Through back_populates it would otherwise sit in their collections
    (client.subscriptions) until the end of the request.
    """
    state = inspect(item)
    for relationship in state.mapper.relationships:
        if relationship.key in state.dict:
            setattr(item, relationship.key, [] if relationship.uselist else None)


def sent_values(item, body, columns):
    """The values a JSON body set, as the schema loaded them onto `item`.

    Related records are existing ones by then: _related_errors refused any
    relation not named by an id before the schema loaded the body.
    """
    return {name: getattr(item, name) for name in columns if name in body}
