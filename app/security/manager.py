"""The application's security manager: FAB's, plus the LOG of logins."""
from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_login import user_logged_out

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.security.models import Operator


class BillingSecurityManager(SecurityManager):
    user_model = Operator

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        from flask import current_app

        user_logged_out.connect(_record_logout, current_app._get_current_object())

    def register_views(self):
        """Login, JWT login and the own-profile forms only.

        Operators, roles and the rights matrix are this application's own
        views (app.security.views); FAB's group, permission and view-menu
        editors are not offered: the rights matrix replaces them.
        """
        self.appbuilder.add_api(self.security_api)
        self.appbuilder.add_view_no_menu(self.userinfoeditview())
        self.auth_view = self.authdbview()
        self.appbuilder.add_view_no_menu(self.resetpasswordview())
        self.appbuilder.add_view_no_menu(self.resetmypasswordview())
        self.appbuilder.add_view_no_menu(self.auth_view)
        if self.is_auth_limited:
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(self.auth_view.blueprint)

    def _has_view_access(self, user, permission_name, view_name):
        """Answered from the operator's permissions, read once per request.

        FAB asks the database once per menu entry and button (about thirty
        queries a page); one query per request gives the same answers.
        """
        if not getattr(user, "is_authenticated", False) or not has_request_context():
            return super()._has_view_access(user, permission_name, view_name)
        cached = getattr(g, "_billing_permissions", None)
        if cached is None or cached[0] != user.id:
            cached = (user.id, self._permission_pairs(user))
            g._billing_permissions = cached
        return (permission_name, view_name) in cached[1]

    def _permission_pairs(self, user):
        from flask_appbuilder.security.sqla.models import (
            Permission,
            PermissionView,
            ViewMenu,
            assoc_permissionview_role,
        )

        role_ids = [role.id for role in self.get_user_roles(user)]
        rows = (
            self.session.query(Permission.name, ViewMenu.name)
            .join(PermissionView, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
            .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
            .filter(assoc_permissionview_role.c.role_id.in_(role_ids))
        )
        return set(rows)

    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is None and username:
            known = self.find_user(username=username)
            record_event(LogEntry.LOGIN_FAILED, user=known, username=username)
        return user

    def on_user_login(self, user):
        record_event(LogEntry.LOGIN, user=user)


def _record_logout(sender, user=None, **extra):
    if user is not None and getattr(user, "is_authenticated", False):
        record_event(LogEntry.LOGOUT, user=user)
