"""FREEFTP in the panel: settings, accounts, registration attempts, the index; and the public pages' blueprint."""
from flask import current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.core.actors import current_operator
from app.core.formatting import format_datetime, format_yes_no
from app.core.links import public_url
from app.core.queue import enqueue
from app.core.transaction import after_commit
from app.core.views import BillingInterface, CappedCountInterface, ReadOnlyModelView, SettingsView, shown_refusals
from app.extensions import db
from app.freeftp import jobs
from app.freeftp.forms import SettingsForm
from app.freeftp.indexer import start_run
from app.freeftp.models import (
    ACCEPTED,
    REFUSED,
    REGISTER,
    RESET,
    FreeFtpAccount,
    FreeFtpAttempt,
    FreeFtpFile,
    FreeFtpIndexRun,
    FreeFtpSettings,
)
from app.freeftp.public import public
from app.freeftp.services import REASON_LABELS, current_settings, save_settings, send_password_reset, \
    set_account_active
from app.radius.services import format_bytes

SETTINGS_LABELS = {
    "enabled": _l("FREEFTP is on"),
    "allowed_networks": _l("Allowed source networks"),
    "email_pattern": _l("E-mail pattern"),
    "email_must_be_client": _l("The e-mail must be an existing client's"),
    "confirm_email": _l("Confirm the e-mail by a link"),
    "download_kbps": _l("Download speed per session (KB/s)"),
    "max_sessions": _l("Concurrent sessions per account"),
    "ftp_root": _l("FTP folder"),
    "homes_root": _l("Folder of the subscriptions' homes"),
    "home_quota_mb": _l("Quota of a home (MB)"),
    "page_text": _l("Text of the public page"),
}
ACCOUNT_LABELS = {
    "username": _l("Username"),
    "password_hash": _l("Password"),
    "email": _l("E-mail"),
    "active": _l("Active"),
    "email_confirmed": _l("E-mail confirmed"),
    "registered_at": _l("Registered"),
    "registered_from": _l("Registered from"),
    "last_login_at": _l("Last login"),
    "last_login_from": _l("Last login from"),
    "logins": _l("Logins"),
    "bytes_downloaded": _l("Downloaded"),
}
ATTEMPT_LABELS = {
    "attempted_at": _l("Time"),
    "remote_addr": _l("IP address"),
    "kind": _l("Request"),
    "outcome": _l("Outcome"),
    "reason": _l("Reason"),
    "username": _l("Username"),
    "email": _l("E-mail"),
    "account": _l("Account"),
}
KINDS = {REGISTER: _l("registration"), RESET: _l("password reset")}
OUTCOMES = {ACCEPTED: _l("accepted"), REFUSED: _l("refused")}
RUN_STATUSES = {"running": _l("running"), "done": _l("done"), "failed": _l("failed")}


def _label(labels):
    return lambda value: str(labels.get(value, value or "—"))


class FreeFtpSettingsView(SettingsView):
    """The one row of FREEFTP's settings."""

    route_base = "/freeftp/settings"
    class_permission_name = "FreeFtpSettings"
    form_class = SettingsForm
    model = FreeFtpSettings
    template = "freeftp/settings.html"
    title = _l("FREEFTP settings")
    label_width = 3

    def current(self):
        return current_settings()

    def save(self, actor, values):
        save_settings(actor, values)

    def page_values(self):
        return {"public_page": public_url("freeftp_public.index")}


class FreeFtpAccountView(ReadOnlyModelView):
    datamodel = BillingInterface(FreeFtpAccount)
    route_base = "/freeftp/accounts"
    class_permission_name = "FreeFtpAccount"
    # can_edit: enable, disable, send a new-password link (the form of FAB's edit is not offered).
    base_permissions = ["can_list", "can_show", "can_edit"]
    method_permission_name = {"list": "list", "show": "show", "active": "edit", "reset": "edit"}
    list_title = _l("FTP accounts")
    list_note = _l(
        "Accounts of the free FTP server. Subscribers make them themselves "
        "on the public FREEFTP page, confirmed by an e-mail link.")
    show_title = _l("FTP account")
    label_columns = ACCOUNT_LABELS
    list_columns = ["username", "email", "active", "email_confirmed", "last_login_at", "bytes_downloaded"]
    show_columns = ["username", "email", "active", "email_confirmed", "registered_at", "registered_from",
                    "last_login_at", "last_login_from", "logins", "bytes_downloaded"]
    search_columns = ["username", "email", "active"]
    order_columns = ["username", "last_login_at", "bytes_downloaded"]
    base_order = ("username", "asc")
    formatters_columns = {"active": format_yes_no, "email_confirmed": format_yes_no,
                          "registered_at": format_datetime, "last_login_at": format_datetime,
                          "bytes_downloaded": format_bytes}
    show_template = "freeftp/account.html"

    def record_page(self, account):
        return {"account": account}

    @expose("/active/<int:pk>", methods=["POST"])
    @has_access
    def active(self, pk):
        account = self.record_or_404(pk)
        wanted = request.form.get("active") == "1"
        with shown_refusals():
            set_account_active(current_operator(), account, wanted)
            flash(gettext("The account is enabled.") if wanted else
                  gettext("The account is disabled: its open FTP sessions end at their next command."), "info")
        return redirect(url_for("FreeFtpAccountView.show", pk=pk))

    @expose("/reset/<int:pk>", methods=["POST"])
    @has_access
    def reset(self, pk):
        account = self.record_or_404(pk)
        with shown_refusals():
            send_password_reset(current_operator(), account)
            flash(gettext("A link to set a new password was sent to %(email)s.", email=account.email), "info")
        return redirect(url_for("FreeFtpAccountView.show", pk=pk))


class FreeFtpAttemptView(ReadOnlyModelView):
    datamodel = CappedCountInterface(FreeFtpAttempt)
    route_base = "/freeftp/registrations"
    class_permission_name = "FreeFtpAttempt"
    list_title = _l("FTP registrations")
    list_note = _l(
        "Every registration and password reset tried on the "
        "public FREEFTP page, accepted or refused, with its reason.")
    show_title = _l("FTP registration")
    label_columns = ATTEMPT_LABELS
    list_columns = ["attempted_at", "remote_addr", "kind", "outcome", "reason", "username", "email"]
    show_columns = list_columns + ["account"]
    search_columns = ["remote_addr", "kind", "outcome", "username", "email"]
    order_columns = ["attempted_at"]
    base_order = ("attempted_at", "desc")
    formatters_columns = {"attempted_at": format_datetime, "kind": _label(KINDS), "outcome": _label(OUTCOMES),
                          "reason": _label(REASON_LABELS)}


class FreeFtpIndexView(BaseView):
    """The index of the FTP folder: its size, the runs with their progress, and a button to run it."""

    route_base = "/freeftp/index"
    class_permission_name = "FreeFtpIndexRun"
    default_view = "status"
    method_permission_name = {"status": "list", "run": "edit"}

    @expose("/", methods=["GET"])
    @has_access
    def status(self):
        runs = db.session.scalars(select(FreeFtpIndexRun).order_by(FreeFtpIndexRun.id.desc()).limit(20)).all()
        files = db.session.scalar(select(func.count(FreeFtpFile.id)))
        size = db.session.scalar(select(func.coalesce(func.sum(FreeFtpFile.size), 0)))
        return self.render_template("freeftp/index_status.html", runs=runs, files=files, size=format_bytes(size),
                                    statuses=RUN_STATUSES, root=current_settings().ftp_root,
                                    title=_l("Index of the FTP folder"),
                                    running=any(run.status == "running" for run in runs))

    @expose("/run", methods=["POST"])
    @has_access
    def run(self):
        if not current_settings().ftp_root:
            flash(gettext("Set the FTP folder in the settings first."), "danger")
            return redirect(url_for("FreeFtpIndexView.status"))
        run_id = start_run()
        if run_id is None:
            flash(gettext("The index is being brought up to date already."), "warning")
        else:
            after_commit(enqueue, jobs.index, current_operator(), run_id, background=True)
            flash(gettext("The index is being brought up to date; this page shows how far it got."), "info")
        return redirect(url_for("FreeFtpIndexView.status"))


def register(appbuilder):
    register_entity(FreeFtpSettings, _l("FREEFTP settings"), SETTINGS_LABELS)
    register_entity(FreeFtpAccount, _l("FTP account"), ACCOUNT_LABELS)
    appbuilder.add_view(FreeFtpAccountView, "FTP accounts", label=_l("FTP accounts"), icon="fa-user",
                        **in_menu("FREEFTP"))
    appbuilder.add_view(FreeFtpAttemptView, "FTP registrations", label=_l("FTP registrations"), icon="fa-list",
                        **in_menu("FREEFTP"))
    appbuilder.add_view(FreeFtpIndexView, "FTP index", label=_l("Index of the FTP folder"), icon="fa-search",
                        **in_menu("FREEFTP"))
    appbuilder.add_view(FreeFtpSettingsView, "FREEFTP settings", label=_l("FREEFTP settings"), icon="fa-cog",
                        **in_menu("FREEFTP"))
    current_app.register_blueprint(public)
