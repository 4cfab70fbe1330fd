"""The panel's login: FAB's password form, then the one-time code for operators who need one.

An operator who must use a code and has not enrolled yet is not shown a key
after the password: they get an enrolment link by e-mail (or from an
administrator), and the link's page takes the password and shows the key.
"""
from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext
from flask_login import login_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.audit.models import LogEntry
from app.audit.services import record_event, record_security_event
from app.extensions import db
from app.security.models import Operator
from app.security.two_factor import (
    accept_code,
    enrol,
    has_valid_enrolment_link,
    issue_enrolment_link,
    needs_second_factor,
    new_secret,
    operator_of_enrolment_link,
    provisioning_uri,
)

PENDING = "billing_pending_login"  # {operator id, next url, and while enrolling: the link's token and the new key}


class CodeForm(DynamicForm):
    code = StringField(validators=[DataRequired()])


class EnrolmentPasswordForm(DynamicForm):
    password = PasswordField(validators=[DataRequired()])


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
            if needs_second_factor(user) and not user.totp_secret:
                return self._offer_enrolment(user)
            if needs_second_factor(user):
                session[PENDING] = {"id": user.id, "next": next_url}
                return redirect(url_for(".code"))
            login_user(user, remember=False)
            return redirect(next_url)
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)

    def _offer_enrolment(self, operator):
        """The password was right but the operator has no key: a link to their e-mail, never a key here."""
        if not has_valid_enrolment_link(operator):
            issue_enrolment_link(operator, operator)
        flash(gettext("Your role requires a one-time code at every login. We have sent a link for enrolling your "
                      "authenticator app to your e-mail address; open it. If it does not reach you, ask your "
                      "administrator for an enrolment link."), "info")
        return redirect(self.appbuilder.get_url_for_login)

    @expose("/login/enrol/<token>", methods=["GET", "POST"])
    def enrol(self, token):
        """An enrolment link: the operator's password, then the new key and its first code (/login/code/)."""
        operator = operator_of_enrolment_link(token)
        if operator is None:
            return self.render_template("security/enrol.html", appbuilder=self.appbuilder, operator=None,
                                        title=gettext("Enrolment of a one-time code")), 404
        form = EnrolmentPasswordForm()
        if form.validate_on_submit():
            if self.appbuilder.sm.auth_user_db(operator.username, form.password.data) is None:
                flash(gettext("Wrong username or password."), "warning")
            else:
                session[PENDING] = {"id": operator.id, "next": "", "token": token, "secret": new_secret()}
                return redirect(url_for(".code"))
        return self.render_template("security/enrol.html", appbuilder=self.appbuilder, operator=operator, form=form,
                                    title=gettext("Enrolment of a one-time code"))

    @expose("/login/code/", methods=["GET", "POST"])
    def code(self):
        """The second step: the code from the app; while enrolling through a link, first the key to add."""
        pending = session.get(PENDING)
        operator = db.session.get(Operator, pending["id"]) if pending else None
        if operator is None or not operator.is_active:
            session.pop(PENDING, None)
            return redirect(self.appbuilder.get_url_for_login)
        form = CodeForm()
        enrolling = pending.get("secret")
        if enrolling and operator_of_enrolment_link(pending.get("token")) is None:
            session.pop(PENDING, None)
            flash(gettext("This enrolment link no longer works: it was used, it expired or a newer one was sent."),
                  "warning")
            return redirect(self.appbuilder.get_url_for_login)
        if form.validate_on_submit():
            accepted = enrol(operator, pending.get("token"), enrolling, form.code.data) if enrolling \
                else accept_code(operator, form.code.data)
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
