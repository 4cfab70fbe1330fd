"""Logs: one line per record, JSON with LOG_FORMAT=json, and the request id in every line of a request.

Every panel request has an id: the incoming X-Request-ID when it is a sane token (what nginx's $request_id
or another proxy sends: letters, digits and `-_.:@`, at most 128 characters), otherwise a new one; it is
returned in the X-Request-ID response header, carried by every log line written while the request is
handled, and by a job the request enqueues (app.core.queue puts it in the job's meta; worker.py sets it
again while the job runs), so a worker's lines for that job name the request that asked for it.

LOG_FORMAT (config.py): unset, the logging is left as it is (the development server, tests); "text" or
"json" configure the root logger of every process (panel, worker, cron, RADIUS, FTP: each builds its
application with create_app) to write one line per record to stderr. In json each line is an object with
`time` (UTC, ISO 8601), `level`, `logger`, `message`, `process`, and when known `request_id`, `job_id`,
the request's fields of the access line (`method`, `path`, `status`, `duration_ms`, `remote_addr`) and
`exception`. The standard library's logging and json do this in the formatter below: the one dependency
python-json-logger would bring adds nothing we need (its fields are the record's, and ours come from the
context variables either way).
"""
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import g, request

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.:@]{0,127}")
_request_id = ContextVar("billing_request_id", default=None)
_job_id = ContextVar("billing_job_id", default=None)
access_log = logging.getLogger("app.request")

# Attributes of every LogRecord: anything else on a record was given through `extra=` and is written too.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def current_request_id():
    return _request_id.get()


def current_job_id():
    return _job_id.get()


def sane_request_id(value):
    """The incoming id when it is a plain token, else None (a new one is made)."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id():
    return uuid.uuid4().hex


class in_context:
    """`with in_context(request_id, job_id):` — the ids of the work this thread does meanwhile (a job)."""

    def __init__(self, request_id=None, job_id=None):
        self.values = (request_id, job_id)

    def __enter__(self):
        self.tokens = (_request_id.set(self.values[0]), _job_id.set(self.values[1]))
        return self

    def __exit__(self, *_exc):
        _request_id.reset(self.tokens[0])
        _job_id.reset(self.tokens[1])


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside the message are escaped by json)."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        job_id = getattr(record, "job_id", None) or current_job_id()
        if job_id:
            entry["job_id"] = job_id
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry and not name.startswith("_"):
                entry[name] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level [process] logger [request id] message`, one line per record (tracebacks follow it)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s [%(process)d] %(name)s%(ids)s %(message)s")

    def format(self, record):
        ids = [each for each in (getattr(record, "request_id", None) or current_request_id(),
                                 getattr(record, "job_id", None) or current_job_id()) if each]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def configure(log_format, level="INFO"):
    """Send the root logger's records, one line each, to stderr in `log_format` ("json" or "text"). Once per
    process: a second call (another create_app) keeps the handler, as does a handler gunicorn's logconfig
    (docs/deploy/gunicorn.conf.py) put there with our formatter."""
    formatter_class = FORMATTERS.get((log_format or "").lower())
    if formatter_class is None:
        return
    root = logging.getLogger()
    root.setLevel(level.upper() if isinstance(level, str) else level)
    if any(isinstance(handler.formatter, formatter_class) for handler in root.handlers):
        return
    for handler in list(root.handlers):
        if getattr(handler, "billing_logs", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_class())
    handler.billing_logs = True
    root.addHandler(handler)
    sys.excepthook = _log_uncaught  # a process that dies of an exception says so in a line of its log too


def _log_uncaught(kind, error, traceback):
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("app").critical("uncaught exception: %s", error, exc_info=(kind, error, traceback))


def configured():
    """Whether configure() (or gunicorn's logconfig with our formatter) writes this process's logs."""
    return any(isinstance(handler.formatter, tuple(FORMATTERS.values())) for handler in logging.getLogger().handlers)


def announce(text):
    """A server's start line (RADIUS, FTP): a log record when the logs are configured, so a JSON log stays
    JSON; printed otherwise, as before."""
    if configured():
        logging.getLogger("app.server").info(text)
    else:
        print(text, flush=True)


def init_app(app):
    """Configure this process's logs, and give each request its id. Call first in create_app: its
    before_request runs before any other hook, its after_request after all of them, its teardown last."""
    configure(app.config.get("LOG_FORMAT"), app.config.get("LOG_LEVEL", "INFO"))
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)


def _start_request():
    request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
    g.billing_request_id = request_id
    g.billing_request_token = _request_id.set(request_id)
    g.billing_request_clock = time.perf_counter()


def _finish_request(response):
    request_id = g.get("billing_request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("billing_request_clock")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        path = request.path.encode("unicode_escape").decode("ascii")  # a newline in the path stays in its line
        access_log.info("%s %s %s", request.method, path, response.status_code,
                        extra={"method": request.method, "path": path, "status": response.status_code,
                               "duration_ms": duration, "remote_addr": request.remote_addr})
    return response


def _end_request(_error=None):
    token = g.pop("billing_request_token", None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (a streamed response's generator): forget it
            _request_id.set(None)
