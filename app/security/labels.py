"""Permission and view names as the rights matrix shows them, in Bulgarian."""

from app.audit.formatting import entity_label
from app.security.permissions import PERMISSION_LABELS, VIEW_LABELS


def view_label(name):
    if name in VIEW_LABELS:
        return str(VIEW_LABELS[name])
    return str(entity_label(name))


def permission_name_label(name):
    if name in PERMISSION_LABELS:
        return str(PERMISSION_LABELS[name])
    return name.replace("can_", "").replace("_", " ")


def permission_label(permission_view):
    """"Дилър: редакция" for can_edit on Dealer."""
    return f"{view_label(permission_view.view_menu.name)}: {permission_name_label(permission_view.permission.name)}"


def rights_matrix():
    """(roles, rows): rows are (label, [held by role i]) for every permission."""
    from flask import current_app

    security = current_app.appbuilder.sm
    roles = (
        security.session.query(security.role_model)
        .filter(security.role_model.name != security.auth_role_public)
        .order_by(security.role_model.name)
        .all()
    )
    held = [{pv.id for pv in role.permissions} for role in roles]
    rows = sorted(
        (permission_label(pv), [pv.id in ids for ids in held])
        for pv in security.session.query(security.permissionview_model)
    )
    return roles, rows


