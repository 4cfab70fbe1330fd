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
  signed contract;
- it fills within limits: the document's size, the size of any value it
  builds, the loop rounds over range() and the time (MAX_* below), so a
  template cannot make the panel build a 100 MB string or loop for minutes.
Every failure becomes a TemplateProblem with a Bulgarian message and the
template line; nothing of a half-filled contract is returned.
"""
import re
import time
import traceback
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache, wraps
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

# What one filled template may cost: a contract is a few pages, not megabytes.
MAX_OUTPUT = 1_000_000  # characters of the filled document
MAX_VALUE = 100_000  # characters (or items) of one value a template builds
MAX_ITERATIONS = 100_000  # loop rounds over range() in one fill, all loops together
MAX_SECONDS = 3.0
TOO_LARGE = _l("the filled template would be larger than %(size)s characters")
VALUE_TOO_LARGE = _l("a value the template builds would be larger than %(size)s characters")
TOO_LONG = _l("filling the template takes longer than %(seconds)s seconds")
TOO_MANY_ROUNDS = _l("the template's loops would run more than %(rounds)s rounds")


class TemplateLimit(Exception):
    """A fill stopped by one of the limits above."""


class _Budget:
    """The time and loop rounds one fill may still use."""

    def __init__(self):
        self.deadline = time.monotonic() + MAX_SECONDS
        self.iterations = 0

    def spend(self, rounds=1):
        self.iterations += rounds
        if self.iterations > MAX_ITERATIONS:
            raise TemplateLimit(TOO_MANY_ROUNDS % {"rounds": MAX_ITERATIONS})
        if time.monotonic() > self.deadline:
            raise TemplateLimit(TOO_LONG % {"seconds": f"{MAX_SECONDS:g}"})


_budget: ContextVar = ContextVar("template_budget", default=None)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, refusing values so large that building them alone is an attack.

    Intercepting the operators also stops Jinja from folding constant
    expressions ({{ 'a' * 10**8 }}) while compiling, before any check.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 — Jinja's own signature
        _refuse_large_numbers(args, kwargs)
        # str.format arrives wrapped by the sandbox; the string is the wrapped method's owner.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in ("format", "format_map") \
                and _WIDE_FORMAT.search(owner):
            raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        if operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})
        if operator == "**" and isinstance(right, int) and not isinstance(right, bool) and abs(right) > 64:
            raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if isinstance(sized, (str, list, tuple)) and isinstance(times, int) \
                        and len(sized) * times > MAX_VALUE:
                    raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) \
                and len(left) + len(right) > MAX_VALUE:
            raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})
        return super().call_binop(context, operator, left, right)


# A field width of six digits or more in a format string ("%0100000000d", "{:>100000000}").
_WIDE_FORMAT = re.compile(r"[%:][^%:{}]*?\d{6,}")


def _refuse_large_numbers(args, kwargs):
    """A number too large to be any sensible width, count or length (center(10**8), indent(10**8)…)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE:
            raise TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})


def _bounded_filter(function):
    @wraps(function)  # keeps Jinja's pass_context/pass_eval_context marks
    def bounded(*args, **kwargs):
        _refuse_large_numbers(args[1:], kwargs)
        return function(*args, **kwargs)

    return bounded


def _bounded_range(*args):
    """range() whose rounds count against the fill's budget (loops that print nothing included)."""
    budget = _budget.get()
    for number in range(*args):
        if budget is not None:
            budget.spend()
        yield number


_environment = BoundedSandbox(autoescape=True, undefined=StrictUndefined)
_environment.globals["range"] = _bounded_range
_environment.filters = {name: _bounded_filter(function) for name, function in _environment.filters.items()}

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
    """Render `source` with `context` in the sandbox, within the limits above. Raises TemplateProblem."""
    template = _compiled(source)
    budget = _Budget()
    token = _budget.set(budget)
    try:
        parts, size = [], 0
        for part in template.generate(context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise TemplateLimit(TOO_LARGE % {"size": MAX_OUTPUT})
            budget.spend(0)
            parts.append(part)
        return "".join(parts)
    except TemplateLimit as limit:
        raise TemplateProblem(str(limit), _template_line(limit)) from None
    except Exception as error:  # noqa: BLE001 — every failure of a template is the operator's to fix
        raise TemplateProblem(_runtime_problem(error), _template_line(error)) from None
    finally:
        _budget.reset(token)


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
