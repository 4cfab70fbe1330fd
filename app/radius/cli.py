"""`flask --app app radius …`: the RADIUS server."""
import logging
import os
import signal
import sys
import traceback

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.logs import announce
from app.core.metrics import serve_side_port
from app.extensions import db
from app.radius.server import RadiusServer, open_socket

commands = AppGroup("radius", help="The RADIUS server: subscriber logins and accounting.")

@commands.command("serve")
@click.option("--host", default=None, help="address to listen on (default RADIUS_HOST)")
@click.option("--auth-port", type=int, default=None, help="authentication port (default RADIUS_AUTH_PORT)")
@click.option("--acct-port", type=int, default=None, help="accounting port (default RADIUS_ACCT_PORT)")
@click.option("--processes", type=click.IntRange(1, 64), default=1,
              help="server processes sharing the ports (SO_REUSEPORT); one per core")
@click.option("--metrics", "metrics_address", default=None,
              help="host:port of /metrics, /healthz and /readyz (default RADIUS_METRICS_ADDRESS; \"\": none); "
                   "with --processes N, process i takes port + i")
def serve(host, auth_port, acct_port, processes, metrics_address):
    """Serve Access-Request and Accounting-Request until SIGTERM or Ctrl-C."""
    config = current_app.config
    metrics_address = config["RADIUS_METRICS_ADDRESS"] if metrics_address is None else metrics_address
    host = host or config["RADIUS_HOST"]
    auth_port = auth_port if auth_port is not None else config["RADIUS_AUTH_PORT"]
    acct_port = acct_port if acct_port is not None else config["RADIUS_ACCT_PORT"]
    db.engine.dispose()  # the application `flask` built for the command keeps no connection: RADIUS has its own
    app = radius_application(current_app._get_current_object())
    with app.app_context():  # the RADIUS application's engine for all below (the children's, exit_promptly's)
        _serve(app, host, auth_port, acct_port, processes, metrics_address)


def radius_application(app):
    """The RADIUS process's application: `app`'s database with an engine of its own whose pool pings no connection
    before each batch (a round trip every batch, 10 % of an accounting flood's time). A connection lost meanwhile
    fails one batch, unanswered (the NAS sends it again, app.radius.accounting counts it), and SQLAlchemy renews
    the pool; the children's pools (dispose) keep the setting. The panel, the workers and an embedded RADIUS
    keep the ping (config.engine_options). No views: a RADIUS process serves no page (as worker.py's)."""
    from app import create_app

    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    return create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "SQLALCHEMY_ENGINE_OPTIONS": options}, views=False)


def _serve(app, host, auth_port, acct_port, processes, metrics_address):
    if processes == 1:
        server = RadiusServer(app, host, auth_port, acct_port)
        serve_side_port(app, metrics_address, name="radius")
        cached = f"; {len(server.cache.by_username)} logins in memory" if server.cache is not None else ""
        announce(f"RADIUS on {host}: authentication {server.ports[0]}, accounting {server.ports[1]}{cached}")
        server.serve()
        exit_promptly(0)
    # Every process's sockets are bound before any starts, so the ports answer as soon as this says so.
    sockets = [(open_socket(host, auth_port), open_socket(host, acct_port)) for _number in range(processes)]
    children = []
    for number, own in enumerate(sockets):
        pid = os.fork()
        if pid == 0:  # a child: its own sockets on the shared ports, its own database connections
            code = 1
            try:
                for pair in sockets:
                    if pair is not own:
                        for sock in pair:
                            sock.close()
                db.engine.dispose(close=False)
                server = RadiusServer(app, host, auth_port, acct_port, sockets=own)
                serve_side_port(app, metrics_address, offset=number, name=f"radius {number + 1}")
                server.serve()
                code = 0
            except BaseException:  # noqa: BLE001 — said on stderr; the child must not run the parent's code on
                traceback.print_exc()
            finally:
                os._exit(code)
        children.append(pid)
    for pair in sockets:
        for sock in pair:
            sock.close()
    announce(f"RADIUS on {host}: authentication {auth_port}, accounting {acct_port}, {processes} processes")

    def stop(*_signal):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    for pid in children:
        _pid, code = os.waitpid(pid, 0)
        status = status or os.waitstatus_to_exitcode(code)
    exit_promptly(1 if status else 0)


def exit_promptly(code):
    """Ends the process once the server has stopped (its batch in hand answered, see app.radius.server): the
    connections closed and the logs flushed, then out without the interpreter's teardown, which spent seconds
    freeing the login cache and the application object by object (5–15 s on a loaded machine: a NAS or a
    supervisor restarting the server waited that long for the ports)."""
    try:
        db.engine.dispose()
    except Exception:  # noqa: BLE001 — leaving all the same
        traceback.print_exc()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
