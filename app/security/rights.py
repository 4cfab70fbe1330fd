"""The one server-side check of an operator's rights."""
from functools import wraps

from flask import abort, g

from app.security.permissions import RIGHTS


def current_operator():
    """The operator of this request (panel session or JWT), or None."""
    user = getattr(g, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def has_right(right, operator=None):
    """True when the operator (default: the current one) holds `right`.

    `right` is one of app.security.permissions.RIGHTS.
    """
    operator = operator or current_operator()
    if operator is None or not operator.is_active:
        return False
    return RIGHTS[right] in permission_set(operator)


def require_right(right):
    """Abort with 403 unless the current operator holds `right`."""
    if not has_right(right):
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
    from flask_appbuilder.security.sqla.models import Role, assoc_user_role

    from app.extensions import db

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
    """All (permission, view menu) pairs the operator holds through their roles."""
    return {
        (permission_view.permission.name, permission_view.view_menu.name)
        for role in held_roles(operator)
        for permission_view in role.permissions
    }


def is_administrator(operator):
    from flask import current_app

    admin_role = current_app.appbuilder.sm.auth_role_admin
    return any(role.name == admin_role for role in held_roles(operator))
