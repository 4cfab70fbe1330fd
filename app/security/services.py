"""Operator accounts and roles (the full role matrix grows in the security issue)."""
import secrets

from flask import current_app
from flask_babel import gettext

from app.security import permissions as p
from app.security.models import AppliedRoleGrant
from app.security.rights import is_administrator, permission_set


def init_roles():
    """Create the built-in roles and synchronise every view's permissions.

    Run after migrations (web processes never write permissions on start).
    The administrator role receives every permission. The other built-in
    roles receive their defaults from app.security.permissions, each grant
    once: what an administrator removes later stays removed.
    """
    appbuilder = current_app.appbuilder
    security = appbuilder.sm
    session = security.session
    admin = security.add_role(security.auth_role_admin)
    security.add_role(security.auth_role_public)
    for role_name in p.ROLE_DEFAULTS:
        security.add_role(role_name)
    appbuilder.add_permissions(update_perms=True)
    for right in p.BUSINESS_RIGHTS:
        security.add_permission_view_menu(*p.RIGHTS[right])

    admin = security.find_role(security.auth_role_admin)
    for permission_view in session.query(security.permissionview_model):
        if permission_view not in admin.permissions:
            admin.permissions.append(permission_view)

    applied = {
        (grant.role_name, grant.permission, grant.view_menu)
        for grant in session.query(AppliedRoleGrant)
    }
    for role_name, defaults in p.ROLE_DEFAULTS.items():
        role = security.find_role(role_name)
        for permission, view_menu in sorted(_default_grants(appbuilder, defaults)):
            if (role_name, permission, view_menu) in applied:
                continue
            permission_view = security.find_permission_view_menu(permission, view_menu)
            if permission_view is not None and permission_view not in role.permissions:
                role.permissions.append(permission_view)
            session.add(AppliedRoleGrant(role_name=role_name, permission=permission, view_menu=view_menu))
    session.flush()
    return admin


def _default_grants(appbuilder, defaults):
    """(permission, view menu) pairs of a role's defaults, menus included."""
    grants = {p.RIGHTS[right] for right in defaults["rights"]}
    for view_name, permissions in defaults["views"].items():
        grants.update((permission, view_name) for permission in permissions)
    # Menus follow the views a role works with (own-profile rights add none).
    granted_views = {view for _permission, view in grants}
    for category in appbuilder.menu.get_list():
        for item in category.childs or []:
            baseview = getattr(item, "baseview", None)
            if baseview is not None and baseview.class_permission_name in granted_views:
                grants.add(("menu_access", item.name))
                grants.add(("menu_access", category.name))
    for view_name, permissions in p.SELF_SERVICE.items():
        grants.update((permission, view_name) for permission in permissions)
    return grants


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



def grantable_roles(actor):
    """Roles the actor may give: all for an administrator, else those whose
    every permission the actor holds already (nobody hands out more than
    they have, themselves included)."""
    security = current_app.appbuilder.sm
    # No autoflush: the actor may be the operator being changed (see held_roles).
    with security.session.no_autoflush:
        return _grantable_roles(security, actor)


def _grantable_roles(security, actor):
    roles = (
        security.session.query(security.role_model)
        .filter(security.role_model.name != security.auth_role_public)
        .order_by(security.role_model.name)
        .all()
    )
    if is_administrator(actor):
        return roles
    held = permission_set(actor)
    return [
        role
        for role in roles
        if {(pv.permission.name, pv.view_menu.name) for pv in role.permissions} <= held
    ]


def operator_errors(actor, operator):
    """Rules for creating or changing an operator, as {field: [message]}."""
    errors = {}
    if actor is None:
        return errors
    allowed = {role.id for role in grantable_roles(actor)}
    if any(role.id not in allowed for role in operator.roles or []):
        errors["roles"] = [gettext("You can give only roles whose rights you hold yourself.")]
    if actor.dealer_id is not None and operator.dealer_id not in (None, actor.dealer_id):
        errors["dealer"] = [gettext("This record belongs to another dealer.")]
    if not operator.roles:
        errors["roles"] = [gettext("Choose at least one role.")]
    return errors
