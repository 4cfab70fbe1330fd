"""Freezes (ваканция) at /freezes/: made from the client card, ended early from the freeze's page."""
from flask import flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import InputRequired

from app.billing.freeze import end_freeze_early, freeze_subscription
from app.billing.models import SubscriptionFreeze
from app.clients.views import BackToTheCard, SubscriptionOfClientFilter
from app.core.actors import current_operator
from app.core.formatting import format_date, format_datetime
from app.core.scoping import DealerScopedView
from app.core.forms import BulgarianDateField
from app.core.validators import parse_day
from app.core.views import AddedOnly, BillingInterface, BillingModelView, RecordOperations, shown_refusals
from app.security.rights import may_access

FREEZE_LABELS = {
    "subscription": _l("Subscription"), "client": _l("Client"), "starts_on": _l("From"), "ends_on": _l("To"),
    "last_day": _l("Frozen until"), "ended_on": _l("Ended early, working again from"), "reason": _l("Reason"),
    "paid_until_before": _l("Paid until before"), "paid_until_after": _l("Paid until after"),
    "created_at": _l("Created"), "created_by": _l("Created by"), "days": _l("Days"),
}


def create_freeze(actor, subscription=None, **values):
    return freeze_subscription(actor, subscription, **values)


class FreezeView(AddedOnly, DealerScopedView, BackToTheCard, BillingModelView):
    datamodel = BillingInterface(SubscriptionFreeze)
    route_base = "/freezes"
    class_permission_name = "SubscriptionFreeze"
    # A freeze is ended early from its page, never edited or deleted.
    base_permissions = ["can_list", "can_show", "can_add"]
    method_permission_name = {"list": "list", "show": "show", "add": "add", "end": "add"}
    list_title = _l("Freezes")
    list_note = _l(
        "Services frozen between two days (a client's holiday). A "
        "freeze is set from the client's card with \"Freeze\".")
    show_title = _l("Freeze")
    add_title = _l("Freeze a subscription")
    show_template = "billing/freeze.html"
    label_columns = FREEZE_LABELS
    list_columns = ["client", "subscription", "starts_on", "last_day", "days", "reason", "created_by"]
    show_columns = ["client", "subscription", "starts_on", "ends_on", "last_day", "ended_on", "days", "reason",
                    "paid_until_before", "paid_until_after", "created_at", "created_by"]
    add_columns = ["subscription", "starts_on", "ends_on", "reason"]
    search_columns = ["starts_on", "last_day", "reason"]
    order_columns = ["starts_on"]
    base_order = ("starts_on", "desc")
    add_form_query_rel_fields = {"subscription": [["id", SubscriptionOfClientFilter, None]]}
    add_form_extra_fields = {
        "starts_on": BulgarianDateField(_l("From"), validators=[InputRequired()]),
        "ends_on": BulgarianDateField(_l("To"), validators=[InputRequired()]),
        "reason": StringField(_l("Reason"), validators=[InputRequired()]),
    }
    formatters_columns = {
        "starts_on": format_date, "ends_on": format_date, "last_day": format_date, "ended_on": format_date,
        "paid_until_before": format_date, "paid_until_after": format_date, "created_at": format_datetime,
    }
    operations = RecordOperations(create=create_freeze)

    def record_page(self, freeze):
        return {"can_end": freeze.ended_on is None and may_access(current_operator(), "can_add", "SubscriptionFreeze")}

    @expose("/end/<int:pk>", methods=["POST"])
    @has_access
    def end(self, pk):
        """Ends a freeze early: the service works again from the day typed; the unused days come off."""
        freeze = self.record_or_404(pk)
        with shown_refusals():
            unused = end_freeze_early(current_operator(), freeze, back_on=parse_day(request.form.get("back_on")))
            flash(gettext("The freeze ends; %(days)d unused days came off \"paid until\".", days=unused), "info")
        return redirect(url_for("FreezeView.show", pk=pk))
