from flask import request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.core.actors import current_operator
from app.core.formatting import format_percent
from app.core.scoping import DealerScopedView
from app.core.validators import ModelRules
from app.core.views import BillingInterface, BillingModelView
from app.networks.api import NetworkApi
from app.networks.models import IpAllocation, Network
from app.networks.services import FREE, USED, address_listing, find_in_network, network_errors

LABELS = {
    "name": _l("Name"),
    "cidr": _l("Network (CIDR)"),
    "group": _l("Group"),
    "speed_mbps": _l("Speed, Mbit/s"),
    "dealer": _l("Dealer"),
    "gateway": _l("Gateway"),
    "comment": _l("Comment"),
    "services": _l("Services"),
    "used_count": _l("Used"),
    "free_count": _l("Free"),
    "used_percent": _l("Used, %"),
    "first_address": _l("First address"),
    "last_address": _l("Last address"),
}
ALLOCATION_LABELS = {
    "network": _l("Network"),
    "network_id": _l("Network"),
    "address": _l("IP address"),
    "holder": _l("Holder"),
    "subscription_id": _l("Subscription"),
    "allocated_at": _l("Allocated on"),
}
ADDRESSES_PER_PAGE = 256


class NetworkView(DealerScopedView, BillingModelView):
    datamodel = BillingInterface(Network)
    route_base = "/networks"
    class_permission_name = "Network"
    list_title = _l("Networks")
    list_note = _l(
        "The IP networks subscribers get their addresses from when a service is "
        "sold. A network is added with the + button above the list.")
    show_title = _l("Network")
    add_title = _l("Add network")
    edit_title = _l("Edit network")
    show_template = "networks/show.html"
    label_columns = LABELS
    list_columns = ["name", "cidr", "group", "speed_mbps", "dealer", "gateway", "used_count", "free_count",
                    "used_percent"]
    search_columns = ["name", "cidr", "group", "dealer", "gateway"]
    order_columns = ["name", "cidr", "group"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "cidr", "group", "speed_mbps", "dealer", "gateway", "services", "comment"]
    show_columns = ["name", "cidr", "group", "speed_mbps", "dealer", "gateway", "services", "comment",
                    "used_count", "free_count", "used_percent"]
    validators_columns = {"cidr": [ModelRules(network_errors)], "gateway": [ModelRules(network_errors)]}
    record_errors = staticmethod(network_errors)
    formatters_columns = {
        "services": lambda items: ", ".join(str(s) for s in items) or "—",
        "used_percent": format_percent,
        "dealer": lambda dealer: str(dealer) if dealer else gettext("Shared by all"),
    }
    description_columns = {
        "cidr": _l("E.g. 10.20.0.0/22. It may not overlap another network."),
        "services": _l("Services that take their addresses from this network; empty: any service."),
        "dealer": _l("Empty: shared by head office and every dealer."),
    }

    def record_page(self, network):
        return self._addresses(network)


    @staticmethod
    def _addresses(network):
        actor = current_operator()
        """The address map's page, or what its search found; ?show=used|free lists only those."""
        page = max(request.args.get("page", 0, type=int), 0)
        show = request.args.get("show") if request.args.get("show") in (USED, FREE) else None
        find = request.args.get("find", "").strip()
        found = highlighted = None
        if find:
            found_page, found = find_in_network(network, find, actor, ADDRESSES_PER_PAGE)
            if found_page is not None:
                page, highlighted, found, show = found_page, found, None, None
        rows, pages = address_listing(network, actor, page, ADDRESSES_PER_PAGE, show)
        if found is not None and highlighted is None:
            rows, pages = found, 1
        return {"address_rows": rows, "address_page": page, "address_pages": pages, "address_show": show or "",
                "address_find": find, "address_highlighted": highlighted}


def register(appbuilder):
    register_entity(Network, _l("Network"), LABELS)
    register_entity(IpAllocation, _l("IP address"), ALLOCATION_LABELS)
    appbuilder.add_view(NetworkView, "Networks", label=_l("Networks"), icon="fa-sitemap",
                        **in_menu("Catalog"))
    appbuilder.add_api(NetworkApi)
