"""Reading an uploaded table: CSV (UTF-8 with or without BOM, or Windows-1251; `;`, `,` or tab) or XLSX.

Gives the header and the rows as text, each row with its number in the file
(the header is row 1), so that a report points at the line the office sees
in Excel. Values stay as typed; the import reads days and amounts with the
panel's own rules (app.core.validators.parse_day, app.core.money.check_amount).
"""
import csv
import datetime
import io
import zipfile
from contextlib import contextmanager

from flask_babel import gettext

XLSX_MAGIC = b"PK\x03\x04"


class UnreadableFile(Exception):
    """The file is no table this import reads; the message says why, in the office's words."""


class Table:
    """A file's header and its rows: [(row number, [cell, …])], cells as text ("" when empty) or dates.

    `rows` may be read more than once (the import, then the refused-rows file); an XLSX's are read from the
    file each time, one row at a time (openpyxl's read-only mode), so 50,000 rows are never all in memory.
    `count` is how many rows there are (for a progress bar; an XLSX's as its sheet says, about right)."""

    def __init__(self, header, rows, file_format, count=None):
        self.header = header
        self.rows = rows
        self.format = file_format
        self.count = len(rows) if count is None else count


def read_table(content, file_name=""):
    """The table in `content` (bytes): XLSX by its signature (or name), else CSV. Raises UnreadableFile."""
    if not content:
        raise UnreadableFile(gettext("The file is empty."))
    if content.startswith(XLSX_MAGIC) or file_name.lower().endswith(".xlsx"):
        return _read_xlsx(content)
    return _read_csv(content)


def decode(content):
    """CSV bytes as text: UTF-8 (a BOM is dropped) when they are valid UTF-8, else Windows-1251 — what
    Bulgarian Excel writes for "CSV (разделен със запетая)"."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("cp1251", errors="replace")


def delimiter_of(first_line):
    """The separator the header line uses: Bulgarian Excel writes `;` (the comma is the decimal sign)."""
    counts = {separator: first_line.count(separator) for separator in (";", "\t", ",")}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else ";"


def _read_csv(content):
    text = decode(content)
    if "\x00" in text:
        raise UnreadableFile(gettext("This is not a CSV or XLSX file."))
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(first_line))
    rows = []
    header = None
    try:
        for record in reader:
            number = reader.line_num
            cells = [_csv_cell(cell) for cell in record]
            if header is None:
                header = cells
                continue
            if any(cells):
                rows.append((number, cells))
    except csv.Error:
        raise UnreadableFile(gettext("The CSV file cannot be read: check its quotes and separators.")) from None
    if not header or not any(header):
        raise UnreadableFile(gettext("The file has no header row."))
    return Table(header, rows, "CSV")


def _csv_cell(cell):
    """A CSV cell as typed: the quote that a refused-rows file (app.imports.services.refused_rows_file) puts
    before a value Excel would run as a formula is taken off again when the corrected file comes back."""
    text = cell.strip()
    if text.startswith("'") and text[1:2] in ("=", "+", "-", "@"):
        return text[1:]
    return text


def _read_xlsx(content):
    header_number, header, count = None, None, None
    with _first_sheet(content) as sheet:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(value) for value in values]
            if any(cells):
                header_number, header = number, cells
                break
        if sheet.max_row:
            count = max(0, sheet.max_row - (header_number or 0))
    if not header:
        raise UnreadableFile(gettext("The file has no header row."))
    return Table(header, XlsxRows(content, header_number), "XLSX", count=count or 0)


class XlsxRows:
    """An XLSX's rows below its header, streamed from the file on each reading."""

    def __init__(self, content, header_number):
        self.content, self.header_number = content, header_number

    def __iter__(self):
        with _first_sheet(self.content) as sheet:
            for number, values in enumerate(sheet.iter_rows(min_row=self.header_number + 1, values_only=True),
                                            start=self.header_number + 1):
                cells = [_cell_text(value) for value in values]
                if any(cell != "" for cell in cells):
                    yield number, cells


@contextmanager
def _first_sheet(content):
    from openpyxl import load_workbook  # loaded by the import only: every other process is spared it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError):
        raise UnreadableFile(gettext("The XLSX file cannot be read.")) from None
    try:
        yield sheet
    finally:
        workbook.close()


def _cell_text(value):
    """An XLSX cell as the CSV would have it: text; a date stays a date; 888123456.0 is "888123456"."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return str(value).strip()
