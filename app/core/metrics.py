"""Prometheus metrics (the `prometheus_client` library), for the panel and the servers beside it.

The panel counts its requests by route (the URL rule, never the raw path:
`/clients/show/<pk>`), method and status, and their latency; `/metrics`
adds the job queue as Redis holds it (queued, started, failed, scheduled,
deferred and finished jobs of JOB_QUEUE_NAME, and the workers listening),
so any panel process tells the fleet's queue.

`/metrics` on the panel answers only with `Authorization: Bearer
<METRICS_TOKEN>`; without METRICS_TOKEN it does not exist (404). It is
outside the protection list: the token is its guard.

Several processes: gunicorn's workers each count their own requests. With
PROMETHEUS_MULTIPROC_DIR set (an empty folder of this machine, emptied at
each start: docs/gunicorn.conf.py, docs/systemd/), prometheus_client keeps
the counts in files there and `/metrics` sums every worker's, whichever
answers the scrape; without it a scrape sees one worker's counts.

The RADIUS and FTP servers are not web applications: each serves
`/metrics`, `/healthz` and `/readyz` on a side port of its own
(`serve_side_port`, RADIUS_METRICS_ADDRESS, FREEFTP_METRICS_ADDRESS),
127.0.0.1 by default; METRICS_TOKEN, when set, guards its `/metrics` too.
`flask radius serve --processes N` gives each process the next port
(9812, 9813, …): Prometheus scrapes each, and sums.
"""
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.core import health

log = logging.getLogger(__name__)

REQUESTS = Counter("billing_http_requests", "Requests answered by the panel, by route, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("billing_http_request_duration_seconds", "Time the panel took to answer, by route and method",
                    ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "unmatched"  # a 404 or 405: never the raw path (anyone could grow the label set)

blueprint = Blueprint("metrics", __name__)


def init_app(app):
    """Counts every request. Call before any other request hook: a request refused by a later
    before_request hook is counted too, and the count is taken after the unit of work has committed."""
    app.before_request(_started)
    app.after_request(_count)


def register(app):
    """The panel's `/metrics` (a worker's application serves no page)."""
    app.register_blueprint(blueprint)


def _started():
    g.billing_request_started = time.perf_counter()


def _count(response):
    rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    REQUESTS.labels(rule, method, str(response.status_code)).inc()
    started = g.get("billing_request_started")
    if started is not None:
        LATENCY.labels(rule, method).observe(time.perf_counter() - started)
    return response


def token_allows(authorization, token):
    """Whether an Authorization header carries the metrics token (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@blueprint.route("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not token_allows(request.headers.get("Authorization"), token):
        return Response("unauthorized\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    registry = CollectorRegistry()
    registry.register(_ProcessMetrics())
    registry.register(JobQueueCollector(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


metrics.public_route = True  # app.protection.guard: the token is this route's guard, not the address


class _ProcessMetrics:
    """This process's metrics, or every process's of PROMETHEUS_MULTIPROC_DIR summed (gunicorn's workers)."""

    def collect(self):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return registry.collect()
        return REGISTRY.collect()


class JobQueueCollector:
    """The RQ queue's state, read from Redis at each scrape (nothing without REDIS_URL: jobs run in-process)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        if not self.app.config.get("REDIS_URL"):
            return
        from redis import Redis
        from rq import Queue, Worker

        name = self.app.config["JOB_QUEUE_NAME"]
        up = GaugeMetricFamily("billing_redis_up", "Whether Redis answered this scrape (1) or not (0)")
        timeout = float(self.app.config.get("READY_TIMEOUT", 2))
        connection = Redis.from_url(self.app.config["REDIS_URL"], socket_timeout=timeout,
                                    socket_connect_timeout=timeout)
        try:
            queue = Queue(name, connection=connection)
            states = {
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
                "finished": queue.finished_job_registry.count,
            }
            workers = Worker.count(queue=queue)
        except Exception:  # noqa: BLE001 — a scrape says Redis is down rather than failing
            log.warning("metrics: Redis did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        finally:
            connection.close()
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("billing_jobs", "Jobs of the queue by state, as RQ keeps them in Redis",
                                 labels=["queue", "state"])
        for state, count in states.items():
            jobs.add_metric([name, state], count)
        yield jobs
        listening = GaugeMetricFamily("billing_workers", "RQ workers listening on the queue", labels=["queue"])
        listening.add_metric([name], workers)
        yield listening


def parse_address(address, offset=0):
    """("host", port + offset) from "host:port" or "[v6]:port"; None for an empty setting."""
    if not address:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not host:port: {address!r}")
    return host.strip("[]"), int(port) + offset


class _SideHandler(BaseHTTPRequestHandler):
    app = None  # set on the subclass serve_side_port makes

    def do_GET(self):  # noqa: N802 — http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, "application/json", json.dumps({"status": "alive"}).encode())
        elif path == "/readyz":
            with self.app.app_context():
                ready, checks = health.readiness(self.app)
            body = {"status": "ready" if ready else "unready", "checks": checks}
            self._send(200 if ready else 503, "application/json", json.dumps(body).encode())
        elif path == "/metrics":
            token = self.app.config.get("METRICS_TOKEN")
            if token and not token_allows(self.headers.get("Authorization"), token):
                self._send(401, "text/plain", b"unauthorized\n")
                return
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):  # a scrape every 15 s would fill stderr
        pass


def serve_side_port(app, address, offset=0, name="metrics"):
    """`/metrics`, `/healthz` and `/readyz` of a non-web process on `address` ("host:port", port + `offset`),
    in a daemon thread. Returns the HTTP server, or None when `address` is empty or cannot be bound (the
    process serves on without it: said in the log)."""
    try:
        bind = parse_address(address, offset)
    except ValueError:
        log.error("%s: %r is not host:port; no metrics port", name, address)
        return None
    if bind is None:
        return None
    host, port = bind
    if not app.config.get("METRICS_TOKEN") and not _loopback(host):
        log.warning("%s: metrics on %s without METRICS_TOKEN: anyone who reaches it reads them", name, host)
    handler = type("SideHandler", (_SideHandler,), {"app": app})
    server_class = type("SideServer", (ThreadingHTTPServer,), {
        "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET, "daemon_threads": True})
    try:
        server = server_class((host, port), handler)
    except OSError as error:
        log.warning("%s: metrics port %s:%s not opened: %s", name, host, port, error)
        return None
    threading.Thread(target=server.serve_forever, name=f"{name}-metrics", daemon=True).start()
    return server


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
