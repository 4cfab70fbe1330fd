"""gunicorn's configuration for the panel:

    .venv/bin/gunicorn -c docs/deploy/gunicorn.conf.py 'app:create_app()'

Read from the environment (systemd's EnvironmentFile, compose's env_file):
GUNICORN_BIND (127.0.0.1:8000, nginx in front), GUNICORN_WORKERS (2 × cores
+ 1), GUNICORN_TIMEOUT (60 s: long work is a job, never a request).

LOG_FORMAT=json (or text): gunicorn's own lines go through the application's
formatter (app.core.logs), one JSON object per line like every other line
of the panel, and gunicorn's access log is off: the application logs each
request itself (logger "app.request", with its request id).

PROMETHEUS_MULTIPROC_DIR, when set, is where prometheus_client keeps each
worker's counts so that /metrics sums them whichever worker answers: a
folder of this machine, for the panel alone, emptied here at each start
(systemd's RuntimeDirectory does it too) and told of each worker that ends.
"""
import multiprocessing
import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Each worker builds its own application and database pool: nothing opened in the master is shared.
preload_app = False
# nginx passes X-Forwarded-For; the application believes it only with TRUSTED_PROXIES (ProxyFix).
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"

LOG_FORMAT = (os.environ.get("LOG_FORMAT") or "").strip().lower()
if LOG_FORMAT in ("json", "text"):
    accesslog = None
    logconfig_dict = {
        "root": {"level": os.environ.get("LOG_LEVEL", "INFO").upper(), "handlers": ["billing"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            # Each request is the application's line (with its id): none of gunicorn's beside it.
            "gunicorn.access": {"level": "INFO", "handlers": ["null"], "propagate": False},
        },
        "handlers": {
            "billing": {"class": "logging.StreamHandler", "formatter": "billing", "stream": "ext://sys.stderr"},
            "null": {"class": "logging.NullHandler"},
        },
        "formatters": {
            "billing": {"()": "app.core.logs.JsonFormatter" if LOG_FORMAT == "json" else "app.core.logs.TextFormatter"},
        },
    }


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):  # a previous run's counts would be summed in
            stale.unlink()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
