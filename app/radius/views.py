"""The NAS list (/nas/): the access servers allowed to ask, with their shared secrets kept out of sight."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from app.audit.formatting import register_entity
from app.clients.views import CLIENT_CARD
from app.core.actors import current_operator
from app.core.formatting import format_yes_no
from app.core.views import BillingInterface, BillingModelView
from app.radius import handlers
from app.radius.models import CISCO, JUNIPER, MIKROTIK, OTHER, Nas
from app.radius.services import card_radius, may_read_secret, nas_errors, record_secret_read

VENDOR_CHOICES = [(MIKROTIK, "MikroTik"), (CISCO, "Cisco"), (JUNIPER, "Juniper"), (OTHER, _l("Other"))]
LABELS = {
    "name": _l("Name"), "ip_address": _l("IP address"), "secret": _l("Shared secret"), "vendor": _l("Make"),
    "coa_port": _l("CoA port"), "require_message_authenticator": _l("Requires Message-Authenticator"),
    "description": _l("Description"),
}
HIDDEN = "••••••"


def _vendor_label(value):
    return str(dict(VENDOR_CHOICES).get(value, value))


def secret_as_allowed(secret):
    return secret if may_read_secret(current_operator()) else HIDDEN


class NasView(BillingModelView):
    datamodel = BillingInterface(Nas)
    route_base = "/nas"
    class_permission_name = "Nas"
    # can_secret: the show page shows the shared secret (each time in the LOG).
    base_permissions = BillingModelView.base_permissions + ["can_secret"]
    list_title = _l("NAS")
    show_title = _l("NAS")
    add_title = _l("Add NAS")
    edit_title = _l("Edit NAS")
    label_columns = LABELS
    list_columns = ["name", "ip_address", "vendor", "coa_port", "require_message_authenticator"]
    search_columns = ["name", "ip_address", "vendor"]
    order_columns = ["name", "ip_address"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "ip_address", "secret", "vendor", "coa_port",
                                  "require_message_authenticator", "description"]
    show_columns = ["name", "ip_address", "secret", "vendor", "coa_port", "require_message_authenticator",
                    "description"]
    formatters_columns = {"vendor": _vendor_label, "require_message_authenticator": format_yes_no,
                          "secret": secret_as_allowed}
    add_form_extra_fields = edit_form_extra_fields = {
        "secret": StringField(LABELS["secret"], validators=[Optional()],
                              description=_l("The secret the NAS and this server sign packets with. "
                                             "When editing, leave empty to keep the current one.")),
        "vendor": SelectField(LABELS["vendor"], choices=VENDOR_CHOICES, default=MIKROTIK),
        "coa_port": IntegerField(LABELS["coa_port"], default=3799),
        "require_message_authenticator": BooleanField(LABELS["require_message_authenticator"], default=True),
    }
    description_columns = {
        "ip_address": _l("The address the NAS sends its requests from; packets from any other address are dropped."),
        "coa_port": _l("Where the NAS takes Disconnect and CoA requests (RFC 5176); usually 3799 (Cisco: 1700)."),
        "require_message_authenticator": _l("Drop Access-Requests without a valid Message-Authenticator "
                                            "(protection against BlastRADIUS). Turn off only for a NAS that "
                                            "cannot send one."),
    }
    record_errors = staticmethod(nas_errors)

    def prefill_form(self, form, pk):
        form.secret.data = ""

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            nas = self.datamodel.get(kwargs["pk"])
            if nas is not None:
                record_secret_read(current_operator(), nas)
        return super().render_template(template, **kwargs)


def register(appbuilder):
    register_entity(Nas, _l("NAS"), LABELS, value_labels={"vendor": VENDOR_CHOICES})
    appbuilder.add_view(NasView, "NAS", label=_l("NAS"), icon="fa-server", category="Catalog")
    # After payments (10) and contracts (20): what the network says of the client's subscriptions.
    CLIENT_CARD.add("radius/_card_radius.html", card_radius, order=30)
    handlers.connect()
