"""Filling in a contract type's template for one contract, safely.

A template is HTML with Jinja placeholders written in the panel, so it is
treated as untrusted:
- it runs in Jinja's immutable sandbox and sees plain data only (dicts,
  strings, numbers — never ORM objects, whose attributes lead to the session
  and the database);
- it cannot include, import or extend anything (no loader, and such tags are
  refused before rendering);
- it loads nothing from outside: an image, stylesheet or font named by a URL
  or path is refused (app.core.pdf blocks them again while converting);
- a misspelt placeholder is an error (StrictUndefined), not a blank in a
  signed contract.
Every failure becomes a TemplateProblem with a Bulgarian message and the
template line; nothing of a half-filled contract is returned.
"""
import re
import traceback
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from app.clients.services import mask_egn
from app.core.formatting import format_date, local_time
from app.core.money import format_money
from app.dealers.services import company_of

# Jinja names the code of a template made from a string "<template>": frames
# with that name carry the template's own line numbers.
TEMPLATE_FILENAME = "<template>"
FILE_TAGS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
# What would make the renderer or the browser fetch something: src= of any
# tag, <link>, CSS url(...) and @import. data: URIs are part of the document.
OUTSIDE_RESOURCE = re.compile(
    r"""\bsrc\s*=\s*(?!["']?data:)["']?[^"'\s>]*|<link\b[^>]*|\burl\(\s*(?!["']?data:)[^)]*|@import\b[^;]*""", re.I
)
# Any other font family falls back to a font without Cyrillic in the PDF.
FONT_DECLARATION = re.compile(r"""\bfont(?:-family)?\s*:[^;}>]*|<font\b[^>]*\bface\s*=[^>]*""", re.I)
ALLOWED_FONT = "dejavu sans"
OUTSIDE_RESOURCE_PROBLEM = _l("a template may not load anything from outside (%(what)s); embed images as data: URIs")
FONT_PROBLEM = _l(
    "a template may not set a font other than DejaVu Sans (%(what)s): other fonts have no Cyrillic in the PDF"
)

_environment = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)

# The preview shows a filled template in a sandboxed frame (no scripts, no
# access to the panel) that may load nothing: inline styles and data: images only.
SCREEN_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SCREEN_STYLE = "body { font-family: 'DejaVu Sans', sans-serif; max-width: 17cm; margin: 1.5em auto; }"


class TemplateProblem(Exception):
    """A template that cannot be filled in, said the way an operator reads it."""

    def __init__(self, problem, line=None):
        super().__init__(problem)
        self.problem = problem
        self.line = line

    def __str__(self):
        if self.line is None:
            return str(self.problem)
        return gettext("Line %(line)s of the template: %(problem)s", line=self.line, problem=self.problem)


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


def screen_page(html):
    """A filled template as a page of its own, for the preview's sandboxed frame."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{SCREEN_POLICY}">'
        f"<style>{SCREEN_STYLE}</style></head><body>{html}</body></html>"
    )


def fill(source, context):
    """Render `source` with `context` in the sandbox. Raises TemplateProblem."""
    template = _compiled(source)
    try:
        return template.render(context)
    except Exception as error:  # noqa: BLE001 — every failure of a template is the operator's to fix
        raise TemplateProblem(_runtime_problem(error), _template_line(error)) from None


@lru_cache(maxsize=32)
def _compiled(source):
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(gettext("syntax error (%(detail)s)", detail=error.message), error.lineno) from None
    node = next(parsed.find_all(FILE_TAGS), None)
    if node is not None:
        raise TemplateProblem(
            gettext("a template may not include, import or extend other templates or files"), node.lineno
        )
    _refuse(source, OUTSIDE_RESOURCE, lambda found: True, OUTSIDE_RESOURCE_PROBLEM)
    _refuse(source, FONT_DECLARATION, lambda found: ALLOWED_FONT not in found.lower(), FONT_PROBLEM)
    return _environment.from_string(source)


def _refuse(source, pattern, is_problem, message):
    for match in pattern.finditer(source):
        if is_problem(match.group(0)):
            line = source.count("\n", 0, match.start()) + 1
            raise TemplateProblem(message % {"what": match.group(0).strip(" '\"")[:60]}, line)


def _template_line(error):
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if frame.filename == TEMPLATE_FILENAME]
    return lines[-1] if lines else None


def _runtime_problem(error):
    # Jinja's messages are English and may quote data; only names are kept.
    if isinstance(error, SecurityError):
        name = re.search(r"attribute '([^']+)'", str(error))
        if name:
            return gettext("access to „%(name)s“ is not allowed", name=name.group(1))
        return gettext("the template tried something that is not allowed")
    if isinstance(error, UndefinedError):
        name = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'|has no element (\S+)", str(error))
        if name:
            return gettext("unknown placeholder „%(name)s“", name=next(filter(None, name.groups())))
        return gettext("unknown placeholder")
    return gettext("a value cannot be used this way (%(kind)s)", kind=type(error).__name__)


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
