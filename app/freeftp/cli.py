"""`flask --app app freeftp …`: the FTP server and the indexer."""
import signal
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.logs import announce
from app.core.metrics import serve_side_port
from app.extensions import db
from app.freeftp.indexer import index_tree
from app.freeftp.models import FreeFtpIndexRun
from app.freeftp.server import FreeFtpServer, not_started_message, unreachable_folders
from app.freeftp.services import current_settings

commands = AppGroup("freeftp", help="FREEFTP: the FTP server and the index of its files.")


@commands.command("serve")
@click.option("--host", default=None, help="address to listen on (default FREEFTP_HOST)")
@click.option("--port", type=int, default=None, help="control port (default FREEFTP_PORT)")
@click.option("--metrics", "metrics_address", default=None,
              help="host:port of /metrics, /healthz and /readyz (default FREEFTP_METRICS_ADDRESS; \"\": none)")
def serve(host, port, metrics_address):
    """Serve FTP until SIGTERM or Ctrl-C; first checks that the settings' folders are reachable here."""
    config = current_app.config
    app = current_app._get_current_object()
    problems = unreachable_folders(app)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(not_started_message(app), err=True)
        sys.exit(1)
    server = FreeFtpServer(app, host or config["FREEFTP_HOST"], port if port is not None else config["FREEFTP_PORT"])
    serve_side_port(app, config["FREEFTP_METRICS_ADDRESS"] if metrics_address is None else metrics_address,
                    name="freeftp")
    announce(f"FTP on {server.address[0]}:{server.address[1]}, passive ports {config['FREEFTP_PASSIVE_PORTS']}")
    signal.signal(signal.SIGTERM, _stop)
    server.serve()  # ends, closing every session, on SystemExit or Ctrl-C


def _stop(*_signal):
    raise SystemExit(0)


@commands.command("index")
@click.option("--full", is_flag=True, help="list every folder again (finds files rewritten in place)")
@click.option("--root", default=None, help="the folder to index (default: the settings' FTP folder)")
def index(root, full):
    """Bring the index of the FTP folder up to date."""
    root = root or current_settings().ftp_root
    if not root:
        raise click.ClickException("No FTP folder in the FREEFTP settings.")
    run_id = index_tree(root, full=full)
    if run_id is None:
        raise click.ClickException("Another index run is going.")
    run = db.session.get(FreeFtpIndexRun, run_id)
    click.echo(f"{run.folders_read} of {run.folders_done} folders read; files: +{run.files_added} "
               f"~{run.files_changed} -{run.files_removed}; {run.seconds:.1f} s")
