"""Operator accounts and roles (the full role matrix grows in the security issue)."""
import secrets

from flask import current_app


def init_roles():
    """Create the built-in roles and synchronise every view's permissions.

    Run after migrations; web processes never write permissions on start.
    The administrator role receives every permission that exists.
    """
    appbuilder = current_app.appbuilder
    security = appbuilder.sm
    security.add_role(security.auth_role_admin)
    security.add_role(security.auth_role_public)
    appbuilder.add_permissions(update_perms=True)
    admin = security.find_role(security.auth_role_admin)
    for permission_view in security.session.query(security.permissionview_model):
        if permission_view not in admin.permissions:
            admin.permissions.append(permission_view)
    security.session.commit()
    return admin


def ensure_operator(username, password=None, first_name="", last_name="", email=None, role=None):
    """Create an operator unless one with this username exists.

    Returns (operator, password) where password is None for an existing
    operator and the chosen or generated one for a new operator.
    """
    security = current_app.appbuilder.sm
    existing = security.find_user(username=username)
    if existing is not None:
        return existing, None
    password = password or secrets.token_urlsafe(12)
    role = security.find_role(role or security.auth_role_admin)
    operator = security.add_user(
        username=username,
        first_name=first_name or username,
        last_name=last_name or "-",
        email=email or f"{username}@billing.local",
        role=role,
        password=password,
    )
    if not operator:
        raise RuntimeError(f"could not create operator {username}")
    return operator, password
