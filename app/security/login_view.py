"""The panel's login: FAB's password form, then the one-time code for operators who need one."""
from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext
from flask_login import login_user
from wtforms import StringField
from wtforms.validators import DataRequired

from app.audit.models import LogEntry
from app.audit.services import record_event, record_security_event
from app.extensions import db
from app.security.models import Operator
from app.security.two_factor import code_is_valid, enrol, needs_second_factor, new_secret, provisioning_uri

PENDING = "billing_pending_login"  # {operator id, next url, key being enrolled}


class CodeForm(DynamicForm):
    code = StringField(validators=[DataRequired()])


class TwoFactorAuthDBView(AuthDBView):
    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                flash(gettext("Wrong username or password."), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            if needs_second_factor(user):
                session[PENDING] = {"id": user.id, "next": next_url,
                                    "secret": None if user.totp_secret else new_secret()}
                return redirect(url_for(".code"))
            login_user(user, remember=False)
            return redirect(next_url)
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)

    @expose("/login/code/", methods=["GET", "POST"])
    def code(self):
        """The second step: the code from the app; for an operator not enrolled yet, first the key to add."""
        pending = session.get(PENDING)
        operator = db.session.get(Operator, pending["id"]) if pending else None
        if operator is None or not operator.is_active:
            session.pop(PENDING, None)
            return redirect(self.appbuilder.get_url_for_login)
        form = CodeForm()
        enrolling = pending["secret"]
        if form.validate_on_submit():
            accepted = enrol(operator, enrolling, form.code.data) if enrolling \
                else code_is_valid(operator.totp_secret, form.code.data)
            if accepted:
                session.pop(PENDING, None)
                login_user(operator, remember=False)
                record_event(LogEntry.LOGIN, user=operator, note=gettext("with a one-time code"))
                return redirect(pending["next"] or self.appbuilder.get_url_for_index)
            record_security_event(LogEntry.LOGIN_FAILED, user=operator, note=gettext("Wrong one-time code"))
            flash(gettext("The code is not right, or it has expired. Enter the one your app shows now."), "warning")
        return self.render_template("security/login_code.html", form=form, appbuilder=self.appbuilder,
                                    title=gettext("One-time code"), secret=enrolling,
                                    uri=provisioning_uri(operator, enrolling) if enrolling else None)
