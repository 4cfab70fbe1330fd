from app.core.scoping import DealerScopedApi
from app.core.views import BillingInterface, BillingModelApi
from app.networks.ipv6 import pool_errors
from app.networks.models import Ipv6Pool, Network
from app.networks.services import network_errors


class NetworkApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Network)
    resource_name = "networks"
    class_permission_name = "Network"
    allow_browser_login = True
    list_columns = show_columns = ["id", "name", "cidr", "group", "speed_mbps", "dealer.id", "dealer.name",
                                   "gateway", "comment"]
    add_columns = edit_columns = ["name", "cidr", "group", "speed_mbps", "dealer", "gateway", "services", "comment"]
    search_columns = ["name", "cidr", "group", "dealer"]
    order_columns = ["name", "cidr"]
    record_errors = staticmethod(network_errors)


class Ipv6PoolApi(BillingModelApi):
    datamodel = BillingInterface(Ipv6Pool)
    resource_name = "ipv6-pools"
    class_permission_name = "Network"
    allow_browser_login = True
    list_columns = show_columns = ["id", "name", "prefix", "kind", "assign_length", "comment"]
    add_columns = edit_columns = ["name", "prefix", "kind", "assign_length", "comment"]
    search_columns = ["name", "prefix", "kind"]
    order_columns = ["name", "prefix"]
    record_errors = staticmethod(pool_errors)
