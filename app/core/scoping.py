"""Dealer scoping: one mechanism that every module's views and APIs declare.

A model is dealer-scoped when it defines

    @classmethod
    def dealer_scope(cls, dealer_id):  # -> SQL condition "row belongs to dealer"

A view or API over such a model (or with relations to one) inherits
DealerScopedView / DealerScopedApi. For an operator of a dealer that gives:
- list, show, edit, delete, search and every REST call see only rows in
  scope (FAB applies base_filters to all of them);
- @action routes check every row they are given (FAB loads those rows
  without base_filters);
- add/edit/search forms and the API's related-choice lists offer only
  related rows in scope;
- a forged form or API body naming an out-of-scope related row is refused,
  and a new record is placed in the operator's dealer.
Head-office operators (no dealer) see everything their rights allow.

Outside FAB, every operation asks the same questions for its explicit
actor: scope(query, actor), in_scope(record, actor), get_in_scope(...),
refuse_out_of_scope(record, actor). A job acting for a dealer's operator
therefore sees exactly what that operator sees in the panel.
"""
from flask import abort, request
from flask_appbuilder import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect

from app.core.actors import current_operator
from app.core.errors import FieldErrors
from app.core.validators import as_id
from app.extensions import db

OUT_OF_SCOPE = _l("This record belongs to another dealer.")


def dealer_of(actor):
    """The dealer the actor is limited to, or None for head office (and unscoped system actors)."""
    return getattr(actor, "dealer_id", None) if actor is not None else None


def is_scoped_model(model):
    return hasattr(model, "dealer_scope")


def scope(query, actor, model=None):
    """`query` (a select() or a Query) limited to the rows the actor may see.

    `model` defaults to the query's first entity. Head office sees every row;
    a dealer's operator (or a job acting for one) only the dealer's.
    """
    dealer_id = dealer_of(actor)
    if dealer_id is None:
        return query
    model = model or query.column_descriptions[0]["entity"]
    if not is_scoped_model(model):
        return query
    return query.filter(model.dealer_scope(dealer_id))


class DealerScopeFilter(BaseFilter):
    """FAB filter: the panel's and the API's queries limited with scope() for the request's operator."""

    name = "dealer scope"
    arg_name = "dealer_scope"

    def apply(self, query, value):
        return scope(query, current_operator(), self.model)


SCOPE_FILTER = ["id", DealerScopeFilter, None]


def in_scope(obj, actor):
    """True when the actor may see this row."""
    dealer_id = dealer_of(actor)
    if dealer_id is None or obj is None or not is_scoped_model(type(obj)):
        return True
    model = type(obj)
    key = inspect(model).primary_key[0]
    # Asked while a new record is being built: it must not be flushed half-done.
    with db.session.no_autoflush:
        return (
            db.session.query(key).filter(key == getattr(obj, key.key), model.dealer_scope(dealer_id)).first()
            is not None
        )


def get_in_scope(model, pk, actor):
    """The row of `model` with this id when the actor may see it, else None (also for a number no id can be)."""
    pk = as_id(pk) if isinstance(pk, int) else None
    if pk is None:
        return None
    return db.session.scalar(scope(db.select(model).where(inspect(model).primary_key[0] == pk), actor, model))


def scoped_relations(model):
    """Names of the model's relationships that point at dealer-scoped models."""
    return [
        rel.key for rel in inspect(model).relationships if is_scoped_model(rel.mapper.class_)
    ]


def refuse_out_of_scope(item, actor):
    """Place a new record in the actor's dealer; refuse relations outside it (FieldErrors)."""
    dealer_id = dealer_of(actor)
    if dealer_id is None:
        return
    if hasattr(item, "dealer_id") and item.dealer_id is None and getattr(item, "dealer", None) is None:
        item.dealer_id = dealer_id
    errors = {}
    for key in scoped_relations(type(item)):
        value = getattr(item, key)
        related = value if isinstance(value, (list, tuple, set)) else [value]
        if any(obj is not None and not in_scope(obj, actor) for obj in related):
            errors[key] = [str(OUT_OF_SCOPE)]
    if hasattr(item, "dealer_id") and item.dealer_id not in (None, dealer_id):
        errors["dealer"] = [str(OUT_OF_SCOPE)]
    if errors:
        raise FieldErrors(errors)


def _scoped_rel_filters(model, columns, existing):
    filters = dict(existing or {})
    for key in scoped_relations(model):
        if key in (columns or []) or columns is None:
            filters[key] = list(filters.get(key, [])) + [SCOPE_FILTER]
    return filters


class _PlacedInScope:
    """The generic save path (no module operation): a new or changed record stays in the operator's scope."""

    def pre_add(self, item):
        super().pre_add(item)
        refuse_out_of_scope(item, current_operator())

    def pre_update(self, item):
        super().pre_update(item)
        refuse_out_of_scope(item, current_operator())


class DealerScopedView(_PlacedInScope):
    """Mixin for a FAB ModelView (put it first among the bases)."""

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        self.base_filters = list(self.base_filters or []) + [SCOPE_FILTER]
        self.add_form_query_rel_fields = _scoped_rel_filters(
            model, None, self.add_form_query_rel_fields
        )
        self.edit_form_query_rel_fields = _scoped_rel_filters(
            model, None, self.edit_form_query_rel_fields
        )
        self.search_form_query_rel_fields = _scoped_rel_filters(
            model, None, self.search_form_query_rel_fields
        )
        super().__init__(**kwargs)

    def _require_rows_in_scope(self, pks):
        for pk in pks:
            if self.datamodel.get(pk, self._base_filters) is None:
                abort(404)

    # Re-exposed with FAB's own routes: an override without @expose would
    # remove the route.
    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._require_rows_in_scope([pk])
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._require_rows_in_scope(request.form.getlist("rowid"))
        return super().action_post()


class DealerScopedApi(_PlacedInScope):
    """Mixin for a ModelRestApi based on app.core.views.BillingModelApi."""

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        self.base_filters = list(self.base_filters or []) + [SCOPE_FILTER]
        self.add_query_rel_fields = _scoped_rel_filters(model, None, self.add_query_rel_fields)
        self.edit_query_rel_fields = _scoped_rel_filters(model, None, self.edit_query_rel_fields)
        super().__init__(**kwargs)
