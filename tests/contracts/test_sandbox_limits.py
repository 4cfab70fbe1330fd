"""The templates' sandbox limits every value any operator, filter or call builds, and every loop's rounds — not
only what the template prints: each way around the old limits is refused at once, in Bulgarian."""
import time

import pytest

from app.core import sandbox
from app.core.sandbox import TemplateProblem, fill

VALUE = "стойност, която шаблонът създава, би била по-голяма от 100000 знака"
ROUNDS = "циклите на шаблона биха се изпълнили повече от 100000 пъти"
BIG = "{% set a = 'x' * 100000 %}"


@pytest.mark.parametrize("source, message", [
    (BIG + "{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}{% set c = b ~ b ~ b ~ b ~ b ~ b ~ b ~ b ~ b ~ b %}"
     "{{ c|length }}", VALUE),
    ("{% set a = '{:>99999}'.format(1) %}{% set b = '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format(a) %}"
     "{{ '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format(b)|length }}", VALUE),
    ("{{ ('{0:>99999}' * 1000).format(1)|length }}", VALUE),
    ("{% set a = '%99999d'|format(1) %}{{ ('%s' * 1000)|format(*([a] * 1000))|length }}", VALUE),
    (BIG + "{{ ([a] * 1000)|join|length }}", VALUE),
    (BIG + "{{ ''.join([a] * 1000)|length }}", VALUE),
    ("{% set a = 'x' * 10000 %}{{ a|replace('x', a)|length }}", VALUE),
    ("{% set a = 'x' * 10000 %}{{ a.replace('x', a)|length }}", VALUE),
    (BIG + "{% set l = [a] * 1000 %}{{ l|length }}", VALUE),
    (BIG + "{% set b %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endset %}{{ b|length }}", VALUE),
    (BIG + "{% macro m() %}{% for i in range(1000) %}{{ a }}{% endfor %}{% endmacro %}{{ m()|length }}", VALUE),
    ("{% set s = 'x' * 5000 %}{% for i in s %}{% for j in s %}{% endfor %}{% endfor %}", ROUNDS),
    ("{% set l = [1] * 5000 %}{% for i in l %}{% for j in l %}{% if j %}{% endif %}{% endfor %}{% endfor %}",
     ROUNDS),
    ("{% set s = 'x' * 5000 %}{% for i in s %}{{ s|map('upper')|list|length }}{% endfor %}", ROUNDS),
    ("{{ lipsum(20000)|length }}", "lipsum"),
], ids=["chained-tilde", "format-widths", "format-repeated-width", "format-filter", "join-filter", "join-method",
        "replace-filter", "replace-method", "list-of-big-strings", "block-set", "macro", "nested-string-loops",
        "nested-list-loops", "filter-iterating-inside-a-loop", "lipsum"])
def test_a_way_around_the_limits_is_refused_at_once(app, monkeypatch, source, message):
    # The fill's wall-clock limit would stop these too on a loaded machine: set far off, so that the limit each
    # case is about is the one that refuses it.
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 60.0)
    with app.test_request_context():
        # The process's CPU time, not the wall clock: "at once" must hold on a machine another run is loading.
        started = time.process_time()
        with pytest.raises(TemplateProblem) as refusal:
            fill(source, {}, kind="text")
        spent = time.process_time() - started
    assert message in str(refusal.value), str(refusal.value)
    assert spent < 1.0, spent


def test_an_ordinary_template_fills_as_before(app):
    source = ("{{ ['a', 'b']|join(', ') }}|{{ 'xy'|replace('x', 'z') }}|{{ '%.2f'|format(1.5) }}|"
              "{% for c in 'abc' %}{{ loop.index }}{% endfor %}|{{ 'a' ~ 1 }}|{{ '{:>4}'.format(7) }}|"
              "{% set b %}<{{ name }}>{% endset %}{{ b }}|{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(2) }}|"
              "{% for i in range(3) if i %}{{ i }}{% else %}-{% endfor %}|{{ items|sum }}|{{ 'ab' * 2 }}")
    with app.test_request_context():
        assert fill(source, {"name": "Иванов & син", "items": [1, 2]}, kind="text") == \
            "a, b|zy|1.50|123|a1|   7|<Иванов & син>|[2]|12|3|abab"
        assert fill("{% set b %}{{ name }}{% endset %}{{ b }}{{ 'x' ~ name }}", {"name": "<b>"}) == \
            "&lt;b&gt;x&lt;b&gt;"


def test_a_fill_that_runs_too_long_is_stopped_in_bulgarian(app, monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.05)
    source = "{% for i in range(90000) %}{{ i ~ i ~ i }}{% endfor %}"  # under the rounds' limit, slower than 0.05 s
    with app.test_request_context():
        with pytest.raises(TemplateProblem) as refusal:
            fill(source, {}, kind="text")
    assert "попълването на шаблона отнема повече от 0.05 секунди" in str(refusal.value)
