"""Permission and view names as the rights matrix shows them, in Bulgarian."""

from app.audit.formatting import entity_label
from app.security.permissions import PERMISSION_LABELS, VIEW_LABELS


def view_label(name):
    """A view menu's name in the panel's words: its own label, the LOG's name of its model, or else the label
    the menu shows for it (a menu link such as "Week", a view whose model the LOG does not name)."""
    if name in VIEW_LABELS:
        return str(VIEW_LABELS[name])
    label = str(entity_label(name))
    if label != name:
        return label
    return str(_menu_labels().get(name, name))


def _menu_labels():
    """{view menu name: its label in the menu}: menu entries by their name, views also by their permission
    name."""
    from flask import current_app

    labels = {}
    for category in current_app.appbuilder.menu.get_list():
        labels.setdefault(category.name, category.label or category.name)
        for item in category.childs or []:
            if item.name == "-":
                continue
            labels.setdefault(item.name, item.label or item.name)
            if item.baseview is not None:
                labels.setdefault(getattr(item.baseview, "class_permission_name", None) or type(item.baseview).__name__,
                                  item.label or item.name)
    return labels


def permission_name_label(name):
    if name in PERMISSION_LABELS:
        return str(PERMISSION_LABELS[name])
    return name.replace("can_", "").replace("_", " ")


def permission_label(permission_view):
    """"Дилър: редакция" for can_edit on Dealer."""
    return f"{view_label(permission_view.view_menu.name)}: {permission_name_label(permission_view.permission.name)}"


def _groups_by_view_menu(appbuilder):
    """{view menu name: the menu category it sits under, in the panel's words} and the categories' order."""
    groups, order = {}, []
    for category in appbuilder.menu.get_list():
        label = str(category.label or category.name)
        order.append(label)
        groups.setdefault(category.name, label)  # the category's own "menu" permission
        for item in category.childs or [category]:
            view = item.baseview
            names = {item.name}
            if view is not None:
                names.add(getattr(view, "class_permission_name", None) or type(view).__name__)
            for name in names - {None, "-"}:
                groups.setdefault(name, label)
    return groups, order


def rights_matrix():
    """(roles, groups): groups are (module, [(permission, [held by role i])]) in the menu's order, each
    permission once; what sits in no menu (the API, the own profile) comes last, under "Outside the menu"."""
    from flask import current_app
    from flask_babel import gettext

    appbuilder = current_app.appbuilder
    security = appbuilder.sm
    roles = (
        security.session.query(security.role_model)
        .filter(security.role_model.name != security.auth_role_public)
        .order_by(security.role_model.name)
        .all()
    )
    held = [{pv.id for pv in role.permissions} for role in roles]
    by_view, order = _groups_by_view_menu(appbuilder)
    other = gettext("Outside the menu (API, own profile)")
    grouped = {}
    for pv in security.session.query(security.permissionview_model):
        group = by_view.get(pv.view_menu.name, other)
        rows = grouped.setdefault(group, {})
        label = permission_label(pv)
        row = rows.setdefault(label, [False] * len(roles))
        for index, ids in enumerate(held):
            row[index] = row[index] or pv.id in ids
    ranked = order + [other]
    groups = [(group, sorted(rows.items())) for group, rows in
              sorted(grouped.items(), key=lambda item: ranked.index(item[0]) if item[0] in ranked else len(ranked))]
    return roles, groups


