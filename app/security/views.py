"""Operators at /operators/, roles at /roles/, the rights matrix at /roles/matrix/."""
from flask import current_app, flash, make_response, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access, permission_name
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_appbuilder.security.sqla.models import PermissionView, Role
from flask_appbuilder.security.views import RoleModelView, UserDBModelView
from flask_babel import gettext, lazy_gettext as _l
from markupsafe import Markup
from wtforms.validators import DataRequired

from app.core.menu import in_menu
from app.audit import formatting as log_formatting
from app.audit.formatting import register_entity
from app.core.actors import current_operator
from app.core.formatting import format_datetime, format_yes_no
from app.core.validators import OfferedChoicesOnly
from app.core.views import BillingInterface, BillingModelView, ListNote, shown_refusals
from app.extensions import db
from app.security.labels import permission_label, rights_matrix
from app.security.models import Operator
from app.security.permissions import SEE_PERSONAL_DATA
from app.security.rights import may
from app.security.two_factor import enrolment_link_until, issue_enrolment_link, reset_second_factor
from app.core.scoping import DealerScopedView
from app.security.api import OperatorApi
from app.security.operator_rules import (
    OPERATOR_OPERATIONS,
    OPERATOR_PERMISSIONS,
    ROLE_CHOICES,
    current_operator_may_save,
)

OPERATOR_LABELS = {
    "first_name": _l("First Name"),
    "last_name": _l("Last Name"),
    "username": _l("User Name"),
    "email": _l("Email"),
    "active": _l("Active"),
    "dealer": _l("Dealer"),
    "dealer_id": _l("Dealer"),
    "roles": _l("Roles"),
    "allowed_services": _l("Services they may sell"),
    "password": _l("Password"),
    "conf_password": _l("Confirm Password"),
    "last_login": _l("Last login"),
    "login_count": _l("Login count"),
    "fail_login_count": _l("Failed login count"),
    "created_on": _l("Created on"),
    "changed_on": _l("Changed on"),
    "created_by": _l("Created by"),
    "changed_by": _l("Changed by"),
    "created_by_fk": _l("Created by"),
    "changed_by_fk": _l("Changed by"),
    "totp_secret": _l("Two-factor login key"),
}


class OperatorView(DealerScopedView, BillingModelView, UserDBModelView):
    datamodel = BillingInterface(Operator)
    route_base = "/operators"
    class_permission_name = "Operator"
    base_permissions = OPERATOR_PERMISSIONS
    list_title = _l("Operators")
    list_note = _l(
        "The people who log in to the panel, with their roles. "
        "An operator is added with the + button above the list.")
    show_title = _l("Operator")
    add_title = _l("Add operator")
    edit_title = _l("Edit operator")
    user_info_title = _l("Your profile")
    label_columns = OPERATOR_LABELS
    # A password hash and a second factor's key are no one's to list, filter on or sort by.
    column_visible_when = {"password": lambda actor: False, "totp_secret": lambda actor: False}
    list_columns = ["first_name", "last_name", "username", "dealer", "roles", "active", "last_login"]
    search_columns = ["first_name", "last_name", "username", "email", "dealer", "roles", "active"]
    order_columns = ["first_name", "last_name", "username", "last_login"]
    add_columns = ["first_name", "last_name", "username", "email", "active", "dealer", "roles",
                   "allowed_services", "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "email", "active", "dealer", "roles",
                    "allowed_services"]
    show_fieldsets = [
        (_l("Operator"), {"fields": ["username", "first_name", "last_name", "email", "active", "dealer", "roles",
                                     "allowed_services"]}),
        (_l("Audit Info"), {"fields": ["last_login", "login_count", "fail_login_count", "created_on", "changed_on"], "expanded": False}),
    ]
    user_show_fieldsets = [
        (_l("Operator"), {"fields": ["username", "first_name", "last_name", "email", "dealer", "roles"]}),
    ]
    description_columns = {
        "dealer": _l("Empty for head office. An operator of a dealer works only with that dealer's data."),
        "roles": _l("Only roles whose rights you hold yourself are offered."),
        "allowed_services": _l("Empty: every sellable service."),
    }
    validators_columns = {"roles": [OfferedChoicesOnly(), DataRequired()]}
    formatters_columns = {
        "active": format_yes_no,
        # A head-office operator's dealer reads as the clients' does, not as a blank.
        "dealer": lambda dealer: str(dealer) if dealer is not None else gettext("Central office"),
        "allowed_services": lambda services: ", ".join(str(s) for s in services) or "—",
        "last_login": format_datetime, "created_on": format_datetime, "changed_on": format_datetime,
    }
    add_form_query_rel_fields = ROLE_CHOICES
    edit_form_query_rel_fields = ROLE_CHOICES
    show_template = "security/operator_show.html"

    record_errors = staticmethod(current_operator_may_save)
    operations = OPERATOR_OPERATIONS

    def record_page(self, operator):
        return {"second_factor": {"enrolled": bool(operator.totp_secret), "link_until": enrolment_link_until(operator)}}

    @expose("/second-factor/<int:pk>/link", methods=["POST"])
    @has_access
    @permission_name("edit")
    def enrolment_link(self, pk):
        """An enrolment link issued by an administrator: shown here once (and e-mailed to the operator)."""
        operator = self.record_or_404(pk)
        with shown_refusals() as outcome:
            link = issue_enrolment_link(current_operator(), operator)
        if outcome.refused:
            return redirect(url_for(".show", pk=pk))
        response = make_response(self.render_template(
            "security/enrolment_link.html", operator=operator, link=link,
            until=format_datetime(enrolment_link_until(operator)), title=gettext("Enrolment link")))
        response.headers["Cache-Control"] = "no-store"  # the link is shown once, and kept by no cache
        return response

    @expose("/second-factor/<int:pk>/reset", methods=["POST"])
    @has_access
    @permission_name("edit")
    def reset_second_factor(self, pk):
        """A lost phone: the operator's key is forgotten, and they enrol again through a new link."""
        operator = self.record_or_404(pk)
        with shown_refusals():
            reset_second_factor(current_operator(), operator)
            flash(gettext("The two-factor login of %(operator)s was reset.", operator=operator), "info")
        return redirect(url_for(".show", pk=pk))


def _permissions_cell(permissions):
    labels = sorted(permission_label(pv) for pv in permissions)
    return Markup("<br>").join(labels)


class NotThePublicRole(BaseFilter):
    """FAB's role of visitors who are not logged in: no operator holds it, and a right given to it would open a
    page to anyone, so it is neither listed nor edited (the rights matrix leaves it out too)."""

    def apply(self, query, value):
        return query.filter(Role.name != current_app.appbuilder.sm.auth_role_public)


class BillingRoleView(ListNote, RoleModelView):
    datamodel = BillingInterface(Role)
    route_base = "/roles"
    class_permission_name = "Role"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete", "copyrole"]
    list_title = _l("Roles")
    list_note = _l(
        "The roles and the rights each holds. A role is added "
        "with the + button above the list or copied from another.")
    show_title = _l("Role")
    add_title = _l("Add Role")
    edit_title = _l("Edit Role")
    label_columns = {"name": _l("Name"), "permissions": _l("Permissions"), "user": _l("Operators")}
    # Not FAB's groups (unused) nor its permissions' names ("can add on Client"): the matrix answers who may what.
    search_columns = ["name", "user"]
    base_filters = [["name", NotThePublicRole, None]]
    formatters_columns = {"permissions": _permissions_cell}
    # FAB's role widgets print raw permission names; the plain ones apply
    # the formatter above.
    list_widget = ListWidget
    show_widget = ShowWidget
    edit_form_extra_fields = add_form_extra_fields = {
        "permissions": QuerySelectMultipleField(
            _l("Permissions"),
            query_func=lambda: db.session.query(PermissionView),
            get_pk_func=lambda permission_view: permission_view.id,
            get_label=permission_label,
            widget=Select2ManyWidget(),
        )
    }


class RightsMatrixView(BaseView):
    """Roles × rights as a table: what each built-in and custom role may do."""

    route_base = "/roles/matrix"
    class_permission_name = "RightsMatrix"
    default_view = "matrix"

    @expose("/")
    @has_access
    def matrix(self):
        roles, groups = rights_matrix()
        return self.render_template("security/matrix.html", roles=roles, groups=groups, title=_l("Rights matrix"))


def register(appbuilder):
    register_entity(Operator, _l("Operator"), OPERATOR_LABELS)
    log_formatting.show_personal_data_when(lambda: may(current_operator(), SEE_PERSONAL_DATA))
    security = appbuilder.sm
    security.user_view = appbuilder.add_view(OperatorView, "Operators", label=_l("Operators"), icon="fa-user",
                        **in_menu("Security"))
    appbuilder.add_view(BillingRoleView, "Roles", label=_l("Roles"), icon="fa-users",
                        **in_menu("Security"))
    appbuilder.add_view(RightsMatrixView, "Rights matrix", label=_l("Rights matrix"), icon="fa-table",
                        **in_menu("Security"))
    appbuilder.add_api(OperatorApi)
