"""The import page /import/: upload a file, read its dry run row by row, run it, download the refused rows."""
from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.menu import in_menu
from app.core.actors import current_operator
from app.core.transaction import finish
from app.core.validators import as_id
from app.core.views import shown_refusals
from app.dealers.models import Dealer
from app.extensions import db
from app.imports.columns import template_csv
from app.imports.models import BALANCES, CLIENTS, KINDS, PAYMENTS, SUBSCRIPTIONS, ImportFile
from app.imports.services import (
    OUTCOME_LABELS,
    OUTCOMES,
    REFUSED,
    UNCHANGED,
    refused_rows_file,
    template_rows,
)
from app.imports.ubilling import import_ubilling, ubilling_url
from app.imports.runs import DONE, FAILED, import_progress, is_busy, start_import, state_of
from app.security.permissions import IMPORT_DATA
from app.security.rights import require_right

KIND_LABELS = {CLIENTS: _l("Clients"), SUBSCRIPTIONS: _l("Subscriptions"), BALANCES: _l("Opening balances"),
               PAYMENTS: _l("Payment history")}
MAX_FILE_BYTES = 50 * 1024 * 1024
RECENT_FILES = 10
# The currency of Ubilling's amounts (Cash, the payments log), the first the default.
UBILLING_CURRENCIES = ("EUR", "BGN", "USD")
# A page of a large file's report shows every row that is not "unchanged", up to this many.
MAX_ROWS_SHOWN = 2000
SHOWN_FIRST = {REFUSED: 0, "changed": 1}


def _file_or_404(pk):
    record = db.session.get(ImportFile, as_id(pk) or 0)
    if record is None:
        abort(404)
    return record


def _csv(content, name):
    return Response(content, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


class ImportView(BaseView):
    """One page for the whole import: the templates, the upload, the reports."""

    route_base = "/import"
    class_permission_name = "Import"
    default_view = "index"
    # One permission opens the page; the import right (checked in the operation too) decides the rest.
    method_permission_name = {"index": "list", "upload": "list", "report": "list", "run": "list",
                              "refused": "list", "template": "list", "progress": "list",
                              "ubilling": "list"}

    @expose("/")
    @has_access
    def index(self):
        require_right(IMPORT_DATA)
        recent = db.session.scalars(select(ImportFile).order_by(ImportFile.id.desc()).limit(RECENT_FILES)).all()
        return self.render_template(
            "imports/index.html", title=_l("Import from another system"), kinds=KIND_LABELS,
            templates={kind: template_rows(kind) for kind in KINDS},
            dealers=db.session.scalars(select(Dealer).order_by(Dealer.name)).all(), recent=recent,
            outcome_labels=OUTCOME_LABELS, currencies=UBILLING_CURRENCIES, chosen={})

    @expose("/template/<kind>")
    @has_access
    def template(self, kind):
        require_right(IMPORT_DATA)
        if kind not in KINDS:
            abort(404)
        return _csv(template_csv(kind), f"shablon-{kind}.csv")

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        """Keeps the file and shows its dry run: nothing of it is written yet."""
        require_right(IMPORT_DATA)
        kind = request.form.get("kind")
        upload = request.files.get("file")
        dealer = None
        if request.form.get("dealer"):
            dealer = db.session.get(Dealer, as_id(request.form.get("dealer")) or 0)
            if dealer is None:
                abort(404)
        content = upload.read(MAX_FILE_BYTES + 1) if upload else b""
        if kind not in KINDS:
            flash(gettext("Choose what the file holds: clients, subscriptions, balances or payments."), "danger")
            return redirect(url_for("ImportView.index"))
        if not content:
            flash(gettext("Choose a CSV or XLSX file."), "danger")
            return redirect(url_for("ImportView.index"))
        if len(content) > MAX_FILE_BYTES:
            flash(gettext("The file is larger than 50 MB."), "danger")
            return redirect(url_for("ImportView.index"))
        operator = current_operator()
        record = ImportFile(kind=kind, file_name=(upload.filename or "file.csv")[:200], content=content,
                            dealer_id=dealer.id if dealer else None, operator_id=operator.id)
        db.session.add(record)
        db.session.flush()
        return self._start(record, dry_run=True, new=True)

    @expose("/<pk>/run", methods=["POST"])
    @has_access
    def run(self, pk):
        """Imports the file, as a job: each row its own transaction; the report page shows its progress."""
        require_right(IMPORT_DATA)
        return self._start(_file_or_404(pk), dry_run=False)

    def _start(self, record, dry_run, new=False):
        file_id = record.id
        with shown_refusals() as outcome:
            start_import(current_operator(), record, dry_run)
        if outcome.refused:
            return redirect(url_for("ImportView.index") if new else url_for("ImportView.report", pk=file_id))
        finish()  # the file and its "queued" are kept; the job starts after this commit
        return redirect(url_for("ImportView.report", pk=file_id))

    @expose("/<pk>/progress")
    @has_access
    def progress(self, pk):
        """How far the file's job got, for the report page's bar."""
        require_right(IMPORT_DATA)
        state, percent, done, total = import_progress(_file_or_404(pk))
        return jsonify({"state": state, "percent": percent, "done": done, "total": total})

    @expose("/<pk>")
    @has_access
    def report(self, pk):
        require_right(IMPORT_DATA)
        record = _file_or_404(pk)
        report = record.report or {}
        state, percent, done, total = import_progress(record)
        rows = report.get("rows", []) if state in (DONE, FAILED) else []
        if len(rows) > MAX_ROWS_SHOWN:
            rows = [row for row in rows if row["outcome"] != UNCHANGED][:MAX_ROWS_SHOWN]
        # What needs the office first: the refused rows on top, then the changed, then the rest (each in the
        # file's order), so a long file's few refusals are not at the bottom of thousands of created rows.
        rows = sorted(rows, key=lambda row: SHOWN_FIRST.get(row["outcome"], len(SHOWN_FIRST)))
        return self.render_template(
            "imports/report.html", title=_l("Import report"), record=record, report=report, rows=rows,
            shortened=len(rows) < len(report.get("rows", [])), kind_label=KIND_LABELS.get(record.kind, record.kind),
            outcomes=OUTCOMES, outcome_labels=OUTCOME_LABELS, state=state, busy=is_busy(record), percent=percent,
            done=done, total=total)

    @expose("/ubilling", methods=["POST"])
    @has_access
    def ubilling(self):
        """Reads a Ubilling database (dry run or run) while the page waits, and shows the report. The password
        is used for this request only: not kept, not shown again."""
        require_right(IMPORT_DATA)
        form = request.form
        dealer = None
        if form.get("dealer"):
            dealer = db.session.get(Dealer, as_id(form.get("dealer")) or 0)
            if dealer is None:
                abort(404)
        dry_run = form.get("dry_run") == "1"
        currency = form.get("currency") if form.get("currency") in UBILLING_CURRENCIES else UBILLING_CURRENCIES[0]
        tariffs = {}
        for line in (form.get("tariffs") or "").splitlines():
            old, separator, new = line.partition("=")
            if separator and old.strip() and new.strip():
                tariffs[old.strip()] = new.strip()
        report = None
        with shown_refusals():
            url = ubilling_url(form.get("host"), form.get("database"), form.get("user"), form.get("password"),
                               form.get("port"))
            report = import_ubilling(current_operator(), url, dealer=dealer, dry_run=dry_run, tariffs=tariffs,
                                     currency=currency)
        if report is None:
            return redirect(url_for("ImportView.index"))
        return self.render_template(
            "imports/ubilling.html", title=_l("Import from Ubilling"), report=report, kinds=KIND_LABELS,
            outcomes=OUTCOMES, outcome_labels=OUTCOME_LABELS, currencies=UBILLING_CURRENCIES,
            dealers=db.session.scalars(select(Dealer).order_by(Dealer.name)).all(),
            chosen={key: form.get(key, "") for key in ("host", "port", "database", "user", "dealer", "currency",
                                                        "tariffs")})

    @expose("/<pk>/refused")
    @has_access
    def refused(self, pk):
        """The refused rows in the file's own columns, with the reason, to correct and import again."""
        require_right(IMPORT_DATA)
        record = _file_or_404(pk)
        if state_of(record) != DONE or not record.report.get("totals", {}).get(REFUSED):
            abort(404)
        return _csv(refused_rows_file(record.content, record.file_name, record.report), f"otkazani-{record.id}.csv")


def register(appbuilder):
    appbuilder.add_view(ImportView, "Import", label=_l("Import from another system"), icon="fa-upload",
                        **in_menu("Clients"))
