"""Filling in a contract type's template for one contract.

The template is HTML written in the panel, filled in app.core.sandbox's
sandbox (plain data only, nothing from outside, within limits; every
failure a TemplateProblem in Bulgarian with the template line). This module
says what a contract's template may use.
"""
from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

from flask_babel import gettext

from app.clients.services import mask_egn
from app.core.formatting import format_date, local_time
from app.core.money import format_money
from app.core.sandbox import TemplateProblem, fill
from app.dealers.services import company_of


def render_contract(contract, unmasked=False):
    """The contract's HTML from its type's template. Raises TemplateProblem.

    The ЕГН is masked unless `unmasked` (the caller checks the right).
    """
    return fill(contract.contract_type.template, contract_context(contract, unmasked))


def check_template(source):
    """The problem of a template, or None: syntax, forbidden tags and resources,
    and a trial fill with a sample contract (so unknown placeholders show at once)."""
    try:
        fill(source, contract_context(_sample_contract(), unmasked=True))
    except TemplateProblem as problem:
        return problem
    return None


def contract_context(contract, unmasked=False):
    """Everything a template may use, as plain data (see the default template)."""
    client = contract.client
    lines = [_service_line(subscription, client) for subscription in contract.subscriptions]
    return {
        "contract": {
            "number": contract.number,
            "type": contract.contract_type.name,
            "signed_on": format_date(contract.signed_on),
            "term_months": contract.term_months or "",
            "term": _term(contract.term_months),
        },
        "client": _client(client, unmasked),
        "seller": _seller(client.dealer),
        "services": lines,
        "monthly_total": _total(contract.subscriptions),
        "today": format_date(local_time(datetime.now(timezone.utc).replace(tzinfo=None)).date()),
    }


def _text(value):
    return "" if value is None else str(value)


def _client(client, unmasked):
    return {
        "number": client.client_number,
        "name": client.name,
        "kind": client.kind,
        "is_company": client.is_company,
        "egn": _text(client.egn if unmasked else mask_egn(client.egn)),
        "id_card": _text(client.id_card),
        "company_name": _text(client.company_name),
        "eik": _text(client.eik),
        "vat_number": _text(client.vat_number),
        "mol": _text(client.mol),
        "company_address": _text(client.company_address),
        "address": client.address(),
        "phone": _text(client.phone),
        "email": _text(client.email),
    }


def _seller(dealer):
    """A dealer's client contracts with the dealer's company; head office's with head office's."""
    company = company_of(dealer)
    company.pop("vat_registered")
    return company


def _service_line(subscription, client):
    service = subscription.service
    return {
        "name": service.name,
        "description": _text(service.description),
        "monthly_fee": format_money(service.monthly_fee, service.currency),
        "installation_fee": format_money(service.installation_fee, service.currency),
        "username": _text(subscription.username),
        "delivery_address": subscription.delivery_address or client.address(),
    }


def _total(subscriptions):
    """Monthly fees added up per currency: "37,80 EUR" or "25,00 EUR + 10,00 BGN"."""
    totals = {}
    for subscription in subscriptions:
        service = subscription.service
        totals[service.currency] = totals.get(service.currency, Decimal(0)) + service.monthly_fee
    return " + ".join(format_money(amount, currency) for currency, amount in sorted(totals.items()))


def _term(months):
    if not months:
        return gettext("indefinite")
    if months == 1:
        return gettext("1 month")
    return gettext("%(months)s months", months=months)


def _sample_contract():
    """A made-up contract with every field filled, for trying a template out."""
    service = SimpleNamespace(name="Интернет 100", description="100/20 Mbit/s", monthly_fee=Decimal("12.90"),
                              installation_fee=Decimal("0.00"), currency="EUR")
    client = SimpleNamespace(
        client_number="100001", name="Иван Петров Иванов", kind="individual", is_company=False, egn="8012056037",
        id_card="645123789", company_name="", eik="", vat_number="", mol="", company_address="",
        block=None, address_text="гр. София, ул. Примерна 1", phone="0888 123 456", email="ivan@example.bg",
        dealer=None, address=lambda: "гр. София, ул. Примерна 1",
    )
    subscription = SimpleNamespace(service=service, username="ivan", delivery_address="")
    contract_type = SimpleNamespace(name="Образец")
    return SimpleNamespace(number=1, contract_type=contract_type, client=client, subscriptions=[subscription],
                           signed_on=None, term_months=12)
