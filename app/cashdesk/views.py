"""Panel views of the cashdesk module."""

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.cashdesk.documents import handover_response
from app.cashdesk.models import CashDeskClosing
from app.cashdesk.services import (
    CashDeskRefused,
    close_day,
    closing_of,
    desk_collectors,
    desk_day,
    desk_operators,
    home_takings,
    reachable_operator,
    sees_all_desks,
    visible_desk,
)
from app.core.formatting import local_time, local_today
from app.core.money import format_money
from app.core.pdf import PdfError
from app.core.actors import current_operator
from app.core.transaction import discard
from app.core.views import HOME_PAGE, requested_day
from app.security.permissions import SEE_CASH_BALANCE
from app.security.rights import may_access, require_right


class CashDeskView(BaseView):
    """One operator's (or collector's) takings of one day, and closing the day."""

    route_base = "/cashdesk"
    class_permission_name = "CashDesk"
    default_view = "index"
    # One permission opens the page and its form; the business rights decide the rest.
    method_permission_name = {"index": "list", "close": "list", "handover": "list"}

    @expose("/")
    @has_access
    def index(self):
        require_right(SEE_CASH_BALANCE)
        viewer = current_operator()
        desk = visible_desk(viewer, request.args.get("operator", type=int), request.args.get("collector", type=int))
        if desk is None:
            abort(404)
        day = requested_day("day", local_today())
        return self.render_template(
            "cashdesk/index.html",
            title=_l("Cash desk"),
            desk_day=desk_day(desk, day),
            sees_all=sees_all_desks(viewer),
            operators=desk_operators(viewer),
            collectors=desk_collectors(viewer),
            can_close=desk.operator is not None and day <= local_today(),
            format_money=format_money,
            local_time=local_time,
            # Each row opens its payment (its receipt reprinted from there); the pages keep the dealer scope.
            can_open_payments=may_access(viewer, "can_show", "Payment"),
            can_open_clients=may_access(viewer, "can_show", "Client"),
            payment_url_base=url_for("PaymentView.show", pk=0)[:-1],
            receipt_url_base=url_for("PaymentDocumentsView.receipt", pk=0)[:-1],
            client_url_base=url_for("ClientView.show", pk=0)[:-1],
        )

    @expose("/close", methods=["POST"])
    @has_access
    def close(self):
        require_right(SEE_CASH_BALANCE)
        viewer = current_operator()
        operator = reachable_operator(viewer, request.form.get("operator", type=int))
        if operator is None:
            abort(404)
        day = requested_day("day", source=request.form)
        if day is None:
            abort(400)
        try:
            close_day(viewer, operator, day, request.form.get("note"))
            flash(gettext("The day is closed."), "info")
        except CashDeskRefused as refusal:
            discard()
            flash(str(refusal), "danger")
        return redirect(url_for("CashDeskView.index", operator=operator.id, day=day.isoformat()))

    @expose("/handover")
    @has_access
    def handover(self):
        """The closed day's handover record as a PDF, to be signed."""
        require_right(SEE_CASH_BALANCE)
        operator = reachable_operator(current_operator(), request.args.get("operator", type=int))
        day = requested_day("day")
        if operator is None or day is None:
            abort(404)
        closing = closing_of(operator.id, day)
        if closing is None:
            flash(gettext("Close the day first: the handover record is what the closing counted."), "warning")
            return redirect(url_for("CashDeskView.index", operator=operator.id, day=day.isoformat()))
        try:
            return handover_response(closing)
        except PdfError as error:
            flash(str(error), "danger")
            return redirect(url_for("CashDeskView.index", operator=operator.id, day=day.isoformat()))


CLOSING_LABELS = {
    "operator": _l("Operator"), "operator_id": _l("Operator"), "day": _l("Day"), "closed_at": _l("Closed at"),
    "closed_by": _l("Closed by"), "closed_by_id": _l("Closed by"), "totals": _l("Totals by method and currency"),
    "note": _l("Note"),
}


def home_cash(_record, actor, **_known):
    return {**home_takings(actor), "format_money": format_money}


def register(appbuilder):
    HOME_PAGE.add("home/_takings.html", home_cash, order=20)
    register_entity(CashDeskClosing, _l("Cash desk closing"), CLOSING_LABELS)
    appbuilder.add_view(CashDeskView, "Cash desk", label=_l("Cash desk"), icon="fa-money",
                        **in_menu("Payments"))
