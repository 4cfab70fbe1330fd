"""The one server-side check of an actor's rights: `may(actor, right)`.

An operator's rights are the (permission, view menu) pairs of the roles
stored for them, read with one query and kept for the rest of the unit of
work (request, job); FAB's own menu and button checks read the same set
(app.security.manager). A system actor (app.core.actors.SystemActor) holds
exactly the business rights it was given.
"""
from functools import wraps

from flask import abort, current_app
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
    assoc_user_role,
)

from app.core.actors import SystemActor, current_operator
from app.core.transaction import unit_cache
from app.extensions import db
from app.security.permissions import RIGHTS


def may(actor, right):
    """True when the actor holds `right` (one of app.security.permissions.RIGHTS)."""
    if actor is None or not getattr(actor, "is_active", False):
        return False
    if isinstance(actor, SystemActor):
        return right in actor.rights
    return RIGHTS[right] in permission_set(actor)


def may_access(actor, permission_name, view_name):
    """FAB's question for a view permission ("can_list", "Client"), answered for the actor."""
    if actor is None:
        return False
    if isinstance(actor, SystemActor):
        return (permission_name, view_name) in actor.permissions
    return (permission_name, view_name) in permission_set(actor)


def holding_access(user_model, permission_name, view_name):
    """SQL condition on `user_model` (the operators): one of its roles holds the view permission — may_access
    asked of every operator at once, to list whom a permission lets do something."""
    pair = PermissionView.permission.has(Permission.name == permission_name) & \
        PermissionView.view_menu.has(ViewMenu.name == view_name)
    return user_model.roles.any(Role.permissions.any(pair))


def require_right(right, actor=None):
    """Abort with 403 unless the actor (default: the request's operator) holds `right`."""
    if not may(actor or current_operator(), right):
        abort(403)


def right_required(right):
    """Decorator form of require_right for view methods."""

    def decorate(func):
        @wraps(func)
        def checked(*args, **kwargs):
            require_right(right)
            return func(*args, **kwargs)

        return checked

    return decorate


def held_roles(operator):
    """The operator's roles as stored in the database, ignoring unsaved changes.

    When operators edit themselves, the object being changed is also the one
    that says what they may do: pending role changes must not count, and the
    query must not flush them.
    """
    if operator.id is None:
        return []
    with db.session.no_autoflush:
        return (
            db.session.query(Role)
            .join(assoc_user_role, assoc_user_role.c.role_id == Role.id)
            .filter(assoc_user_role.c.user_id == operator.id)
            .all()
        )


def permission_set(operator):
    """All (permission, view menu) pairs the operator's stored roles hold; one query per unit of work."""
    if operator.id is None:
        return frozenset()
    cache = unit_cache().setdefault("permissions", {})
    if operator.id not in cache:
        with db.session.no_autoflush:
            rows = (
                db.session.query(Permission.name, ViewMenu.name)
                .join(PermissionView, PermissionView.permission_id == Permission.id)
                .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
                .join(assoc_permissionview_role,
                      assoc_permissionview_role.c.permission_view_id == PermissionView.id)
                .join(assoc_user_role, assoc_user_role.c.role_id == assoc_permissionview_role.c.role_id)
                .filter(assoc_user_role.c.user_id == operator.id)
            )
            cache[operator.id] = frozenset(tuple(row) for row in rows)
    return cache[operator.id]


def is_administrator(operator):
    if operator is None or isinstance(operator, SystemActor):
        return False
    admin_role = current_app.appbuilder.sm.auth_role_admin
    return any(role.name == admin_role for role in held_roles(operator))
