"""The notifications page (/notifications/): every e-mail the system queued, to whom, with its status."""
from flask_babel import lazy_gettext as _l

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.core.formatting import format_datetime
from app.core.scoping import DealerScopedView
from app.core.views import BillingInterface, ReadOnlyModelView
from app.notifications.models import MailTemplate, Notification
from app.notifications.template_views import MailTemplateView

STATUS_LABELS = {
    "pending": _l("waiting"), "sending": _l("interrupted while sending"), "sent": _l("sent"),
    "failed": _l("failed, tried again later"),
}
LABELS = {
    "created_at": _l("Queued"), "recipient": _l("To"), "subject": _l("Subject"), "status": _l("Status"),
    "attempts": _l("Attempts"), "error": _l("Error"), "sent_at": _l("Sent"), "client": _l("Client"),
    "body": _l("Text"), "key": _l("Key"),
}


class NotificationView(DealerScopedView, ReadOnlyModelView):
    datamodel = BillingInterface(Notification)
    route_base = "/notifications"
    class_permission_name = "Notification"
    list_title = _l("Notifications")
    list_note = _l(
        "Every e-mail the system has sent or is about to send "
        "(the billing cycle's payment warnings, login and FTP links), with its status.")
    show_title = _l("Notification")
    label_columns = LABELS
    list_columns = ["created_at", "recipient", "client", "subject", "status", "attempts", "sent_at", "error"]
    show_columns = ["created_at", "recipient", "client", "subject", "status", "attempts", "sent_at", "error", "body"]
    search_columns = ["recipient", "subject", "status", "created_at"]
    order_columns = ["created_at", "sent_at"]
    base_order = ("id", "desc")
    formatters_columns = {
        "created_at": format_datetime, "sent_at": format_datetime,
        "status": lambda value: str(STATUS_LABELS.get(value, value)),
    }
    # No actions: the scoping mixin's action routes are not registered either.
    action = ReadOnlyModelView.action
    action_post = ReadOnlyModelView.action_post


def register(appbuilder):
    appbuilder.add_view(NotificationView, "Notifications", label=_l("Notifications"), icon="fa-envelope",
                        **in_menu("Payments"))
    register_entity(MailTemplate, _l("E-mail template"),
                    {"kind": _l("E-mail"), "subject": _l("Subject"), "body": _l("Text"), "updated_at": _l("Changed")})
    appbuilder.add_view(MailTemplateView, "E-mail templates", label=_l("E-mail templates"), icon="fa-envelope-o",
                        **in_menu("Payments"))
