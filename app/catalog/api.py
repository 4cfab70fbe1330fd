from app.catalog.models import Service
from app.catalog.services import service_errors, update_service
from app.core.money import check_amount, check_currency
from app.core.views import BillingInterface, BillingModelApi, RecordOperations

# New services are stored under ServiceView's and ServiceApi's record rules; changes go through update_service.
SERVICE_OPERATIONS = RecordOperations(update=update_service, tells=True)
COLUMNS = [
    "name", "group", "description", "installation_fee", "monthly_fee", "currency", "extra_traffic_fee",
    "included_traffic_gb", "month_type", "warning_days", "tolerance_days", "max_freeze_days", "ip_count",
    "username_type", "download_kbps", "upload_kbps", "simultaneous_use", "ipv6", "ipv6_delegated_length",
    "technology", "sellable", "needs_installation",
]


class ServiceApi(BillingModelApi):
    datamodel = BillingInterface(Service)
    resource_name = "services"
    class_permission_name = "Service"
    allow_browser_login = True
    list_columns = show_columns = ["id", "group.id", "group.name", "technology.id"] + [
        c for c in COLUMNS if c not in ("group", "technology")
    ]
    add_columns = edit_columns = COLUMNS
    search_columns = ["name", "group", "currency", "sellable"]
    order_columns = ["name", "monthly_fee"]
    raw_checks = {
        "installation_fee": check_amount,
        "monthly_fee": check_amount,
        "extra_traffic_fee": check_amount,
        "currency": check_currency,
    }
    record_errors = staticmethod(service_errors)
    operations = SERVICE_OPERATIONS
