from flask import request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.core.actors import current_operator
from app.core.formatting import format_percent
from app.core.scoping import DealerScopedView
from app.core.validators import ModelRules
from app.core.views import BillingInterface, BillingModelView
from app.networks.api import Ipv6PoolApi, NetworkApi
from app.networks.ipv6 import pool_errors
from app.networks.models import DELEGATED, LINK, IpAllocation, Ipv6Allocation, Ipv6Pool, Network
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


IPV6_LABELS = {
    "name": _l("Name"),
    "prefix": _l("IPv6 prefix"),
    "kind": _l("Kind"),
    "assign_length": _l("Prefix handed out"),
    "comment": _l("Comment"),
    "used_count": _l("Used"),
    "free_count": _l("Free"),
    "size": _l("Prefixes in the pool"),
}
IPV6_ALLOCATION_LABELS = {
    "pool": _l("IPv6 pool"),
    "pool_id": _l("IPv6 pool"),
    "prefix": _l("IPv6 prefix"),
    "kind": _l("Kind"),
    "subscription_id": _l("Subscription"),
    "allocated_at": _l("Allocated on"),
    # The allocation's bookkeeping, shown in the LOG beside the prefix it stands for.
    "slot": _l("Place in the pool"),
    "first_key": _l("Range start (number)"),
    "last_key": _l("Range end (number)"),
}
IPV6_KIND_CHOICES = [(LINK, _l("Link: a /64 per subscriber (Framed-IPv6-Prefix)")),
                     (DELEGATED, _l("Delegated: a /56 or /60 per subscriber's router (Delegated-IPv6-Prefix)"))]
ASSIGN_LENGTHS = [(64, _l("/64 for the link")), (56, _l("/56 delegated")), (60, _l("/60 delegated"))]


class Ipv6PoolView(BillingModelView):
    """IPv6 pools, beside the IPv4 networks and under the same permission (Network)."""

    datamodel = BillingInterface(Ipv6Pool)
    route_base = "/ipv6-pools"
    class_permission_name = "Network"
    list_title = _l("IPv6 pools")
    list_note = _l(
        "The IPv6 prefixes subscribers get theirs from when a service with IPv6 is sold: a link pool hands out "
        "/64s, a delegated pool /56s or /60s. A pool is added with the + button above the list.")
    show_title = _l("IPv6 pool")
    add_title = _l("Add IPv6 pool")
    edit_title = _l("Edit IPv6 pool")
    label_columns = IPV6_LABELS
    list_columns = ["name", "prefix", "kind", "assign_length", "used_count", "free_count"]
    search_columns = ["name", "prefix", "kind"]
    order_columns = ["name", "prefix"]
    base_order = ("name", "asc")
    add_columns = edit_columns = ["name", "prefix", "kind", "assign_length", "comment"]
    show_columns = ["name", "prefix", "kind", "assign_length", "comment", "size", "used_count", "free_count"]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(IPV6_LABELS["kind"], choices=IPV6_KIND_CHOICES, default=LINK),
        "assign_length": SelectField(IPV6_LABELS["assign_length"], choices=ASSIGN_LENGTHS, default=64, coerce=int),
    }
    validators_columns = {"prefix": [ModelRules(pool_errors)], "assign_length": [ModelRules(pool_errors)]}
    record_errors = staticmethod(pool_errors)
    formatters_columns = {
        "kind": lambda kind: str(dict(IPV6_KIND_CHOICES).get(kind, kind)),
        "assign_length": lambda length: f"/{length}",
    }
    description_columns = {
        "prefix": _l("E.g. 2001:db8:100::/40. It may not overlap another IPv6 pool."),
        "assign_length": _l("/64 for a link pool; /56 or /60 for a delegated one, as the services delegate."),
    }


def register(appbuilder):
    register_entity(Network, _l("Network"), LABELS)
    register_entity(IpAllocation, _l("IP address"), ALLOCATION_LABELS)
    # first_key/last_key are the prefix's range as numbers (for the search): the LOG shows the prefix instead.
    register_entity(Ipv6Pool, _l("IPv6 pool"), IPV6_LABELS, value_labels={"kind": IPV6_KIND_CHOICES},
                    hidden=("first_key", "last_key"))
    register_entity(Ipv6Allocation, _l("IPv6 prefix"), IPV6_ALLOCATION_LABELS,
                    value_labels={"kind": IPV6_KIND_CHOICES}, hidden=("first_key", "last_key"))
    appbuilder.add_view(NetworkView, "Networks", label=_l("Networks"), icon="fa-sitemap",
                        **in_menu("Catalog"))
    appbuilder.add_view(Ipv6PoolView, "IPv6 pools", label=_l("IPv6 pools"), icon="fa-sitemap",
                        **in_menu("Catalog"))
    appbuilder.add_api(NetworkApi)
    appbuilder.add_api(Ipv6PoolApi)
