"""Reports at /reports/ and exports at /exports/ (every report and every list view)."""
import dataclasses
import mimetypes
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote, urlencode

from flask import Response, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from app.billing.models import PaymentMethod, PaymentType
from app.catalog.models import Service, ServiceGroup
from app.core import files
from app.core.actors import current_operator
from app.core.exports import FORMATS
from app.core.figures import counted
from app.core.formatting import format_date, format_datetime, local_today
from app.core.money import format_money
from app.core.scoping import dealer_of
from app.core.views import HOME_PAGE, shown_refusals
from app.dealers.models import Dealer
from app.extensions import db
from app.reports import charts
from app.reports import services as reports
from app.reports.exports import (
    LIST_PREFIX,
    REPORT_PREFIX,
    export_progress,
    list_view,
    may_export,
    start_export,
)
from app.reports.models import DONE, Export
from app.reports.sources import FILTER_LABELS, REPORTS, chart_of, month_revenue, parse_filters
from app.security.models import Operator
from app.security.rights import may_access

FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel", "pdf": "PDF"}


class ReportsView(BaseView):
    route_base = "/reports"
    class_permission_name = "Reports"
    default_view = "index"
    method_permission_name = {"index": "list", "report": "list"}

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("reports/index.html", reports=REPORTS, title=gettext("Reports"))

    @expose("/<key>/")
    @has_access
    def report(self, key):
        if key not in REPORTS:
            abort(404)
        actor = current_operator()
        filters = parse_filters(key, request.args, actor)
        for message in filters["errors"].values():
            flash(message, "danger")
        kind = REPORTS[key]
        page = request.args.get("page", "")
        page = int(page) if page.isdigit() and len(page) < 7 else 0
        report = kind.build(actor, filters, page=page) if kind.paged else kind.build(actor, filters)
        if filters["errors"]:
            # A day that is not one is refused: no figures of another period under it (the message says why).
            report = dataclasses.replace(report, rows=[], total=None, page=None, count=None)
        chart = chart_of(key, actor, filters, report)
        source = REPORT_PREFIX + key
        return self.render_template(
            "reports/report.html", key=key, kind=kind, report=report, filters=filters, pager=_pager(report),
            chart=Markup(charts.svg(chart[1])) if chart else None, choices=_choices(key, actor),
            labels=FILTER_LABELS, may_export=may_export(actor, source), source=source, formats=FORMAT_LABELS,
            query_string=request.query_string.decode(), cell=_cell_text, title=str(report.title))


def _pager(report):
    """(previous page's address or None, "101–200 от 4 512", next page's address or None) for a paged report."""
    if report.page is None or report.count <= report.page_size:
        return None
    first = report.page * report.page_size
    args = request.args.to_dict()

    def page_url(number):
        return "?" + urlencode({**args, "page": number})

    return (page_url(report.page - 1) if report.page else None,
            gettext("%(first)d–%(last)d of %(count)d", first=first + 1,
                    last=min(first + report.page_size, report.count), count=report.count),
            page_url(report.page + 1) if first + report.page_size < report.count else None)


def _cell_text(value):
    """A cell as the screen shows it: figures with a decimal comma, days dd.mm.yyyy, moments local, yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, Decimal):
        return f"{value:,.2f}".replace(",", " ").replace(".", ",")
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def _choices(key, actor):
    """The options of the report's filter form."""
    names = REPORTS[key].filters
    choices = {}
    if "dealer" in names and dealer_of(actor) is None:
        choices["dealer"] = [("", gettext("All")), ("0", str(reports.HEAD_OFFICE))] + [
            (str(dealer.id), dealer.name) for dealer in db.session.scalars(select(Dealer).order_by(Dealer.name))]
    if "method" in names:
        choices["method"] = [("", gettext("All"))] + [(str(item.id), item.name) for item in db.session.scalars(
            select(PaymentMethod).order_by(PaymentMethod.name))]
    if "payment_type" in names:
        choices["payment_type"] = [("", gettext("All"))] + [(str(item.id), item.name) for item in db.session.scalars(
            select(PaymentType).order_by(PaymentType.name))]
    if "operator" in names:
        query = select(Operator).order_by(Operator.first_name, Operator.last_name)
        if dealer_of(actor) is not None:
            query = query.where(Operator.dealer_id == dealer_of(actor))
        choices["operator"] = [("", gettext("All"))] + [
            (str(item.id), f"{item.first_name} {item.last_name}") for item in db.session.scalars(query)]
    if "service" in names:
        choices["service"] = [("", gettext("All"))] + [(str(item.id), item.name) for item in db.session.scalars(
            select(Service).order_by(Service.name))]
    if "group" in names:
        choices["group"] = [("", gettext("All"))] + [(str(item.id), item.name) for item in db.session.scalars(
            select(ServiceGroup).order_by(ServiceGroup.name))]
    if "group_by" in names:
        choices["group_by"] = [(code, str(label)) for code, label in reports.REVENUE_GROUPS.items()]
    if "status" in names:
        choices["status"] = [("", gettext("All")), ("active", gettext("Active (service)")),
                             ("suspended", gettext("Suspended"))]
    if "age" in names:
        choices["age"] = [("", gettext("All"))] + [(str(index), reports.age_label(*age) + " " + gettext("days"))
                                                   for index, age in enumerate(reports.AGES, 1)]
    return choices


class ExportsView(BaseView):
    """An operator's exports: asking for one, its progress, its file."""

    route_base = "/exports"
    class_permission_name = "Export"
    default_view = "index"
    method_permission_name = {"index": "list", "start": "list", "show": "list", "status": "list",
                              "download": "list"}

    @expose("/")
    @has_access
    def index(self):
        actor = current_operator()
        exports = db.session.scalars(select(Export).where(Export.operator_id == actor.id)
                                     .order_by(Export.id.desc()).limit(50)).all()
        return self.render_template("reports/exports.html", exports=exports, formats=FORMAT_LABELS,
                                    progress=export_progress, title=gettext("My exports"))

    @expose("/start", methods=["POST"])
    @has_access
    def start(self):
        actor = current_operator()
        with shown_refusals():
            export = start_export(actor, request.form.get("source", ""), request.form.get("fmt", ""),
                                  request.form.get("query", ""))
            return redirect(url_for("ExportsView.show", pk=export.id))
        return redirect(request.referrer or url_for("ReportsView.index"))

    def _own(self, pk):
        export = db.session.get(Export, pk)
        if export is None or export.operator_id != current_operator().id:
            abort(404)
        return export

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        export = self._own(pk)
        percent, rows = export_progress(export)
        return self.render_template("reports/export.html", export=export, percent=percent, rows=rows,
                                    formats=FORMAT_LABELS, title=export.title)

    @expose("/<int:pk>/status")
    @has_access
    def status(self, pk):
        export = self._own(pk)
        percent, rows = export_progress(export)
        return jsonify({"status": export.status, "percent": percent, "rows": rows, "error": export.error,
                        "download": url_for("ExportsView.download", pk=pk) if export.status == DONE else None})

    @expose("/<int:pk>/download")
    @has_access
    def download(self, pk):
        export = self._own(pk)
        if export.status != DONE or not export.file_name:
            abort(404)
        stored = files.find(export.file_name)
        if stored is None:
            abort(404)
        name = f"{export.title} {format_date(export.created_at)}.{export.fmt}"
        # Streamed from the database a chunk at a time: any panel node serves what any worker wrote.
        response = Response(files.chunks(stored.id),
                            mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream")
        response.headers["Content-Length"] = str(stored.size)
        # The name in Cyrillic (filename*, every browser since 2012); a client that reads only the plain
        # filename gets it in Latin letters ("Klienti 07.12.2026.xlsx"), not stripped to " 07.12.2026.xlsx".
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{latin_file_name(name)}"; filename*=UTF-8\'\'{quote(name, safe="")}')
        return response


BULGARIAN_LATIN = dict(zip("абвгдежзийклмнопрстуфхцчшщъьюя",
                           ["a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                            "s", "t", "u", "f", "h", "ts", "ch", "sh", "sht", "a", "y", "yu", "ya"]))


def latin_file_name(name):
    """A file name in Latin letters (Bulgaria's official transliteration), for the plain filename parameter."""
    letters = []
    for char in name:
        latin = BULGARIAN_LATIN.get(char.lower())
        if latin is not None:
            letters.append(latin.capitalize() if char.isupper() else latin)
        elif char.isascii() and char.isprintable() and char not in '"\\':
            letters.append(char)
        else:
            letters.append("_")
    return "".join(letters)


def export_links():
    """The export buttons of the list page being shown, for whoever may export it ([] otherwise)."""
    endpoint = request.endpoint or ""
    view_name, _dot, method = endpoint.partition(".")
    if method != "list" or list_view(view_name) is None:
        return []
    source = LIST_PREFIX + view_name
    actor = current_operator()
    if not may_export(actor, source):
        return []
    return [{"source": source, "fmt": fmt, "label": FORMAT_LABELS[fmt]} for fmt in FORMATS]


def home_revenue(_record, actor, **_known):
    """The home page's month: revenue so far against the whole previous month, for who may see reports."""
    if not may_access(actor, "can_list", "Reports"):
        return {}
    today = local_today()
    revenue = counted(f"month-revenue:{today.isoformat()}", actor, lambda: month_revenue(actor, today))
    return {"home_revenue": revenue.value, "home_revenue_at": revenue.at, "format_money": format_money}


def register(appbuilder):
    appbuilder.add_view(ReportsView, "Reports", label=_l("Reports"), icon="fa-bar-chart")
    appbuilder.add_view_no_menu(ExportsView)
    HOME_PAGE.add("home/_revenue.html", home_revenue, order=25)
    current_app.context_processor(lambda: {"export_links": export_links})
