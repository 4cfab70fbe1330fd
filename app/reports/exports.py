"""Exports of every report and every list, written by a job: a request never waits for more than a page.

An operator asks (start_export): the right to export and to see the source
are checked, the request is recorded in the LOG (who, what, which
filters), and a job (app.core.queue, background=True: the worker, or this
process's background thread in the embedded default) writes the file
(write_export), reporting its progress. The export's page shows a bar and,
once done, the download link. The file is stored in the database
(app.core.files), so whichever panel node answers the download streams
what whichever worker wrote. Exports older than KEEP_HOURS are removed,
rows and files, by cleanup_exports (run at the end of each export's job;
any node may run it, the deletes are idempotent).

A list is exported exactly as the operator's list view selects it: the
view's own filters read from the same query string, its base filters (the
dealer scope among them, for the job's actor), its order; rows are read
EXPORT_PAGE at a time (yield_per), so a million rows take bounded memory.
Its columns, filters and order are the ones the list page offers that
operator (app.core.views.visible_columns, read_list_filters, list_order):
a filter on a column the operator may not see is ignored there and here.
"""
import secrets
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, select
from werkzeug.datastructures import MultiDict

from app.audit.models import LogEntry
from app.audit.services import record_event
from app.core import files
from app.core.actors import operator_of
from app.core.errors import FieldErrors
from app.core.exports import FORMATS, PDF, writer_for
from app.core.formatting import utcnow
from app.core.queue import enqueue, get_progress, set_progress
from app.core.transaction import after_commit
from app.core.views import list_order, read_list_filters, visible_columns
from app.dealers.services import company_of
from app.extensions import db
from app.reports.charts import png_data_uri
from app.reports.models import DONE, FAILED, QUEUED, RUNNING, Export
from app.reports.sources import REPORTS, chart_of, filter_description, parse_filters
from app.security import permissions
from app.security.rights import may, may_access

EXPORT_PAGE = 1000
KEEP_HOURS = 24
LIST_PREFIX, REPORT_PREFIX = "list:", "report:"


def list_view(name, view_class=None):
    """The panel's list view of that class name, or None.

    A worker builds no views (`python worker.py`): there the export job has
    the view's class, which the panel handed it (start_export), and reads
    the list through an instance of its own, built once per application and
    never registered with FAB (no route, no menu).
    """
    for view in current_app.appbuilder.baseviews:
        if type(view).__name__ == name and _is_list(view):
            return view
    if view_class is None or view_class.__name__ != name:
        return None
    built = current_app.extensions.setdefault("export_list_views", {})
    if view_class not in built:
        built[view_class] = view_class()
    return built[view_class] if _is_list(built[view_class]) else None


def _is_list(view):
    return hasattr(view, "datamodel") and hasattr(view, "list_columns")


def may_export(actor, source, view_class=None):
    """Whether `actor` may export `source` ("report:<key>" or "list:<ViewClass>")."""
    if actor is None or not may(actor, permissions.EXPORT_REPORTS):
        return False
    if source.startswith(REPORT_PREFIX):
        return source[len(REPORT_PREFIX):] in REPORTS and may_access(actor, "can_list", "Reports")
    if source.startswith(LIST_PREFIX):
        view = list_view(source[len(LIST_PREFIX):], view_class)
        return view is not None and may_access(actor, "can_list", view.class_permission_name)
    return False


def source_title(source):
    if source.startswith(REPORT_PREFIX):
        return str(REPORTS[source[len(REPORT_PREFIX):]].title)
    view = list_view(source[len(LIST_PREFIX):])
    return str(view.list_title or view.class_permission_name)


def start_export(actor, source, fmt, query_string=""):
    """Asks for an export; returns it, queued. The job starts after the commit. Raises FieldErrors."""
    if fmt not in FORMATS:
        raise FieldErrors({"fmt": [gettext("Choose CSV, Excel or PDF.")]})
    if not may_export(actor, source):
        raise FieldErrors({"source": [gettext("You do not have the right to export this.")]})
    query_string = (query_string or "")[:4000]
    export = Export(operator=operator_of(actor), source=source, title=source_title(source)[:200],
                    query_string=query_string, fmt=fmt, status=QUEUED)
    db.session.add(export)
    db.session.flush()
    record_event(LogEntry.EXPORT, user=actor, entity=export,
                 note=f"{export.title} ({fmt.upper()}): {describe(actor, source, query_string)}"[:500])
    # The job gets the list view's class, not only its name: a worker has no views to find it among.
    view_class = type(list_view(source[len(LIST_PREFIX):])) if source.startswith(LIST_PREFIX) else None
    after_commit(enqueue, write_export, actor, export.id, view_class, background=True)
    return export


def describe(actor, source, query_string):
    """The filters of an export, in words, for the LOG."""
    pairs = filter_pairs(actor, source, query_string)
    return "; ".join(f"{name}: {value}" for name, value in pairs) or gettext("no filters")


def filter_pairs(actor, source, query_string, view_class=None):
    """[(label, value)] of the filters the export applies for `actor`: the LOG's note and the PDF's header.

    A report's, as its own filters describe them; a list's, only those its
    page honours for the actor (read_list_filters), by column and filter
    name, related records by their id — never by another dealer's name.
    """
    if source.startswith(REPORT_PREFIX):
        return filter_description(source[len(REPORT_PREFIX):], _args(query_string), actor)
    view = list_view(source[len(LIST_PREFIX):], view_class)
    with current_app.test_request_context("/?" + query_string):
        applied = read_list_filters(view, actor).get_filters_values()
    return [(f"{view.label_columns.get(flt.column_name, flt.column_name)} ({flt.name})",
             ", ".join(str(item) for item in value) if isinstance(value, list) else str(value))
            for flt, value in applied]


def _args(query_string):
    return MultiDict([(key, value) for key, values in parse_qs(query_string).items() for value in values])


def progress_key(export):
    """Unique to the export (its id and when it was asked: ids start again in a new database, Redis may
    still hold the old ones' progress)."""
    return f"export:{export.id}:{export.created_at:%Y%m%d%H%M%S%f}"


def export_progress(export):
    """(percent, rows done) of an export, while its job runs and after."""
    if export.status in (DONE, FAILED):
        return (100 if export.status == DONE else 0), export.rows_done
    progress = get_progress(progress_key(export))
    if not progress:
        return 0, 0
    done, total = progress
    return (min(99, int(done * 100 / total)) if total else 0), done


def write_export(actor, export_id, view_class=None):
    """The job: writes the export's file. A retried job does nothing twice (it writes only a queued export).

    `view_class`: a list's view class (list_view), None for a report.
    """
    export = db.session.get(Export, export_id)
    if export is None or export.status != QUEUED:
        return
    if not may_export(actor, export.source, view_class):
        # The right was taken away after the request: nothing is written.
        export.status, export.error, export.finished_at = FAILED, gettext("No right to export this."), utcnow()
        return
    export.status = RUNNING
    name = f"export-{export.id}-{secrets.token_hex(8)}.{export.fmt}"
    try:
        # Written to a local temporary file first (the XLSX writer seeks in it), then stored a chunk at a time.
        with tempfile.TemporaryFile() as stream:
            export.rows_done = _write(actor, export, stream, view_class)
            stream.seek(0)
            with db.session.begin_nested():  # a file stored half is not stored
                files.save(stream, name, files.EXPORT, operator_id=export.operator_id,
                           dealer_id=getattr(export.operator, "dealer_id", None))
    except Exception as error:  # noqa: BLE001 — the export's page says it failed; the log has the trace
        current_app.logger.exception("export %s failed", export_id)
        export.status, export.error, export.finished_at = FAILED, str(error)[:500], utcnow()
        return
    export.status, export.file_name, export.finished_at = DONE, name, utcnow()
    cleanup_exports()


def _pdf_header(actor, export, view_class):
    company = company_of(getattr(actor, "dealer", None))
    return {"company": company.get("name") or "", "operator": str(actor), "made_at": utcnow(),
            "filters": filter_pairs(actor, export.source, export.query_string, view_class)}


def _write(actor, export, stream, view_class):
    header = _pdf_header(actor, export, view_class) if export.fmt == PDF else {}
    writer = writer_for(export.fmt, stream, export.title, **header)
    if export.source.startswith(REPORT_PREFIX):
        count = _write_report(actor, export, writer)
    else:
        count = _write_list(actor, export, writer, view_class)
    writer.close()
    return count


def _write_report(actor, export, writer):
    key = export.source[len(REPORT_PREFIX):]
    filters = parse_filters(key, _args(export.query_string), actor)
    report = REPORTS[key].build(actor, filters)
    writer.title = str(report.title)  # "Revenue by month": what the PDF's heading says
    writer.header(report.columns)
    set_progress(progress_key(export), 0, len(report.rows))
    for index, row in enumerate(report.rows, 1):
        writer.row(row)
        if index % EXPORT_PAGE == 0:
            set_progress(progress_key(export), index, len(report.rows))
    if report.total:
        writer.total(report.total)
    if export.fmt == PDF:
        chart = chart_of(key, actor, filters, report)
        if chart is not None:
            writer.charts.append((chart[0], png_data_uri(chart[1])))
    return len(report.rows)


def export_columns(view, actor):
    return visible_columns(view, actor, getattr(view, "export_columns", None) or view.list_columns)


def _write_list(actor, export, writer, view_class):
    view = list_view(export.source[len(LIST_PREFIX):], view_class)
    columns = export_columns(view, actor)
    writer.header([str(view.label_columns.get(column, column)) for column in columns])
    model = view.datamodel.obj
    # The list's filters and order, exactly as the operator's page read them from its query string.
    with current_app.test_request_context("/?" + export.query_string):
        joined = read_list_filters(view, actor).get_joined_filters(view._base_filters)
        order_column, order_direction = list_order(view, actor)
        # The relations the file's columns read of every row: the list's interface loads them as it decides.
        related = [column for column in columns
                   if view.datamodel.is_relation_many_to_one(column) and hasattr(model, column)]
        query = view.datamodel.apply_all(view.datamodel.session.query(model), joined, order_column, order_direction,
                                         related=related)
        total = view.datamodel.query_count(view.datamodel.session.query(model), joined)
    set_progress(progress_key(export), 0, total)
    count = 0
    for item in query.yield_per(EXPORT_PAGE):
        writer.row([_cell(view, item, column) for column in columns])
        count += 1
        if count % EXPORT_PAGE == 0:
            set_progress(progress_key(export), count, total)
    set_progress(progress_key(export), count, total)
    return count


# Written as typed cells whatever the list's formatter: amounts, dates and yes/no (the writers format them).
TYPED = (Decimal, float, date, datetime, bool)


def _cell(view, item, column):
    """A list cell as a typed value (amounts, dates) or the text the list shows: a code by its label (a
    client's services "Активна", not 2), an empty relation as the list names it (head office's dealer)."""
    value = item
    for part in column.split("."):
        value = getattr(value, part, None)
        if value is None:
            break
    if callable(value):
        value = value()
    if isinstance(value, TYPED):
        return value
    formatter = (view.formatters_columns or {}).get(column)
    if formatter is not None and (value is not None or view.datamodel.is_relation_many_to_one(column)):
        shown = formatter(value)
        return None if shown is None or shown == "" else str(shown)
    if value is None or isinstance(value, int):
        return value
    return str(value)


def cleanup_exports(now=None):
    """Removes the files and rows of exports finished more than KEEP_HOURS ago."""
    limit = (now or utcnow()) - timedelta(hours=KEEP_HOURS)
    old = db.session.execute(select(Export.id, Export.file_name).where(Export.created_at < limit)).all()
    if old:
        files.remove(file_name for _export_id, file_name in old if file_name)
        db.session.execute(delete(Export).where(Export.id.in_([export_id for export_id, _name in old])))
