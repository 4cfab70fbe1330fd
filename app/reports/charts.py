"""Charts drawn on the server with Matplotlib: SVG on screen, PNG in the PDF — the same figure.

Why Matplotlib (docs/architecture.md): it is the best-kept Python charting
library, draws without a browser or any script (the panel loads nothing
from outside), ships DejaVu Sans (Cyrillic labels) and writes both SVG and
PNG from one figure. Its object API (Figure, not pyplot) keeps no global
state, so two requests can draw at once.
"""
import base64
import io
from decimal import Decimal

# Matplotlib (with NumPy) is imported where a chart is drawn: loading it costs every process that never draws one
# (RADIUS, FTP, the worker's start, each CLI command) about a second.

COLOUR = "#337ab7"  # the panel's primary blue
# Series side by side: the panel's blue, then Bootstrap's warning orange and danger red.
SERIES_COLOURS = (COLOUR, "#f0ad4e", "#d9534f", "#5cb85c")
WIDTH, HEIGHT = 8.0, 2.8  # inches


def _decimal_comma(value, _position=None):
    text = f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    # 1,234.50 → 1 234,50
    return text.replace(",", " ").replace(".", ",")


def bar_chart(labels, values, title, unit=""):
    """A Figure of bars: `labels` under them, `values` (numbers) their heights."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=100)
    axes = figure.add_subplot()
    heights = [float(value) if isinstance(value, Decimal) else value for value in values]
    positions = list(range(len(labels)))
    axes.bar(positions, heights, color=COLOUR)
    axes.set_xticks(positions, [str(label) for label in labels], rotation=45 if len(labels) > 8 else 0,
                    ha="right" if len(labels) > 8 else "center", fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(_decimal_comma))
    axes.set_title(str(title), fontsize=10)
    if unit:
        axes.set_ylabel(unit, fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def grouped_bar_chart(labels, series, title, unit=""):
    """A Figure of bars side by side per label: `series` is [(name, values)], named in a legend."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=100)
    axes = figure.add_subplot()
    width = 0.8 / max(len(series), 1)
    positions = list(range(len(labels)))
    for index, (name, values) in enumerate(series):
        heights = [float(value) if isinstance(value, Decimal) else value for value in values]
        axes.bar([position + (index - (len(series) - 1) / 2) * width for position in positions], heights,
                 width=width, color=SERIES_COLOURS[index % len(SERIES_COLOURS)], label=str(name))
    axes.set_xticks(positions, [str(label) for label in labels], rotation=45 if len(labels) > 8 else 0,
                    ha="right" if len(labels) > 8 else "center", fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}".replace(",", " ")))
    axes.set_title(str(title), fontsize=10)
    if unit:
        axes.set_ylabel(unit, fontsize=8)
    axes.legend(fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def svg(figure):
    """The figure as an inline <svg> element (text kept as text: small, sharp, searchable)."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def png_data_uri(figure):
    """The figure as a data: URI of a PNG (what the PDF embeds: app.core.pdf allows data: URIs only)."""
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
