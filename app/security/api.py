"""REST API for operators at /api/v1/operators/ (same rules as the panel)."""
from app.core.views import BillingInterface, BillingModelApi
from app.security.models import Operator
from app.core.scoping import DealerScopedApi
from app.security.operator_rules import (
    OPERATOR_OPERATIONS,
    OPERATOR_PERMISSIONS,
    GrantableRolesFilter,
    current_operator_may_save,
)


class OperatorApi(DealerScopedApi, BillingModelApi):
    datamodel = BillingInterface(Operator)
    resource_name = "operators"
    class_permission_name = "Operator"
    base_permissions = OPERATOR_PERMISSIONS
    allow_browser_login = True
    list_columns = ["id", "username", "first_name", "last_name", "email", "active", "dealer.id", "dealer.name", "roles.id", "roles.name"]
    show_columns = list_columns
    add_columns = ["username", "first_name", "last_name", "email", "active", "dealer", "roles",
                   "allowed_services", "password"]
    edit_columns = ["first_name", "last_name", "email", "active", "dealer", "roles", "allowed_services"]
    search_columns = ["username", "first_name", "last_name", "email", "dealer"]
    add_query_rel_fields = edit_query_rel_fields = {"roles": [["id", GrantableRolesFilter, None]]}
    record_errors = staticmethod(current_operator_may_save)
    operations = OPERATOR_OPERATIONS
