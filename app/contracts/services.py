"""Business rules for contracts: numbering, what a contract may cover, printing."""
from pathlib import Path

from flask_babel import gettext
from sqlalchemy import select

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.contracts.models import ACTIVE, DRAFT, STATUSES, Contract, ContractType
from app.contracts.rendering import check_template, render_contract
from app.core.counters import next_number
from app.core.errors import FieldErrors
from app.core.pdf import html_to_pdf
from app.core.scoping import refuse_out_of_scope
from app.extensions import db
from app.security.rights import may_access

FIRST_CONTRACT_NUMBER = 1
DEFAULT_TYPE_NAME = "Договор за интернет"
DEFAULT_TEMPLATE = Path(__file__).with_name("default_template.html")


def contract_type_errors(record):
    """Rules for a contract type, as {field: [message]}: its template must fill in."""
    problem = check_template(getattr(record, "template", None) or "")
    return {"template": [str(problem)]} if problem else {}


def contract_errors(record):
    """Rules that span fields, as {field: [message]}.

    `record` is a Contract or a form's values with the same names.
    """
    errors = {}
    client = getattr(record, "client", None)
    contract_type = getattr(record, "contract_type", None)
    subscriptions = list(getattr(record, "subscriptions", None) or [])
    if client is not None and any(subscription.client_id != client.id for subscription in subscriptions):
        errors["subscriptions"] = [gettext("A contract covers only its own client's subscriptions.")]
    elif contract_type is not None and contract_type.services:
        covered = {service.id for service in contract_type.services}
        outside = [s.service.name for s in subscriptions if s.service_id not in covered]
        if outside:
            errors["subscriptions"] = [gettext("The contract type „%(type)s“ does not cover: %(services)s.",
                                               type=contract_type.name, services=", ".join(outside))]
    term_months = getattr(record, "term_months", None)
    if term_months is not None and term_months < 1:
        errors["term_months"] = [gettext("The term is a whole number of months, at least 1; empty: indefinite.")]
    status = getattr(record, "status", None) or DRAFT
    if status not in STATUSES:
        errors["status"] = [gettext("Unknown status.")]
    elif status == ACTIVE and not getattr(record, "signed_on", None):
        errors["signed_on"] = [gettext("An active contract needs its signing date.")]
    return errors


def create_contract(actor, **fields):
    """A new contract of a client, with the next number (given back if the unit rolls back). Flushes.

    `fields`: client, contract_type, subscriptions, signed_on, term_months,
    status. Raises FieldErrors and stores nothing when a rule refuses.
    """
    if not may_access(actor, "can_add", "Contract"):
        raise FieldErrors({"client": [gettext("You do not have the right to add contracts.")]})
    fields["status"] = fields.get("status") or DRAFT
    with db.session.no_autoflush:
        contract = Contract(**fields)
        _refuse_invalid(actor, contract)
    contract.number = next_number("contract_number", FIRST_CONTRACT_NUMBER)
    db.session.add(contract)
    db.session.flush()
    return contract


def update_contract(actor, contract, **fields):
    """Change a contract's type, subscriptions, dates or status; it stays with its client. Flushes; FieldErrors."""
    if not may_access(actor, "can_edit", "Contract"):
        raise FieldErrors({"status": [gettext("You do not have the right to change contracts.")]})
    if "client" in fields and fields["client"] is not contract.client:
        raise FieldErrors({"client": [gettext("A contract stays with its client.")]})
    with db.session.no_autoflush:
        for name, value in fields.items():
            setattr(contract, name, value)
        _refuse_invalid(actor, contract)
    db.session.flush()
    return contract


def _refuse_invalid(actor, contract):
    if contract.client is None:
        raise FieldErrors({"client": [gettext("Choose the client.")]})
    refuse_out_of_scope(contract, actor)
    errors = contract_errors(contract)
    if errors:
        raise FieldErrors(errors)


def contract_html(contract, operator, unmasked):
    """The filled template for the screen. Raises TemplateProblem.

    `unmasked`: the operator holds the right to see personal data; showing
    a full ЕГН is then recorded in the LOG.
    """
    html = render_contract(contract, unmasked)
    _record_personal_data(contract, operator, unmasked)
    return html


def contract_pdf(contract, operator, unmasked):
    """The contract as PDF bytes. Raises TemplateProblem or app.core.pdf.PdfError."""
    pdf = html_to_pdf(render_contract(contract, unmasked), title=contract_title(contract))
    _record_personal_data(contract, operator, unmasked)
    return pdf


def contract_title(contract):
    return gettext("Contract No. %(number)s", number=contract.number)


def _record_personal_data(contract, operator, unmasked):
    if unmasked and contract.client.egn:
        record_event(LogEntry.PERSONAL_DATA, user=operator, entity=contract, note="ЕГН")


def ensure_default_contract_type():
    """The contract type "Договор за интернет" from the default template, made once. Flushes."""
    contract_type = db.session.scalar(select(ContractType).where(ContractType.name == DEFAULT_TYPE_NAME))
    if contract_type is None:
        contract_type = ContractType(
            name=DEFAULT_TYPE_NAME,
            description="Договор за предоставяне на интернет услуги (образец).",
            template=DEFAULT_TEMPLATE.read_text(encoding="utf-8"),
        )
        db.session.add(contract_type)
        db.session.flush()
    return contract_type
