"""An uploaded file's dry run and its run, as a background job with a progress bar.

The page asks (start_import): the right is checked, the file's report says
"queued", and after the commit a job (app.core.queue, background=True: the
worker, or this process's background thread in the embedded default) takes
the file a chunk of rows at a time — each chunk one unit of work, committed
in a run, undone in a dry run (app.imports.services.import_file) — telling
its progress after each chunk (set_progress: Redis or this process's
memory, not the database). At the end the file keeps the report, which the
page then shows. A file has one job at a time: asking again while one is
queued or running is refused.
"""
from flask_babel import gettext

from app.core.errors import FieldErrors
from app.core.formatting import utcnow
from app.core.queue import enqueue, get_progress, set_progress
from app.core.transaction import after_commit
from app.dealers.models import Dealer
from app.extensions import db
from app.imports.models import ImportFile
from app.imports.services import import_file, may_import

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# A worker stops a job after this long (RQ's default, 180 s, is less than 50,000 rows take).
JOB_TIMEOUT = 3 * 3600


def state_of(record):
    """queued, running, done or failed (None before its first job); a report kept before imports ran as jobs is
    done."""
    report = record.report or {}
    return report.get("state", DONE if report else None)


def is_busy(record):
    return state_of(record) in (QUEUED, RUNNING)


def progress_key(record):
    """Unique to this file and this start (ids start again in a new database; Redis may still hold the old)."""
    return f"import:{record.id}:{record.uploaded_at:%Y%m%d%H%M%S%f}:{(record.report or {}).get('started', '')}"


def start_import(actor, record, dry_run):
    """Queues the file's dry run (or its run); the job starts after the commit. Raises FieldErrors."""
    if not may_import(actor):
        raise FieldErrors({"file": [gettext("You do not have the right to import from a file.")]})
    if is_busy(record):
        raise FieldErrors({"file": [gettext("This file is being imported already; wait for its report.")]})
    if not dry_run and (record.report or {}).get("error"):
        raise FieldErrors({"file": [gettext("This file cannot be imported: %(error)s", error=record.report["error"])]})
    record.report = {"state": QUEUED, "dry_run": dry_run, "started": utcnow().strftime("%Y%m%d%H%M%S%f"),
                     "previous": _previous(record.report)}
    db.session.flush()
    after_commit(enqueue, run_import, actor, record.id, dry_run, background=True, on_failure=import_failed,
                 job_timeout=JOB_TIMEOUT)
    return record


def _previous(report):
    """What the page shows when the job fails: the file's report before it (a dry run's), without nesting."""
    if not report or report.get("state") in (QUEUED, RUNNING):
        return (report or {}).get("previous")
    return {key: value for key, value in report.items() if key != "previous"}


def run_import(actor, file_id, dry_run):
    """The job: the file's rows a chunk at a time, then its report. Does nothing for a file not queued."""
    record = db.session.get(ImportFile, file_id)
    if record is None or state_of(record) != QUEUED:
        return
    key = progress_key(record)
    started = record.report.get("started")
    set_progress(key, 0, 0)
    record.report = {**record.report, "state": RUNNING}
    dealer = db.session.get(Dealer, record.dealer_id) if record.dealer_id else None
    content, file_name, kind = record.content, record.file_name, record.kind
    try:
        report = import_file(actor, content, file_name, kind, dealer=dealer, dry_run=dry_run,
                             progress=lambda done, total: set_progress(key, done, total))
    except FieldErrors as refusal:
        # The right was taken away after the page asked: nothing is written.
        report = {"kind": kind, "file_name": file_name, "dry_run": dry_run, "error": str(refusal)}
    record = db.session.get(ImportFile, file_id)
    record.report = {**report, "state": DONE, "started": started}
    if not dry_run and not report.get("error"):
        record.ran_at = utcnow()


def import_failed(actor, error_text, file_id, dry_run):
    """The job failed (a bug, a lost database): the page says so; the rows it committed stay (a rerun skips
    them)."""
    record = db.session.get(ImportFile, file_id)
    if record is None:
        return
    previous = (record.report or {}).get("previous") or {}
    record.report = {**previous, "state": FAILED, "dry_run": dry_run,
                     "failure": gettext("The import stopped: %(error)s", error=error_text[:300])}


def import_progress(record):
    """(state, percent, rows done, rows in all) of the file's job."""
    state = state_of(record)
    if state not in (QUEUED, RUNNING):
        return state, 100 if state == DONE else 0, 0, 0
    progress = get_progress(progress_key(record))
    if not progress:
        return state, 0, 0, 0
    done, total = progress
    return state, (min(99, int(done * 100 / total)) if total else 0), done, total
