"""LIKE patterns from what a user typed: `%`, `_` and the escape character itself match only themselves.

The one place that escapes LIKE's wildcards; every pattern built from input
goes through `contains`, `starts_with` or `ends_with` and is used with `escape=ESCAPE`
(`column.like(contains(word), escape=ESCAPE)`).
"""
ESCAPE = "\\"


def escaped(text):
    """`text` with LIKE's wildcards and the escape character escaped."""
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def contains(text):
    """The pattern of a value holding `text` anywhere."""
    return f"%{escaped(text)}%"


def ends_with(text):
    """The pattern of a value ending with `text`."""
    return f"%{escaped(text)}"


def starts_with(text):
    """The pattern of a value beginning with `text`."""
    return f"{escaped(text)}%"
