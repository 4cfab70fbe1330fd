"""Operator accounts and roles (the full role matrix grows in the security issue)."""
import secrets
from datetime import datetime

from flask import current_app
from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from flask_babel import gettext
from sqlalchemy import exists, func, select
from werkzeug.security import generate_password_hash

from app.audit.models import LogEntry
from app.core.errors import FieldErrors
from app.core.scoping import refuse_out_of_scope
from app.extensions import db
from app.security import permissions as p
from app.security.models import AppliedRoleGrant, Operator
from app.security.rights import is_administrator, may_access, permission_set


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
    # Every right, but not the duty of a one-time code: that one an administrator gives a role on purpose.
    duty = p.RIGHTS[p.TWO_FACTOR_LOGIN]
    for permission_view in session.query(security.permissionview_model):
        if (permission_view.permission.name, permission_view.view_menu.name) == duty:
            continue
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
        # A menu entry of its own, with no items under it (Справки), is opened as its view is.
        if getattr(category, "baseview", None) is not None and \
                category.baseview.class_permission_name in granted_views:
            grants.add(("menu_access", category.name))
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
    if operator.id is not None and operator.id == actor.id and not operator.active:
        errors["active"] = [gettext("You cannot deactivate your own account.")]
    admin_role = current_app.appbuilder.sm.auth_role_admin
    stays_administrator = operator.active and any(role.name == admin_role for role in operator.roles or [])
    if operator.id is not None and not stays_administrator and is_administrator(operator) \
            and not other_active_administrators(operator):
        errors["roles"] = errors.get("roles", []) + [
            gettext("This is the last active administrator: give another operator the role first.")]
    return errors


# What an operator's form or the API's body may set; the form's password confirmation was checked by the form.
OPERATOR_FIELDS = ("first_name", "last_name", "username", "email", "active", "dealer", "roles", "allowed_services")


def hash_password(password):
    """A password as stored: hashed the way FAB's login checks it (FAB_PASSWORD_HASH_METHOD)."""
    return generate_password_hash(password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                                  salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def _store_operator(actor, operator, values):
    values.pop("conf_password", None)
    unknown = set(values) - set(OPERATOR_FIELDS)
    if unknown:
        raise FieldErrors({name: [gettext("This field cannot be changed here.")] for name in unknown})
    with db.session.no_autoflush:
        for name, value in values.items():
            setattr(operator, name, value)
        refuse_out_of_scope(operator, actor)
        errors = operator_errors(actor, operator)
    if errors:
        raise FieldErrors(errors)
    db.session.add(operator)
    db.session.flush()
    return operator


def create_operator(actor, *, password=None, **values):
    """A new operator account, its password stored hashed: the "add" permission of operators, roles the
    actor may give, within the actor's dealer. Flushes; FieldErrors."""
    if not may_access(actor, "can_add", "Operator"):
        raise FieldErrors({"username": [gettext("You do not have the right to do this.")]})
    if not password:
        raise FieldErrors({"password": [gettext("Enter the password.")]})
    operator = Operator(password=hash_password(password), created_by_fk=getattr(actor, "id", None))
    return _store_operator(actor, operator, values)


def update_operator(actor, operator, **values):
    """An operator's account changed (not the password: that has its own form): the "edit" permission of
    operators, under the same rules as a new one. Flushes; FieldErrors."""
    if not may_access(actor, "can_edit", "Operator"):
        raise FieldErrors({"username": [gettext("You do not have the right to do this.")]})
    operator.changed_on = datetime.now()  # as FAB stamps it
    operator.changed_by_fk = getattr(actor, "id", None)
    return _store_operator(actor, operator, values)


def other_active_administrators(operator):
    """How many active operators other than this one hold the administrator role (as stored)."""
    security = current_app.appbuilder.sm
    with db.session.no_autoflush:
        return db.session.scalar(
            select(func.count(Operator.id))
            .join(assoc_user_role, assoc_user_role.c.user_id == Operator.id)
            .join(Role, Role.id == assoc_user_role.c.role_id)
            .where(Role.name == security.auth_role_admin, Operator.active.is_(True), Operator.id != operator.id)
        )


def has_history(operator):
    """True when the operator did anything on record: every login, change and payment is in the LOG."""
    return db.session.scalar(select(exists().where(LogEntry.user_id == operator.id)))


def delete_operator(actor, operator):
    """Deletes an operator who has done nothing yet; one with history is deactivated instead. Flushes.

    Nobody deletes their own account or the last active administrator.
    """
    if not may_access(actor, "can_delete", "Operator"):
        raise FieldErrors({"username": [gettext("You do not have the right to do this.")]})
    if operator.id == actor.id:
        raise FieldErrors({"username": [gettext("You cannot delete your own account.")]})
    if is_administrator(operator) and not other_active_administrators(operator):
        raise FieldErrors({"username": [
            gettext("This is the last active administrator: give another operator the role first.")]})
    if has_history(operator):
        raise FieldErrors({"active": [gettext(
            "%(operator)s has a history in the LOG; deactivate the account instead of deleting it.",
            operator=operator)]})
    db.session.delete(operator)
    db.session.flush()
