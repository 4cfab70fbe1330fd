"""Tables written out for Excel and for paper: CSV, XLSX and PDF, row by row.

A table is a header (column titles) and rows of Python values: str, int,
Decimal, date, datetime (naive UTC, as stored), bool or None. Each writer
turns them into what its reader expects:

- CSV for Excel with Bulgarian regional settings: UTF-8 with a BOM (so
  Excel reads Cyrillic), ";" between cells (the list separator when the
  decimal sign is a comma), numbers with a decimal comma, dates dd.mm.yyyy,
  moments in the office's time;
- XLSX (openpyxl, write-only: constant memory): numbers and dates as typed
  cells with Bulgarian number formats, a bold header row, frozen below it;
- PDF: an A4 table through app.core.pdf (the one PDF function), with a
  header that says whose, what, which filters, when and by whom, and page
  numbers.

Every writer neutralises a text cell that a spreadsheet would read as a
formula (it starts with = + - @, a tab or a CR): a quote goes in front, so
the cell shows the text and runs nothing. In XLSX, where a cell has a type,
only = and @ keep a visible quote; a phone "+359…" is a text cell shown as
typed.
"""
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from html import escape

# openpyxl (with NumPy) is imported by the XLSX writer only: loading it costs every process that never writes one
# (RADIUS, FTP, the worker's start, each CLI command) about a second.

from app.core.formatting import format_date, format_datetime, local_time
from app.core.pdf import html_to_pdf

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_STARTS = ("=", "@")
CSV, XLSX, PDF = "csv", "xlsx", "pdf"
FORMATS = (CSV, XLSX, PDF)
YES, NO = "Да", "Не"


def neutralise(text):
    """A text cell that cannot run as a formula in Excel or LibreOffice."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def decimal_comma(number):
    return format(number, "f").replace(".", ",")


def text_of(value):
    """How a value reads in a CSV cell or on paper."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, (Decimal, float)):
        return decimal_comma(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


class CsvWriter:
    def __init__(self, stream):
        # Bytes with a BOM: what Excel needs to read UTF-8.
        self.stream = stream
        self.stream.write("\ufeff".encode("utf-8"))
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def header(self, titles):
        self.row(list(titles))

    def row(self, values):
        self._csv.writerow([text_of(value) for value in values])
        self.stream.write(self._buffer.getvalue().encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate()

    def total(self, values):
        self.row(values)

    def close(self):
        pass


NUMBER_FORMATS = {Decimal: "#,##0.00", int: "0", date: "DD.MM.YYYY", datetime: "DD.MM.YYYY HH:MM:SS"}


# The columns' widths are measured on the first rows (a write-only sheet sets them before its first row).
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 6, 60
# What a typed cell shows, in characters, as its number format writes it.
SHOWN_WIDTHS = {date: 10, datetime: 19, bool: 2}


def shown_width(value):
    """How many characters a value takes in its cell (a text's longest line)."""
    if value is None:
        return 0
    for kind, width in SHOWN_WIDTHS.items():
        if isinstance(value, kind) and (kind is not date or not isinstance(value, datetime)):
            return width
    if isinstance(value, (Decimal, float)):
        return len(f"{value:,.2f}")
    return max((len(line) for line in str(value).splitlines()), default=0)


class XlsxWriter:
    """Typed cells with Bulgarian number formats; each column as wide as its title and its first rows need (a
    date shows as a date, not ###); a text a spreadsheet would read as a formula is stored as text (a phone
    "+359…" reads as typed, with no apostrophe shown)."""

    def __init__(self, stream, title="Справка"):
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.new_cell, self.bold, self.column_letter = WriteOnlyCell, Font(bold=True), get_column_letter
        self.stream = stream
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title[:31])
        self.sheet.freeze_panes = "A2"
        self._titles, self._pending, self._started = None, [], False

    def header(self, titles):
        self._titles = [str(title) for title in titles]

    def _start(self):
        """Sets the widths from the title and the rows held so far, then writes them."""
        if self._started:
            return
        self._started = True
        rows = ([self._titles] if self._titles is not None else []) + [values for values, _bold in self._pending]
        columns = max((len(row) for row in rows), default=0)
        for index in range(columns):
            widest = max((shown_width(row[index]) + (2 if row is self._titles else 0)
                          for row in rows if index < len(row)), default=0)
            self.sheet.column_dimensions[self.column_letter(index + 1)].width = \
                min(MAX_WIDTH, max(MIN_WIDTH, widest)) + 2
        if self._titles is not None:
            self.sheet.append([self._bold(self._text_cell(title)) for title in self._titles])
        for values, bold in self._pending:
            self._append(values, bold)
        self._pending = []

    def _text_cell(self, text):
        if text.startswith(HOSTILE_STARTS):
            text = neutralise(text)  # what can only be meant as a formula keeps its visible quote
        cell = self.new_cell(self.sheet, value=text)
        if text.startswith(FORMULA_STARTS):
            # A phone "+359…" or "-": a text cell, never a formula, shown as typed (Excel's own quote prefix,
            # which it does not display).
            cell.data_type = "s"
            cell.quotePrefix = True
        return cell

    def _cell(self, value):
        if isinstance(value, bool):
            return YES if value else NO
        if isinstance(value, datetime):
            # Stored in UTC; a spreadsheet has no zones: the office's time, as on screen.
            value = local_time(value).replace(tzinfo=None)
        elif isinstance(value, str):
            return self._text_cell(value)
        elif value is not None and not isinstance(value, (int, Decimal, float, date)):
            return self._text_cell(str(value))
        cell = self.new_cell(self.sheet, value=value)
        number_format = NUMBER_FORMATS.get(type(value))
        if number_format:
            cell.number_format = number_format
        return cell

    def _bold(self, cell):
        if not hasattr(cell, "font"):  # a plain value (yes/no): made a cell to be bold
            cell = self.new_cell(self.sheet, value=cell)
        cell.font = self.bold
        return cell

    def _append(self, values, bold=False):
        cells = [self._cell(value) for value in values]
        self.sheet.append([self._bold(cell) for cell in cells] if bold else cells)

    def row(self, values):
        if self._started:
            self._append(values)
            return
        self._pending.append((list(values), False))
        if len(self._pending) >= WIDTH_SAMPLE_ROWS:
            self._start()

    def total(self, values):
        if self._started:
            self._append(values, bold=True)
        else:
            self._pending.append((list(values), True))

    def close(self):
        self._start()
        self.book.save(self.stream)


# A4 landscape (842 × 595 pt): the table, and a frame at the foot for "стр. N от M".
LANDSCAPE_WITH_FOOTER = (
    "@page { size: a4 landscape;"
    " @frame content { left: 34pt; width: 774pt; top: 34pt; height: 512pt; }"
    " @frame footer { -pdf-frame-content: footer; left: 34pt; width: 774pt; top: 558pt; height: 20pt; } }"
)


class PdfTableWriter:
    """Collects the rows and draws them at close: a PDF is made in one piece. Big tables belong in CSV or
    XLSX; the PDF is for what goes on paper (a report, a day's list)."""

    def __init__(self, stream, title, *, company="", filters=(), operator="", made_at=None):
        self.stream, self.title = stream, title
        self.company, self.filters, self.operator, self.made_at = company, filters, operator, made_at
        self.titles, self.rows, self.total_row = [], [], None
        self.charts = []  # (title, PNG/SVG data URI)

    def header(self, titles):
        self.titles = list(titles)

    def row(self, values):
        # Paper runs no formulas: text as it is; figures to the right.
        self.rows.append([(escape(value if isinstance(value, str) else text_of(value)),
                           isinstance(value, (int, float, Decimal)) and not isinstance(value, bool))
                          for value in values])

    def total(self, values):
        self.row(values)
        self.total_row = self.rows.pop()

    def close(self):
        self.stream.write(html_to_pdf(self.html(), title=self.title, page=LANDSCAPE_WITH_FOOTER))

    def html(self):
        head = "".join(f"<th>{escape(str(title))}</th>" for title in self.titles)
        body = "".join("<tr>" + "".join(f"<td class='number'>{text}</td>" if number else f"<td>{text}</td>"
                                        for text, number in row) + "</tr>" for row in self.rows)
        if self.total_row is not None:
            body += "<tr class='total'>" + "".join(f"<td class='number'>{text}</td>" if number else f"<td>{text}</td>"
                                                   for text, number in self.total_row) + "</tr>"
        filters = "".join(f"<li>{escape(str(name))}: {escape(str(value))}</li>" for name, value in self.filters)
        charts = "".join(f"<p><b>{escape(str(title))}</b><br><img src='{uri}' width='480'></p>"
                         for title, uri in self.charts)
        made = format_datetime(self.made_at) if self.made_at else ""
        return f"""<html><head><style>
            body {{ font-size: 8.5pt; }}
            h1 {{ font-size: 14pt; margin: 0; }}
            table {{ width: 100%; }}
            th {{ background: #e8e8e8; text-align: left; border-bottom: 1px solid #999; padding: 2px; }}
            td {{ border-bottom: 0.5px solid #ccc; padding: 2px; }}
            td.number {{ text-align: right; }}
            tr.total td {{ font-weight: bold; border-top: 1px solid #333; }}
            .meta {{ color: #444; }}
            </style></head><body>
            <p class="meta">{escape(self.company)}</p>
            <h1>{escape(str(self.title))}</h1>
            <ul class="meta">{filters}</ul>
            <p class="meta">Изготвена на {made} от {escape(self.operator)}</p>
            {charts}
            <table repeat="1"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
            <div id="footer" class="meta">{escape(str(self.title))} — стр. <pdf:pagenumber> от <pdf:pagecount></div>
            </body></html>"""


def writer_for(fmt, stream, title, **pdf_header):
    if fmt == CSV:
        return CsvWriter(stream)
    if fmt == XLSX:
        return XlsxWriter(stream, title=str(title))
    return PdfTableWriter(stream, title, **pdf_header)
