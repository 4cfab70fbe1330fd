"""The NAS list (/nas/): the access servers allowed to ask, with their shared secrets kept out of sight."""
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import false
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.clients.views import CLIENT_CARD
from app.core.actors import current_operator
from app.core.formatting import format_datetime, format_duration, format_yes_no
from app.core.scoping import DealerScopedView
from app.core.views import BillingInterface, BillingModelView, ReadOnlyModelView
from app.radius.auth import WALLED_GARDEN_MESSAGE
from app.radius.models import CISCO, JUNIPER, MIKROTIK, OTHER, Nas, RadiusSession
from app.networks.ipv6 import parse_address as parse_ipv6_address
from app.radius.services import sessions_holding_ipv6
from app.radius.services import card_radius, format_bytes, may_read_secret, nas_errors, record_secret_read

VENDOR_CHOICES = [(MIKROTIK, "MikroTik"), (CISCO, "Cisco"), (JUNIPER, "Juniper"), (OTHER, _l("Other"))]
LABELS = {
    "name": _l("Name"), "ip_address": _l("IP address"), "secret": _l("Shared secret"), "vendor": _l("Make"),
    "coa_port": _l("CoA port"), "require_message_authenticator": _l("Requires Message-Authenticator"),
    "walled_garden_pool": _l("Walled-garden pool"), "walled_garden_message": _l("Walled-garden message"),
    "description": _l("Description"), "nas_identifier": _l("NAS-Identifier"),
    "interim_interval": _l("Interim interval, seconds"),
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
    list_note = _l(
        "The routers and access servers (NAS) that ask RADIUS whether a subscriber may connect. A "
        "NAS is added with the + button above the list, with its address and shared secret.")
    show_title = _l("NAS")
    add_title = _l("Add NAS")
    edit_title = _l("Edit NAS")
    label_columns = LABELS
    column_visible_when = {"secret": may_read_secret}
    list_columns = ["name", "ip_address", "nas_identifier", "vendor", "coa_port", "require_message_authenticator"]
    search_columns = ["name", "ip_address", "nas_identifier", "vendor"]
    order_columns = ["name", "ip_address"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "ip_address", "nas_identifier", "secret", "vendor", "coa_port",
                                  "interim_interval", "require_message_authenticator", "walled_garden_pool",
                                  "walled_garden_message", "description"]
    show_columns = ["name", "ip_address", "nas_identifier", "secret", "vendor", "coa_port", "interim_interval",
                    "require_message_authenticator", "walled_garden_pool", "walled_garden_message", "description"]
    formatters_columns = {"vendor": _vendor_label, "require_message_authenticator": format_yes_no,
                          "secret": secret_as_allowed}
    add_form_extra_fields = edit_form_extra_fields = {
        "secret": StringField(LABELS["secret"], validators=[Optional()], widget=BS3TextFieldWidget(),
                              description=_l("The secret the NAS and this server sign packets with. "
                                             "When editing, leave empty to keep the current one.")),
        "vendor": SelectField(LABELS["vendor"], choices=VENDOR_CHOICES, default=MIKROTIK, widget=Select2Widget()),
        "coa_port": IntegerField(LABELS["coa_port"], default=3799, widget=BS3TextFieldWidget()),
        "interim_interval": IntegerField(
            LABELS["interim_interval"], validators=[Optional()], widget=BS3TextFieldWidget(),
            description=_l("How often the NAS reports a session (Acct-Interim-Interval in the Accept). Empty: "
                           "the server's setting. A session silent for twice this plus a margin is closed.")),
        "require_message_authenticator": BooleanField(LABELS["require_message_authenticator"], default=True),
        "walled_garden_message": TextAreaField(
            LABELS["walled_garden_message"], validators=[Optional(), Length(max=500)],
            widget=BS3TextAreaFieldWidget(), render_kw={"rows": 3},
            description=_l("What a subscriber let into the walled garden reads (Reply-Message). Empty: "
                           "\"%(text)s\"", text=WALLED_GARDEN_MESSAGE)),
    }
    description_columns = {
        "ip_address": _l("The address the NAS sends its requests from; packets from any other address are dropped."),
        "nas_identifier": _l("As the NAS sends it in NAS-Identifier (MikroTik: its identity). Needed only when "
                             "several NAS send from one address (behind NAT): each gets its own, and a NAS with "
                             "one set is asked to send it. Empty: every request from the address that names no "
                             "other NAS of it."),
        "coa_port": _l("Where the NAS takes Disconnect and CoA requests (RFC 5176); usually 3799 (Cisco: 1700)."),
        "require_message_authenticator": _l("Drop Access-Requests without a valid Message-Authenticator "
                                            "(protection against BlastRADIUS). Turn off only for a NAS that "
                                            "cannot send one."),
        "walled_garden_pool": _l("The NAS's address pool (Framed-Pool) whose firewall lets through only the page "
                                 "on how to pay. A suspended subscriber with the right password is let into it "
                                 "instead of being rejected, and is disconnected to log in normally once paid. "
                                 "Empty: suspended subscribers are rejected."),
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


class OpenSessions(BaseFilter):
    name = "open sessions"
    arg_name = "open_sessions"

    def apply(self, query, value):
        return query.filter(self.model.stopped_at.is_(None))


class HoldsIpv6Filter(BaseFilter):
    """The sessions of a subscriber holding the typed IPv6 address: inside the prefixes handed to their
    subscription or inside what their NAS reported (app.radius.services.sessions_holding_ipv6). Something that is
    not an IPv6 address lists nothing."""

    name = _l("Holds the address (inside the prefix)")
    arg_name = "ipv6"
    open_only = False

    def apply(self, query, value):
        if isinstance(value, (list, tuple)):  # the list page passes the address's values
            value = value[0] if value else None
        address = parse_ipv6_address(value if isinstance(value, str) else None)
        if address is None:
            return query.filter(false())
        return query.filter(self.model.id.in_(sessions_holding_ipv6(address, open_only=self.open_only)))


class HoldsIpv6OpenFilter(HoldsIpv6Filter):
    open_only = True  # the online page: its lookups read the open sessions only


class Ipv6Search:
    """A session list searched by an IPv6 address (as "IPv6 address"): the one filter HoldsIpv6Filter."""

    ipv6_filter = HoldsIpv6Filter

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Offered (search filters) and applied (FAB reads an address's filter by its index among all filters).
        found = [self.ipv6_filter("framed_ipv6_address", self.datamodel)]
        self._filters.get_search_filters()["framed_ipv6_address"] = found
        self._filters._all_filters["framed_ipv6_address"] = found


SESSION_LABELS = {
    "username": _l("Username"), "client_name": _l("Client"), "framed_ip": _l("IP address"),
    "ip_address": _l("IP address"), "nas": _l("NAS"),
    "started_at": _l("Since"), "updated_at": _l("Last report"), "traffic": _l("Traffic ↓ / ↑"),
    "calling_station_id": _l("MAC / Calling-Station-Id"), "acct_session_id": _l("Session"),
    "service": _l("Service"), "dealer": _l("Dealer"), "subscription_id": _l("Subscription No."),
    "stopped_at": _l("Ended"), "stop_cause": _l("Why it ended"), "duration": _l("Duration"),
    "framed_ipv6_prefix": _l("IPv6 prefix"), "delegated_ipv6_prefix": _l("Delegated IPv6 prefix"),
    "framed_ipv6_address": _l("IPv6 address"),
}
IPV6_COLUMNS = ["framed_ipv6_prefix", "delegated_ipv6_prefix", "framed_ipv6_address"]
SESSION_FORMATTERS = {
    "started_at": format_datetime, "updated_at": format_datetime, "stopped_at": format_datetime,
    "traffic": lambda traffic: f"{format_bytes(traffic[0])} / {format_bytes(traffic[1])}",
    "duration": format_duration,
}


class OnlineView(Ipv6Search, DealerScopedView, ReadOnlyModelView):
    """Who is online now: the open sessions, newest first (a dealer's operators see their clients')."""

    datamodel = BillingInterface(RadiusSession)
    route_base = "/online"
    class_permission_name = "RadiusSession"
    list_title = _l("Online now")
    list_note = _l(
        "Subscribers connected right now, as the NAS report them to RADIUS: a "
        "session appears when a modem logs in and goes when it disconnects.")
    show_title = _l("Session")
    base_filters = [["stopped_at", OpenSessions, None]]
    label_columns = SESSION_LABELS
    list_columns = ["username", "client_name", "ip_address", "nas", "started_at", "updated_at", "traffic"]
    show_columns = ["username", "client_name", "framed_ip", *IPV6_COLUMNS, "calling_station_id", "nas",
                    "acct_session_id", "started_at", "updated_at", "traffic"]
    # framed_ipv6_address: any IPv6 address inside the subscriber's prefixes (Ipv6Search).
    search_columns = ["username", "framed_ip", "framed_ipv6_address", "nas", "service", "dealer",
                      "calling_station_id"]
    ipv6_filter = HoldsIpv6OpenFilter
    # ip_address: an IPv6-only session shows what its NAS reported (RadiusSession.shown_address), sorted by it.
    order_columns = ["username", "ip_address", "started_at", "updated_at"]
    base_order = ("started_at", "desc")
    formatters_columns = SESSION_FORMATTERS


class SessionsView(Ipv6Search, DealerScopedView, ReadOnlyModelView):
    """Every session, open and ended, newest first: a subscription's history (the card links here)."""

    datamodel = BillingInterface(RadiusSession)
    route_base = "/sessions"
    class_permission_name = "RadiusSession"
    list_title = _l("Sessions")
    show_title = _l("Session")
    label_columns = SESSION_LABELS
    list_columns = ["username", "client_name", "ip_address", "nas", "started_at", "stopped_at", "duration",
                    "stop_cause", "traffic"]
    show_columns = ["username", "client_name", "framed_ip", *IPV6_COLUMNS, "calling_station_id", "nas",
                    "acct_session_id", "started_at", "updated_at", "stopped_at", "stop_cause", "duration", "traffic"]
    # The subscription by its number (the card's link), not a drop-down of every subscription.
    search_columns = ["subscription_id", "username", "framed_ip", "framed_ipv6_address", "nas", "started_at",
                      "calling_station_id"]
    order_columns = ["username", "started_at", "stopped_at"]
    base_order = ("started_at", "desc")
    formatters_columns = SESSION_FORMATTERS


def register(appbuilder):
    register_entity(Nas, _l("NAS"), LABELS, value_labels={"vendor": VENDOR_CHOICES})
    appbuilder.add_view(NasView, "NAS", label=_l("NAS"), icon="fa-server", **in_menu("Catalog"))
    # After payments (10) and contracts (20): what the network says of the client's subscriptions.
    CLIENT_CARD.add("radius/_card_radius.html", card_radius, order=30, place="services")
    appbuilder.add_view(OnlineView, "Online now", label=_l("Online now"), icon="fa-signal", **in_menu("Clients"))
    appbuilder.add_view_no_menu(SessionsView)
