"""Filling in a template written in the panel, safely: contracts (HTML for the PDF) and e-mails (text).

A template is written by an operator, so it is treated as untrusted:
- it runs in Jinja's immutable sandbox and sees plain data only (dicts,
  strings, numbers — never ORM objects, whose attributes lead to the session
  and the database);
- it cannot include, import or extend anything (no loader, and such tags are
  refused before rendering);
- an HTML template loads nothing from outside: an image, stylesheet or font
  named by a URL or path is refused (app.core.pdf blocks them again while
  converting), and sets no font but DejaVu Sans (the PDF's Cyrillic);
- a misspelt placeholder is an error (StrictUndefined), not a blank in a
  signed contract or an e-mail;
- it fills within limits: the document's size, the size of any value it
  builds, the loop rounds over range() and the time (MAX_* below), so a
  template cannot make the panel build a 100 MB string or loop for minutes.
Every failure becomes a TemplateProblem with a Bulgarian message and the
template line; nothing half-filled is returned.

HTML templates are filled with autoescape on; text ones (an e-mail's subject
and body) with it off — a client named "Иванов & син" stays so in a mail.
"""
import re
import time
import traceback
from contextvars import ContextVar
from functools import lru_cache, wraps

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

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


def _bounded_environment(autoescape):
    environment = BoundedSandbox(autoescape=autoescape, undefined=StrictUndefined)
    environment.globals["range"] = _bounded_range
    environment.filters = {name: _bounded_filter(function) for name, function in environment.filters.items()}
    return environment


_environments = {"html": _bounded_environment(True), "text": _bounded_environment(False)}

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



def fill(source, context, kind="html"):
    """Render `source` with `context` in the sandbox, within the limits above. Raises TemplateProblem.

    `kind`: "html" (autoescaped, nothing from outside) or "text".
    """
    template = _compiled(source, kind)
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


@lru_cache(maxsize=64)
def _compiled(source, kind):
    environment = _environments[kind]
    try:
        parsed = environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(gettext("syntax error (%(detail)s)", detail=error.message), error.lineno) from None
    node = next(parsed.find_all(FILE_TAGS), None)
    if node is not None:
        raise TemplateProblem(
            gettext("a template may not include, import or extend other templates or files"), node.lineno
        )
    if kind == "html":
        _refuse(source, OUTSIDE_RESOURCE, lambda found: True, OUTSIDE_RESOURCE_PROBLEM)
        _refuse(source, FONT_DECLARATION, lambda found: ALLOWED_FONT not in found.lower(), FONT_PROBLEM)
    return environment.from_string(source)


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


def screen_page(html):
    """A filled HTML template as a page of its own, for a preview's sandboxed frame."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{SCREEN_POLICY}">'
        f"<style>{SCREEN_STYLE}</style></head><body>{html}</body></html>"
    )
