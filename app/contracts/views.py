"""Contract types at /contract-types/, contracts at /contracts/ with their preview and PDF."""
from flask import Response
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectField, TextAreaField, widgets
from wtforms.validators import DataRequired

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.clients.views import CLIENT_CARD, form_client_filters
from app.contracts.api import CONTRACT_OPERATIONS, ContractApi
from app.contracts.models import ACTIVE, DRAFT, TERMINATED, Contract, ContractType
from app.core.sandbox import TemplateProblem, screen_page
from app.contracts.services import (
    contract_html,
    contract_pdf,
    contract_title,
    contract_type_errors,
)
from app.core.formatting import format_date, format_datetime
from app.core.pdf import PdfError
from app.core.validators import ModelRules, OfferedChoicesOnly
from app.core.actors import current_operator
from app.core.views import BillingInterface, BillingModelView
from app.extensions import db
from app.security.permissions import PRINT_CONTRACTS, SEE_PERSONAL_DATA
from app.security.rights import may, may_access, require_right
from app.core.scoping import DealerScopedView

TYPE_LABELS = {
    "name": _l("Name"),
    "description": _l("Description"),
    "template": _l("Template"),
    "services": _l("Services"),
}
LABELS = {
    "number": _l("Number"),
    "client": _l("Client"),
    "client_id": _l("Client"),
    "contract_type": _l("Contract type"),
    "contract_type_id": _l("Contract type"),
    "subscriptions": _l("Subscriptions"),
    "signed_on": _l("Signed on"),
    "term_months": _l("Term, months"),
    "status": _l("Status"),
    "created_at": _l("Created on"),
}
# Not "Active"/"Terminated": their Bulgarian is worded for subscriptions.
STATUSES = [(DRAFT, _l("Draft")), (ACTIVE, _l("In force")), (TERMINATED, _l("Ended"))]


def _join(items):
    return ", ".join(str(item) for item in items) or "—"


class TemplateEditor(widgets.TextArea):
    """A tall monospace text area: a template is a whole page of HTML."""

    def __call__(self, field, **kwargs):
        kwargs.update({"class": "form-control", "rows": 30, "style": "font-family: monospace;"})
        return super().__call__(field, **kwargs)


class ContractTypeView(BillingModelView):
    datamodel = BillingInterface(ContractType)
    route_base = "/contract-types"
    class_permission_name = "ContractType"
    list_title = _l("Contract types")
    list_note = _l(
        "The kinds of contract and the text each is printed with. "
        "A kind is added with the + button above the list.")
    show_title = _l("Contract type")
    add_title = _l("Add contract type")
    edit_title = _l("Edit contract type")
    label_columns = TYPE_LABELS
    list_columns = ["name", "description", "services"]
    search_columns = ["name", "description"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    add_columns = edit_columns = show_columns = ["name", "description", "services", "template"]
    add_form_extra_fields = edit_form_extra_fields = {
        "template": TextAreaField(
            TYPE_LABELS["template"],
            widget=TemplateEditor(),
            validators=[DataRequired(), ModelRules(contract_type_errors)],
            description=_l(
                "HTML with placeholders: {{ client.name }}, {{ client.address }}, {{ client.egn }}, "
                "{{ seller.name }}, {{ contract.number }}, {{ contract.signed_on }}, {{ contract.term }}, "
                "{% for service in services %}{{ service.name }} {{ service.monthly_fee }}{% endfor %}, "
                "{{ monthly_total }}, {{ today }}. Images only embedded (data:); no font other than DejaVu Sans."
            ),
        )
    }
    formatters_columns = {
        "services": _join,
        "template": lambda source: Markup("<pre>{}</pre>").format(source),
    }
    description_columns = {"services": _l("The services this contract is for; empty: any service.")}


FormClientFilter, FormClientSubscriptionsFilter = form_client_filters(Contract, "contract")


class ContractView(DealerScopedView, BillingModelView):
    datamodel = BillingInterface(Contract)
    route_base = "/contracts"
    class_permission_name = "Contract"
    base_permissions = BillingModelView.base_permissions + ["can_preview", "can_pdf"]
    list_title = _l("Contracts")
    list_note = _l("Contracts with the clients. A contract is made from the client's card with \"New contract\".")
    show_title = _l("Contract")
    add_title = _l("New contract")
    edit_title = _l("Edit contract")
    show_template = "contracts/show.html"
    label_columns = LABELS
    list_columns = ["number", "client", "contract_type", "signed_on", "term_months", "status"]
    # Not the client: the filter would load every client into a dropdown.
    search_columns = ["number", "contract_type", "signed_on", "status"]
    order_columns = ["number", "signed_on"]
    base_order = ("number", "desc")
    add_columns = ["client", "contract_type", "subscriptions", "signed_on", "term_months", "status"]
    edit_columns = ["contract_type", "subscriptions", "signed_on", "term_months", "status"]
    show_columns = ["number", "client", "contract_type", "subscriptions", "signed_on", "term_months", "status",
                    "created_at"]
    add_form_query_rel_fields = {
        "client": [["id", FormClientFilter, None]],
        "subscriptions": [["id", FormClientSubscriptionsFilter, None]],
    }
    edit_form_query_rel_fields = {"subscriptions": [["id", FormClientSubscriptionsFilter, None]]}
    add_form_extra_fields = edit_form_extra_fields = {
        "status": SelectField(LABELS["status"], choices=STATUSES, default=DRAFT),
    }
    validators_columns = {"subscriptions": [OfferedChoicesOnly()]}
    formatters_columns = {
        "status": dict(STATUSES).get,
        "signed_on": format_date,
        "created_at": format_datetime,
        "subscriptions": _join,
    }
    description_columns = {
        "client": _l("A contract is started from the client card (New contract)."),
        "subscriptions": _l("The client's subscriptions this contract covers."),
        "term_months": _l("Empty: indefinite."),
    }

    operations = CONTRACT_OPERATIONS

    def render_template(self, template, **kwargs):
        if template == self.show_template:
            kwargs["can_print"] = may(current_operator(), PRINT_CONTRACTS)
        return super().render_template(template, **kwargs)

    @expose("/preview/<int:pk>")
    @has_access
    def preview(self, pk):
        """The filled contract on screen, in the panel."""
        contract = self._contract_to_print(pk)
        actor = current_operator()
        try:
            html = contract_html(contract, actor, may(actor, SEE_PERSONAL_DATA))
        except TemplateProblem as problem:
            return self._problem_page(contract, problem)
        return self._page(contract, document=screen_page(html))

    @expose("/pdf/<int:pk>")
    @has_access
    def pdf(self, pk):
        """The contract as an A4 PDF, opened in the browser."""
        contract = self._contract_to_print(pk)
        actor = current_operator()
        try:
            data = contract_pdf(contract, actor, may(actor, SEE_PERSONAL_DATA))
        except (TemplateProblem, PdfError) as problem:
            return self._problem_page(contract, problem), 422
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="contract-{contract.number}.pdf"'})

    def _contract_to_print(self, pk):
        require_right(PRINT_CONTRACTS)
        return self.record_or_404(pk)

    def _problem_page(self, contract, problem):
        return self._page(contract, problem=str(problem))

    def _page(self, contract, **kwargs):
        return self.render_template("contracts/preview.html", title=contract_title(contract), contract=contract,
                                    **kwargs)


def card_contracts(client, actor, **_known):
    """The client card's contracts part."""
    contracts = db.session.scalars(
        select(Contract).where(Contract.client_id == client.id)
        .options(selectinload(Contract.contract_type)).order_by(Contract.number)
    ).all()
    return {
        "contracts": contracts,
        "can_add_contract": may_access(actor, "can_add", "Contract"),
        "can_print_contract": may(actor, PRINT_CONTRACTS),
        "contract_status": dict(STATUSES).get,
    }


def card_contract_count(client, actor, **_known):
    """The documents tab's counter: the client's contracts."""
    return select(db.func.count(Contract.id)).where(Contract.client_id == client.id)


def register(appbuilder):
    CLIENT_CARD.add("contracts/_card_contracts.html", card_contracts, order=20, place="documents",
                    count=card_contract_count)
    register_entity(ContractType, _l("Contract type"), TYPE_LABELS)
    register_entity(Contract, _l("Contract"), LABELS, value_labels={"status": STATUSES})
    appbuilder.add_view(ContractView, "Contracts", label=_l("Contracts"), icon="fa-file-text-o",
                        **in_menu("Contracts"))
    appbuilder.add_view(ContractTypeView, "Contract types", label=_l("Contract types"), icon="fa-files-o",
                        **in_menu("Contracts"))
    appbuilder.add_api(ContractApi)
