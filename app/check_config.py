"""`flask --app app check-config`: what is missing or unsafe in the configuration for production.

It reads the configuration the processes would run with (config.load_config through create_app, the same
environment) and, when the database answers, what is in it: the protection list, the operators' passwords,
demo data. Each finding is one line; UNSAFE ones make the command exit 1 (a deployment script stops on it),
WARNINGs are printed but leave it 0.

With BILLING_ENV=production and no SECRET_KEY the application refuses to start; this command still runs
(create_app is told so: config.load_config(checking=True)) and says so as its first finding.

Passwords are compared with the stored hashes (werkzeug's check_password_hash, as the login does) and never
printed; only the operators' usernames are named.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext
from werkzeug.security import check_password_hash

from app.core import health
from app.dealers.models import Dealer
from app.demo import services as demo
from app.extensions import db
from app.freeftp.models import FreeFtpAccount
from app.freeftp.server import unreachable_folders
from app.freeftp.services import current_settings
from app.protection.services import allowed_networks
from app.radius.models import Nas
from config import INSTANCE_DIR

UNSAFE, WARNING = "unsafe", "warning"
MIN_SECRET_KEY = 32  # characters; `python -c "import secrets; print(secrets.token_hex(32))"` gives 64
# Values a SECRET_KEY or METRICS_TOKEN is left at when copied from an example (docs/deploy/billing.env.example).
EXAMPLE_SECRETS = {"change-me-to-64-hex-characters", "change-me-too", "change-me", "changeme", "secret", "dev",
                   "development", "test"}
# Passwords an operator may still have from an installation step: `flask demo seed`'s default for the demo
# operators, and what people type for a first admin.
DEFAULT_PASSWORDS = ("demo12345", "admin", "admin123", "password", "12345678")
CHECK_THREADS = 8  # the password checks at once (below)
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


def check(app=None):
    """The findings for this application's configuration and database, UNSAFE ones first."""
    app = app or current_app._get_current_object()
    config = app.config
    findings = []

    def unsafe(text):
        findings.append(Finding(UNSAFE, text))

    def warning(text):
        findings.append(Finding(WARNING, text))

    _check_environment(config, unsafe, warning)
    _check_database(app, unsafe, warning)
    return sorted(findings, key=lambda finding: finding.level != UNSAFE)


def _check_environment(config, unsafe, warning):
    if config.get("BILLING_ENV") != "production":
        unsafe(gettext("BILLING_ENV is not \"production\": cookies are not Secure and there is no HSTS."))

    key = config.get("SECRET_KEY") or ""
    if not key:
        unsafe(gettext("SECRET_KEY is not set: the processes refuse to start in production."))
    elif key == _development_key():
        unsafe(gettext("SECRET_KEY is not set: the key generated under instance/ is used, which another machine "
                       "does not have; set the same SECRET_KEY on every machine."))
    elif key.strip().lower() in EXAMPLE_SECRETS:
        unsafe(gettext("SECRET_KEY is the example's value: anyone who read it can forge sessions."))
    elif len(key) < MIN_SECRET_KEY:
        unsafe(gettext("SECRET_KEY is too short (%(length)d characters, at least %(minimum)d).",
                       length=len(key), minimum=MIN_SECRET_KEY))

    url = config.get("SQLALCHEMY_DATABASE_URI") or ""
    if not os.environ.get("DATABASE_URL") and url.startswith("sqlite"):
        unsafe(gettext("DATABASE_URL is not set: the data is in an SQLite file of this machine; production "
                       "needs PostgreSQL."))
    elif url.startswith("sqlite"):
        unsafe(gettext("DATABASE_URL is SQLite: one machine only, one writer at a time; production needs "
                       "PostgreSQL."))

    several_machines = bool(config.get("REDIS_URL"))
    if not config.get("REDIS_URL"):
        unsafe(gettext("REDIS_URL is not set: jobs run inside the process that starts them and the nightly "
                       "schedule does not run under gunicorn; not for several machines."))

    base = urlsplit(config.get("PUBLIC_BASE_URL") or "")
    if base.scheme != "https" or (base.hostname or "") in LOOPBACK_HOSTS:
        unsafe(gettext("PUBLIC_BASE_URL (%(url)s) is not the panel's public https:// address: the links in "
                       "e-mails and on the public pages lead there.", url=config.get("PUBLIC_BASE_URL") or ""))
    if not config.get("TRUSTED_PROXIES") and base.scheme == "https":
        unsafe(gettext("TRUSTED_PROXIES is 0 while the panel is behind a proxy (PUBLIC_BASE_URL is https): every "
                       "request seems to come from the proxy's address, so the protection list and the login "
                       "limits see one address; set it to the number of proxies in front (1 for nginx)."))

    if not config.get("RATELIMIT_ENABLED", True):
        unsafe(gettext("RATELIMIT_ENABLED is off: failed logins are not limited."))

    token = config.get("METRICS_TOKEN")
    if token and (token.strip().lower() in EXAMPLE_SECRETS or len(token) < 16):
        unsafe(gettext("METRICS_TOKEN is the example's value or shorter than 16 characters."))

    if os.environ.get("BILLING_ADMIN_PASSWORD"):
        unsafe(gettext("BILLING_ADMIN_PASSWORD is in the environment every process reads: remove it once the "
                       "administrator exists."))

    if not config.get("MAIL_SERVER"):
        outbox = config.get("MAIL_OUTBOX")
        if outbox and several_machines:
            warning(gettext("MAIL_SERVER is not set: the messages are written to the folder %(folder)s of the "
                            "machine whose worker sends them; with workers on several machines it must be a "
                            "shared folder (or unset MAIL_OUTBOX: they are kept in the database).", folder=outbox))
        else:
            warning(gettext("MAIL_SERVER (SMTP) is not set: no e-mail reaches the subscribers; the messages are "
                            "kept in the outbox."))


def _development_key():
    key_file = INSTANCE_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except OSError:
        return None


def _check_database(app, unsafe, warning):
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or ""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        # Connecting would create the file: a missing one is said, not made.
        if database and database != ":memory:" and not Path(database).exists():
            unsafe(gettext("The database %(database)s does not exist.", database=database))
            return
    ready, checks = health.readiness(app)
    if checks["redis"] == health.UNREACHABLE:
        unsafe(gettext("Redis (REDIS_URL) does not answer."))
    if checks["database"] != health.OK:
        unsafe(gettext("The database (DATABASE_URL) does not answer; nothing in it was checked."))
        return
    if checks["migrations"] == health.BEHIND:
        unsafe(gettext("The database's schema is older than this code: run \"flask --app app db upgrade\" before "
                       "the processes start."))
        return
    if checks["migrations"] == health.AHEAD:
        unsafe(gettext("The database's schema is newer than this code: a later release has migrated it."))
        return
    try:
        _check_protection(unsafe)
        _check_passwords(unsafe)
        _check_demo(unsafe)
        _check_ftp(warning)
    finally:
        db.session.rollback()


def _check_protection(unsafe):
    networks = allowed_networks()
    if not networks:
        unsafe(gettext("The protection list is empty: the panel, its login and the REST API are reachable from "
                       "every address; add the office's networks."))
    elif any(network.prefixlen == 0 for network in networks):
        open_to_all = ", ".join(str(network) for network in networks if network.prefixlen == 0)
        unsafe(gettext("The protection list lets every address in (%(networks)s).", networks=open_to_all))


def _check_passwords(unsafe):
    candidates = list(DEFAULT_PASSWORDS)
    for name in ("BILLING_DEMO_PASSWORD", "BILLING_ADMIN_PASSWORD"):
        if os.environ.get(name):
            candidates.append(os.environ[name])
    model = current_app.appbuilder.sm.user_model
    operators = db.session.execute(sa.select(model.username, model.password).where(model.active.is_(True))
                                   .order_by(model.username)).all()
    weak = weak_operators(operators, candidates)
    if weak:
        unsafe(gettext("Operators with a default or demo password: %(usernames)s.", usernames=", ".join(weak)))


def weak_operators(operators, candidates, threads=None):
    """The usernames of the (username, password hash) pairs whose password is one of `candidates`, in order.

    Every operator against every candidate, as before: each check is a KDF run on that operator's own salt
    (scrypt, ~40 ms), so nothing computed for one operator serves another, and 300 operators × 5–7 candidates
    took a minute on one core. The checks (each pair) run on all cores instead (`threads`, default the cores this process
    may use, at most CHECK_THREADS: scrypt takes 32 MiB each): hashlib's scrypt and pbkdf2 release the GIL
    while they compute, so threads are enough. Checking only the operators whose password never changed was not
    chosen: the model does not know who changed theirs, and nothing stops an operator from setting "admin123"
    later (FAB's password forms take any password).
    """
    operators = [(username, password_hash) for username, password_hash in operators if password_hash]
    pairs = [(password_hash, each) for _username, password_hash in operators for each in candidates]
    with ThreadPoolExecutor(max_workers=threads or _check_threads()) as pool:
        found = list(pool.map(lambda pair: _matches(*pair), pairs))
    per_operator = len(candidates)
    return [username for number, (username, _hash) in enumerate(operators)
            if any(found[number * per_operator:(number + 1) * per_operator])]


def _check_threads():
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (a container's share)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, CHECK_THREADS))


def _matches(password_hash, password):
    try:
        return check_password_hash(password_hash, password)
    except ValueError:  # a hash of an unknown method: not one of ours
        return False


def _check_demo(unsafe):
    model = current_app.appbuilder.sm.user_model
    found = []
    if db.session.scalar(sa.select(sa.func.count()).select_from(Nas).where(Nas.secret == demo.DEMO_NAS_SECRET)):
        found.append(gettext("a NAS with the demo secret"))
    operators = db.session.scalars(sa.select(model.username).where(
        model.username.in_([each[0] for each in demo.DEMO_OPERATORS])).order_by(model.username)).all()
    if operators:
        found.append(gettext("the demo operators %(usernames)s", usernames=", ".join(operators)))
    dealers = db.session.scalar(sa.select(sa.func.count()).select_from(Dealer).where(
        Dealer.name.in_([each[0] for each in demo.DEMO_DEALERS])))
    if dealers:
        found.append(gettext("demo dealers"))
    if db.session.scalar(sa.select(sa.func.count()).select_from(FreeFtpAccount)
                         .where(FreeFtpAccount.username == "demo")):
        found.append(gettext("the FREEFTP account \"demo\""))
    if found:
        unsafe(gettext("Demo data (flask demo seed) is present: %(what)s; its passwords are in the README.",
                       what="; ".join(found)))


def _check_ftp(warning):
    """The FTP server's own start check (app.freeftp.server.unreachable_folders: exists, a folder, listable, the
    homes writable), its sentences as warnings: one rule for both, said in the same words."""
    if not current_settings().enabled:
        return
    for problem in unreachable_folders(current_app._get_current_object()):
        warning(problem)


@click.command("check-config")
@with_appcontext
def command():
    """Say what is missing or unsafe for production (exit 1 when anything is unsafe)."""
    findings = check()
    for finding in findings:
        label = gettext("UNSAFE") if finding.level == UNSAFE else gettext("WARNING")
        click.echo(f"{label}: {finding.text}")
    unsafe = sum(finding.level == UNSAFE for finding in findings)
    warnings = len(findings) - unsafe
    if unsafe:
        click.echo(gettext("%(unsafe)d unsafe, %(warnings)d warnings: not ready for production.",
                           unsafe=unsafe, warnings=warnings))
        raise SystemExit(1)
    if warnings:
        click.echo(gettext("Nothing unsafe; %(warnings)d warnings.", warnings=warnings))
    else:
        click.echo(gettext("All is well: nothing missing or unsafe for production."))
