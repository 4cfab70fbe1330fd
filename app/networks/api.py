from app.core.scoping import DealerScopedApi
from app.core.views import BillingInterface, BillingModelApi
from app.networks.models import Network
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
