"""What the operators' panel forms and REST API both apply: permissions, role choices, save rules."""
from flask_appbuilder.models.filters import BaseFilter

from app.core.actors import current_operator
from app.core.views import RecordOperations
from app.security.services import create_operator, delete_operator, grantable_roles, operator_errors, update_operator

# FAB's user view adds own-profile and password permissions to the usual
# five; the operators' REST API declares the same set, since views sharing a
# permission name must agree on it or each permission sync deletes the rest.
OPERATOR_PERMISSIONS = [
    "can_list", "can_show", "can_add", "can_edit", "can_delete",
    "can_userinfo", "userinfoedit", "resetmypassword", "resetpasswords",
]


def current_operator_may_save(operator):
    """The operator rules (app.security.services.operator_errors) for whoever is acting."""
    return operator_errors(current_operator(), operator)


class GrantableRolesFilter(BaseFilter):
    """Role choices limited to those the current operator may give."""

    name = "grantable roles"
    arg_name = "grantable_roles"

    def apply(self, query, value):
        operator = current_operator()
        if operator is None:
            return query.filter(self.model.id.is_(None))
        return query.filter(self.model.id.in_([role.id for role in grantable_roles(operator)]))


ROLE_CHOICES = {"roles": [["id", GrantableRolesFilter, None]]}
# Added (the password hashed), changed and deleted only through the operations, from the panel and the API alike.
OPERATOR_OPERATIONS = RecordOperations(create=create_operator, update=update_operator, delete=delete_operator)
