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
  builds, its loop rounds and the time (MAX_* below), so a template cannot
  make the panel build a 100 MB string or loop for minutes. Every value an
  operator, `~`, filter, call, {% set %} block or macro makes is checked,
  and where one small value could make a huge one (`*`, `**`, format
  widths, join, replace, indent…) what it would build is checked first;
  every item of every loop — and of a filter that goes through a sequence
  (map, join, sum…) — is a round, printed or not.
Every failure becomes a TemplateProblem with a Bulgarian message and the
template line; nothing half-filled is returned.

HTML templates are filled with autoescape on; text ones (an e-mail's subject
and body) with it off — a client named "Иванов & син" stays so in a mail.
"""
import re
import time
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache, wraps
from string import Formatter

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import markup_join, str_join
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
MAX_ITERATIONS = 100_000  # loop rounds (and items filters go through) in one fill, all together
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


def _spend(rounds=0):
    budget = _budget.get()
    if budget is not None:
        budget.spend(rounds)


def _too_large():
    return TemplateLimit(VALUE_TOO_LARGE % {"size": MAX_VALUE})


def _size(*values):
    """What values amount to once printed or joined: a string's characters, a container's items and theirs, a
    number's digits. Counting stops past MAX_VALUE (a list of a thousand references to one long string is as
    large as the string a join or a print would make of it)."""
    stack, total = list(values), 0
    while stack and total <= MAX_VALUE:
        value = stack.pop()
        if isinstance(value, (str, bytes)):
            total += len(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total += value.bit_length() * 3 // 10
        elif isinstance(value, dict):
            total += len(value)
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            total += len(value)
            stack.extend(value)
    return total


def _checked(value, estimate=0):
    """`value` when it is within MAX_VALUE (and the time is not up); `estimate`: what building it would cost."""
    _spend()
    if estimate > MAX_VALUE or _size(value) > MAX_VALUE:
        raise _too_large()
    return value


class _Counted:
    """An iterator whose every item counts as a loop round of the fill (loops that print nothing included)."""

    def __init__(self, iterable):
        self._items = iter(iterable)

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        _spend(1)
        return item


def _counted(iterable):
    return iterable if isinstance(iterable, _Counted) else _Counted(iterable)


def _bounded_range(*args):
    """range() whose rounds count against the fill's budget."""
    return _Counted(range(*args))


def _ints(values):
    return [value for value in values if isinstance(value, int) and not isinstance(value, bool)]


# A printf-style field: its width and precision (a number, or * taken from the values).
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


def _percent_widths(text, values):
    """Characters the widths and precisions of a printf-style format may add ("%099999d", "%.99999f", "%*d")."""
    widest = max(_ints(values), default=0)
    return sum(widest if part == "*" else int(part)
               for field in _PERCENT_FIELD.finditer(text) for part in field.groups() if part)


def _format_widths(text, values):
    """Characters the fields of a str.format string may add ("{:>99999}", "{0:{1}}" with a width from the values)."""
    widest = max(_ints(values), default=0)
    try:
        fields = list(Formatter().parse(text))
    except ValueError:
        return 0  # the call itself says what is wrong with it
    total = 0
    for _literal, name, spec, _conversion in fields:
        if name is not None and spec:
            total += widest if "{" in spec else sum(int(digits) for digits in re.findall(r"\d+", spec))
    return total


def _replace_cost(text, old, new, count=-1):
    text, old, new = str(text), str(old), str(new)
    places = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        places = min(places, count)
    return len(text) + places * len(new)


def _join_cost(separator, items):
    items = list(items) if not isinstance(items, (list, tuple, str)) else items
    return _size(items) + len(str(separator)) * len(items), items


def _lines_cost(text, width):
    text = str(text)
    added = len(width) if isinstance(width, str) else (width if isinstance(width, int) else 0)
    return len(text) + (text.count("\n") + 1) * added


def _method_cost(owner, name, args, kwargs):
    """What a str method would build, for the methods that multiply a string (0 for the others)."""
    if name in ("format", "format_map"):
        values = [*args, *kwargs.values(), *(args[0].values() if name == "format_map" and args
                                            and isinstance(args[0], dict) else ())]
        return len(owner) + _format_widths(owner, values) + _size(*values)
    if name == "replace" and len(args) >= 2:
        return _replace_cost(owner, *args[:3])
    if name == "expandtabs":
        tab = (_ints(args) or _ints(kwargs.values()) or [8])[0]
        return len(owner) + owner.count("\t") * max(tab, 0)
    return 0


# str methods that build unbounded text from small arguments (a translation table maps a character to any string).
_UNSAFE_STR_METHODS = frozenset({"translate", "maketrans"})


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code, with each loop's items counted and each `~` checked before it joins."""

    def visit_For(self, node, frame):
        if not getattr(node, "counted", False):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None,
                                   lineno=node.iter.lineno)
            node.counted = True
        super().visit_For(node, frame)

    def visit_Concat(self, node, frame):
        self.write(f"environment.bounded_join({bool(frame.eval_ctx.autoescape)!r}, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, in which every value the template builds — by an operator, `~`, a filter, a
    call, a {% set %} block or a macro — is checked against MAX_VALUE, before it is built where building it
    alone would be the attack, and every loop's item counts against MAX_ITERATIONS.

    Intercepting the operators also stops Jinja from folding constant
    expressions ({{ 'a' * 10**8 }}) while compiling, before any check.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator
    counted = staticmethod(_counted)

    @staticmethod
    def concat(parts):
        """The text of a {% set %} block, a macro, a {% filter %} block: within MAX_VALUE, checked before joining."""
        parts = list(parts)
        _checked(None, sum(len(part) for part in parts))
        return "".join(parts)

    @staticmethod
    def bounded_join(autoescape, parts):
        """`a ~ b ~ c`, checked before joining."""
        _checked(None, _size(*parts))
        return _checked(markup_join(parts) if autoescape else str_join(parts))

    def is_safe_attribute(self, obj, attr, value):
        if isinstance(obj, str) and attr in _UNSAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 — Jinja's own signature
        _refuse_large_numbers(args, kwargs)
        _checked(None, _size(*args, *kwargs.values()))
        # A str method arrives wrapped by the sandbox; the string is the wrapped method's owner.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            name = getattr(method, "__name__", "")
            if name == "join" and args:
                cost, items = _join_cost(owner, args[0])
                _checked(None, cost)
                args = (items, *args[1:])
            else:
                _checked(None, _method_cost(owner, name, args, kwargs))
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        _spend()
        if operator == "%" and isinstance(left, str):
            values = right if isinstance(right, (tuple, list)) else [right]
            _checked(None, len(left) + _percent_widths(left, values) + _size(right))
        if operator == "**" and _ints([right]) and not isinstance(right, bool):
            if abs(right) > 64 or (_ints([left]) and left.bit_length() * abs(right) * 3 // 10 > MAX_VALUE):
                raise _too_large()
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if isinstance(sized, (str, list, tuple)) and _ints([times]) and _size(sized) * times > MAX_VALUE:
                    raise _too_large()
        if operator == "+":
            _checked(None, _size(left, right))
        return _checked(super().call_binop(context, operator, left, right))


def _refuse_large_numbers(args, kwargs):
    """A number too large to be any sensible width, count or length (center(10**8), indent(10**8)…)."""
    if any(abs(value) > MAX_VALUE for value in _ints([*args, *kwargs.values()])):
        raise _too_large()


def _filter_cost(name, value, args, kwargs):
    """What a filter that multiplies its input would build (0 for the others)."""
    if name == "replace" and len(args) >= 2:
        return _replace_cost(value, *args[:3])
    if name == "format":
        values = [*args, *kwargs.values()]
        return len(str(value)) + _percent_widths(str(value), values) + _size(*values)
    if name == "indent":
        return _lines_cost(value, args[0] if args else kwargs.get("width", 4))
    if name == "wordwrap":
        width = (_ints(args[:1]) or [kwargs.get("width", 79)])[0]
        wrap = kwargs.get("wrapstring") or (args[2] if len(args) > 2 else "\n")
        return len(str(value)) + (len(str(value)) // max(width, 1) + 1) * len(str(wrap))
    if name == "tojson":
        indent = (_ints(args[:1]) or _ints([kwargs.get("indent")]) or [0])[0]
        return _size(value) * (2 + indent)
    return 0


# Filters that go through their input item by item: each item counts as a round.
_ITERATING_FILTERS = frozenset({"map", "select", "reject", "selectattr", "rejectattr", "list", "join", "sum",
                                "unique", "min", "max", "sort", "groupby", "batch", "slice"})


def _bounded_filter(name, function):
    """The filter, its input and arguments within MAX_VALUE, what it would build checked first where it
    multiplies them, what it built checked after, and its items counted where it goes through them."""
    # Jinja passes the context, eval context or environment first to a filter marked so.
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @wraps(function)  # keeps Jinja's pass_context/pass_eval_context marks
    def bounded(*args, **kwargs):
        leading, value, rest = args[:skip], args[skip] if len(args) > skip else None, args[skip + 1:]
        _refuse_large_numbers(rest, kwargs)
        _checked(None, _size(value, *rest, *kwargs.values()))
        if name == "join":
            cost, value = _join_cost(rest[0] if rest else kwargs.get("d", ""), value)
            _checked(None, cost)
        else:
            _checked(None, _filter_cost(name, value, rest, kwargs))
        if name in _ITERATING_FILTERS and isinstance(value, (str, list, tuple, set, frozenset, dict, Iterator)):
            value = _counted(value)
        return _checked(function(*leading, value, *rest, **kwargs))

    return bounded


def _checked_output(value):
    """What a {{ … }} prints, within MAX_VALUE before it is turned into text."""
    return _checked(value)


def _bounded_environment(autoescape):
    environment = BoundedSandbox(autoescape=autoescape, undefined=StrictUndefined, finalize=_checked_output)
    environment.globals["range"] = _bounded_range
    # lipsum(n) writes n paragraphs of filler text: nothing a contract or an e-mail needs.
    environment.globals.pop("lipsum", None)
    environment.filters = {name: _bounded_filter(name, function) for name, function in environment.filters.items()}
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
