"""The billing cycle's pages: runs (/billing-runs/) with their progress and effects, and starting a day by hand."""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.billing.models import EFFECT_KINDS, BillingRun, CycleEffect
from app.billing.schedule import run_by_hand
from app.clients.models import Subscription
from app.core.actors import current_operator
from app.core.formatting import format_date, format_datetime, local_today
from app.core.scoping import scope
from app.core.validators import InvalidValue, parse_day
from app.core.views import BillingInterface, ReadOnlyModelView
from app.extensions import db
from app.security.rights import may_access

RUN_STATUS_LABELS = {"running": _l("running"), "done": _l("done"), "failed": _l("failed")}
EFFECT_LABELS = {
    "warning": _l("Warning"), "suspension": _l("Suspension"), "advance": _l("Paid from the advance"),
    "traffic": _l("Extra traffic"),
}
RUN_LABELS = {
    "id": _l("No."), "day": _l("Day"), "status": _l("Status"), "done": _l("Processed"), "total": _l("Selected"),
    "failures": _l("Failed chunks"), "error": _l("Error"), "started_at": _l("Started"),
    "finished_at": _l("Finished"), "started_by": _l("Started by"), "percent": _l("Progress"),
}
MAX_EFFECTS_SHOWN = 500
# Runs stored before "Started by" read on as one phrase ("Пуснат от командния ред") said "от командния ред".
OLD_STARTERS = {"от командния ред": "командния ред", "по график": "графика"}


def started_by_label(value):
    return OLD_STARTERS.get(value, value)


class BillingRunView(ReadOnlyModelView):
    datamodel = BillingInterface(BillingRun)
    route_base = "/billing-runs"
    class_permission_name = "BillingRun"
    method_permission_name = {"list": "list", "show": "show", "start": "add"}
    base_permissions = ["can_list", "can_show", "can_add"]
    list_title = _l("Billing cycle runs")
    list_note = _l(
        "The runs of the billing cycle (advances, extra traffic, warnings, suspensions). It runs "
        "by itself every night; an administrator can also run a day from this page.")
    show_title = _l("Billing cycle run")
    list_template = "billing/runs.html"
    show_template = "billing/run.html"
    label_columns = RUN_LABELS
    list_columns = ["id", "day", "status", "percent", "failures", "started_at", "finished_at", "started_by"]
    show_columns = ["id", "day", "status", "done", "total", "failures", "error", "started_at", "finished_at",
                    "started_by"]
    search_columns = ["day", "status"]
    order_columns = ["id", "day"]
    base_order = ("id", "desc")
    formatters_columns = {
        "day": format_date, "started_at": format_datetime, "finished_at": format_datetime,
        "status": lambda value: str(RUN_STATUS_LABELS.get(value, value)), "started_by": started_by_label,
        "percent": lambda value: progress_bar(value),
    }

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(today=format_date(local_today()),
                          can_start=may_access(current_operator(), "can_add", "BillingRun"))
        if template == self.show_template and "pk" in kwargs:
            run = self.datamodel.get(kwargs["pk"])
            if run is None:
                abort(404)
            # Effects on other dealers' clients stay out of a dealer operator's sight.
            actor = current_operator()
            query = scope(select(CycleEffect).where(CycleEffect.run_id == run.id), actor, CycleEffect)
            counts = dict(db.session.execute(scope(
                select(CycleEffect.kind, func.count()).where(CycleEffect.run_id == run.id), actor, CycleEffect)
                .group_by(CycleEffect.kind)).all())
            # The table shows each effect's client and service: loaded with the effects, not row by row.
            loaded = selectinload(CycleEffect.subscription)
            kwargs.update(run=run, effects=db.session.scalars(
                query.options(loaded.selectinload(Subscription.client), loaded.selectinload(Subscription.service))
                .order_by(CycleEffect.id).limit(MAX_EFFECTS_SHOWN)).all(),
                counts=[(EFFECT_LABELS[kind], counts[kind]) for kind in EFFECT_KINDS if counts.get(kind)],
                effect_labels=EFFECT_LABELS, max_effects=MAX_EFFECTS_SHOWN)
        return super().render_template(template, **kwargs)

    @expose("/start", methods=["POST"])
    @has_access
    def start(self):
        """Runs the cycle for a day now; it never acts twice on what an earlier run of the day did."""
        try:
            day = parse_day(request.form.get("day", ""))
            run = run_by_hand(day, str(current_operator()))
        except InvalidValue as error:
            flash(str(error.message), "danger")
            return redirect(url_for("BillingRunView.list"))
        if run is not None:
            flash(gettext("Run № %(run)s for %(day)s started.", run=run.id, day=format_date(day)), "info")
        else:
            flash(gettext("The run for %(day)s started; refresh to see its progress.", day=format_date(day)), "info")
        return redirect(url_for("BillingRunView.list"))


def progress_bar(percent):
    return Markup('<div class="progress" style="margin:0;min-width:8em"><div class="progress-bar" role="progressbar"'
                  ' style="width:{0}%" aria-valuenow="{0}" aria-valuemin="0" aria-valuemax="100">{0} %</div></div>'
                  ).format(int(percent))
