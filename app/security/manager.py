"""The application's security manager: FAB's, plus the LOG of logins."""
from flask import jsonify, request
from flask_appbuilder.const import API_SECURITY_PROVIDER_DB
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_babel import gettext
from marshmallow import EXCLUDE
from flask_login import user_logged_in, user_logged_out

from app.audit.models import LogEntry
from app.audit.services import record_event, record_security_event
from app.security.login_view import TwoFactorAuthDBView
from app.security.logins import end_sessions, session_is_current, stamp_session
from app.security.models import Operator
from app.security.rights import may_access
from app.security.two_factor import accept_code, needs_second_factor


class BillingSecurityManager(SecurityManager):
    user_model = Operator
    authdbview = TwoFactorAuthDBView

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        from flask import current_app

        user_logged_out.connect(_record_logout, current_app._get_current_object())
        user_logged_in.connect(_stamp_session, current_app._get_current_object())

    def create_jwt_manager(self, app):
        """FAB's JWT manager, answering a malformed or forged token with 401 (not 422): it is no login."""
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.invalid_token_loader(_refuse_token)
        return jwt_manager

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
        """Answered from the operator's permissions, read once per unit of work.

        FAB asks the database once per menu entry and button (about thirty
        queries a page); app.security.rights reads them once, for this and
        for every business right.
        """
        if not getattr(user, "is_authenticated", False):
            return super()._has_view_access(user, permission_name, view_name)
        return may_access(user, permission_name, view_name)

    def create_login_manager(self, app):
        """FAB's, loading a session's operator through load_session_user (a JWT's goes on through load_user)."""
        login_manager = super().create_login_manager(app)
        login_manager.user_loader(self.load_session_user)
        return login_manager

    def load_session_user(self, pk):
        """The session's operator, unless a logout has ended the session since (app.security.logins)."""
        user = self.load_user(pk)
        return user if user is not None and session_is_current(user) else None

    def on_user_logout(self, user):
        super().on_user_logout(user)
        end_sessions(user)

    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is not None and request.path.startswith("/api/") and needs_second_factor(user):
            # The API has no second step: its login carries the code ("totp") beside the password.
            body = request.get_json(silent=True)
            code = body.get("totp") if isinstance(body, dict) else None
            if not (user.totp_secret and accept_code(user, code if isinstance(code, str) else None)):
                record_security_event(LogEntry.LOGIN_FAILED, user=user, username=username,
                                      note=gettext("Wrong one-time code"))
                return None
        if user is None and username:
            known = self.find_user(username=username)
            # The request fails (401, the form again), yet the attempt stays on record.
            record_security_event(LogEntry.LOGIN_FAILED, user=known, username=username)
        return user

    def on_user_login(self, user):
        # In the panel a login that still needs its one-time code is not a login yet
        # (the code step records it); the API checks the code in the same request.
        if needs_second_factor(user) and not request.path.startswith("/api/"):
            return
        record_event(LogEntry.LOGIN, user=user)


def _record_logout(sender, user=None, **extra):
    if user is not None and getattr(user, "is_authenticated", False):
        record_event(LogEntry.LOGOUT, user=user)


def _stamp_session(sender, user=None, **extra):
    if user is not None:
        stamp_session(user)


def _refuse_token(reason):
    return jsonify(message=gettext("Not a valid access token: log in again.")), 401


# The API's login names its provider optionally, but FAB reads it as if
# required (a KeyError, 500, when it is left out): the database it is.
login_post.load_fields["provider"].load_default = API_SECURITY_PROVIDER_DB
# The one-time code ("totp") travels beside the password; auth_user_db reads it.
login_post.unknown = EXCLUDE
