"""Configuration from the environment, with embedded defaults.

Every setting has a default that runs the product on one machine with no
services (SQLite under instance/, jobs in-process). Production sets
BILLING_ENV=production and at least SECRET_KEY and DATABASE_URL.
"""
import os
import secrets
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url():
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'billing.db'}"
    # Heroku-style URLs name the driver "postgres", which SQLAlchemy 2 no longer accepts.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def engine_options(database_url):
    """SQLAlchemy engine options for a database URL."""
    options = {"pool_pre_ping": True}
    if database_url.startswith("postgresql"):
        # Short OLTP queries: PostgreSQL's JIT compiles a search over 100,000
        # clients for up to a second before running it in 100 ms.
        options["connect_args"] = {"options": "-c jit=off"}
    return options


class ConfigurationError(RuntimeError):
    """Raised when the environment cannot run the product safely."""


def load_config(checking=False):
    """Build the configuration dictionary from the environment.

    `checking`: for `flask check-config` (app.check_config), which reports a missing SECRET_KEY instead of
    refusing to start."""
    production = os.environ.get("BILLING_ENV", "development") == "production"
    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production and not checking:
            raise ConfigurationError("SECRET_KEY must be set when BILLING_ENV=production")
        secret_key = None if production else _development_secret_key()
    redis_url = os.environ.get("REDIS_URL") or None

    return {
        "BILLING_ENV": "production" if production else "development",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": _database_url(),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(_database_url()),
        "REDIS_URL": redis_url,
        "JOB_QUEUE_NAME": os.environ.get("JOB_QUEUE_NAME", "billing"),
        # A job whose worker has given no sign of life for this long (killed, its machine gone) is queued again
        # for another worker (worker.py): its unit of work never committed, so running it again is safe.
        "JOB_ABANDONED_SECONDS": _int("JOB_ABANDONED_SECONDS", 60),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # Where the panel and the public pages are reached, for the links in e-mails and on the public
        # pages (app.core.links); never the request's Host header. Default: where `make run` serves.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL")
        or f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}",
        # Mail (used by the billing cycle's warnings). Without MAIL_SERVER
        # messages are written to instance/outbox/ instead of being sent.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "billing@localhost"),
        # Without MAIL_SERVER: a folder for the messages as .eml files; unset, they are kept in the database.
        "MAIL_OUTBOX": os.environ.get("MAIL_OUTBOX") or None,
        # The nightly billing cycle: local time (Europe/Sofia), and whether the schedule runs at all.
        "CYCLE_TIME": os.environ.get("CYCLE_TIME", "02:30"),
        "CYCLE_SCHEDULE": _bool("CYCLE_SCHEDULE", True),
        "CYCLE_CHUNK": _int("CYCLE_CHUNK", 1000),  # subscriptions per job
        # RADIUS (`flask --app app radius serve`; `make run` starts it beside the panel). Production uses
        # 1812/1813 on the NASes' side of the network; the embedded default high ports on loopback.
        "RADIUS_HOST": os.environ.get("RADIUS_HOST", "0.0.0.0" if production else "127.0.0.1"),
        "RADIUS_AUTH_PORT": _int("RADIUS_AUTH_PORT", 1812 if production else 11812),
        "RADIUS_ACCT_PORT": _int("RADIUS_ACCT_PORT", 1813 if production else 11813),
        "RADIUS_INTERIM_INTERVAL": _int("RADIUS_INTERIM_INTERVAL", 300),  # seconds, sent in Access-Accept
        "RADIUS_NAS_REFRESH": float(os.environ.get("RADIUS_NAS_REFRESH", "5")),  # seconds between NAS list reloads
        # On PostgreSQL each server process keeps the logins' data in memory, kept current by LISTEN/NOTIFY.
        "RADIUS_AUTH_CACHE": _bool("RADIUS_AUTH_CACHE", True),
        # The usual Access-Request is read and answered without pyrad's packet objects (app/radius/lean.py).
        "RADIUS_LEAN": _bool("RADIUS_LEAN", True),
        # A session with no accounting for 2 × the interim interval plus this margin (seconds) is closed;
        # ended sessions are kept this many months (ЗЕС: traffic data 6 months), then deleted.
        "RADIUS_STALE_MARGIN": _int("RADIUS_STALE_MARGIN", 120),
        "RADIUS_RETENTION_MONTHS": _int("RADIUS_RETENTION_MONTHS", 6),
        "RADIUS_HOUSEKEEPING": float(os.environ.get("RADIUS_HOUSEKEEPING", "60")),  # seconds between checks
        "RADIUS_EMBEDDED": _bool("RADIUS_EMBEDDED", True),  # run.py starts the server in a thread
        # FREEFTP (`flask --app app freeftp serve`; `make run` starts it beside the panel on a high port).
        "FREEFTP_HOST": os.environ.get("FREEFTP_HOST", "0.0.0.0" if production else "127.0.0.1"),
        "FREEFTP_PORT": _int("FREEFTP_PORT", 21 if production else 2121),
        # Passive data ports ("first-last"), opened in the firewall; the address announced behind NAT.
        "FREEFTP_PASSIVE_PORTS": os.environ.get("FREEFTP_PASSIVE_PORTS", "60000-60099"),
        "FREEFTP_MASQUERADE_ADDRESS": os.environ.get("FREEFTP_MASQUERADE_ADDRESS") or None,
        # The host name in the search page's ftp:// links; empty: PUBLIC_BASE_URL's host.
        "FREEFTP_PUBLIC_HOST": os.environ.get("FREEFTP_PUBLIC_HOST") or None,
        # FTPS (explicit, AUTH TLS) when both are set: PEM certificate and key files.
        "FREEFTP_TLS_CERT": os.environ.get("FREEFTP_TLS_CERT") or None,
        "FREEFTP_TLS_KEY": os.environ.get("FREEFTP_TLS_KEY") or None,
        "FREEFTP_AUTH_FAILED_DELAY": float(os.environ.get("FREEFTP_AUTH_FAILED_DELAY", "3")),  # seconds
        # Registrations and password resets per address (the public pages).
        "FREEFTP_RATE_LIMIT": os.environ.get("FREEFTP_RATE_LIMIT", "5 per 1 hour"),
        "FREEFTP_EMBEDDED": _bool("FREEFTP_EMBEDDED", True),  # run.py starts the server in a thread
        # Seconds between an FTP process's refreshes of its sessions' rows; a process unseen for 3 beats is dead
        # and its sessions stop counting against the accounts' max_sessions (app.freeftp.sessions).
        "FREEFTP_SESSION_BEAT": float(os.environ.get("FREEFTP_SESSION_BEAT", "30")),
        # Head office as the seller on its own clients' contracts, receipts and invoices (a dealer's
        # clients get the dealer's company data) until an administrator saves
        # it at /head-office/. An empty VAT number means not VAT-registered:
        # invoices then cite чл. 113, ал. 9 ЗДДС.
        "COMPANY_NAME": os.environ.get("COMPANY_NAME", "Билинг Мрежи ООД"),
        "COMPANY_EIK": os.environ.get("COMPANY_EIK", "831642181"),
        "COMPANY_VAT_NUMBER": os.environ.get("COMPANY_VAT_NUMBER", "BG831642181"),
        "COMPANY_ADDRESS": os.environ.get("COMPANY_ADDRESS", "гр. София, бул. „Витоша“ 1"),
        "COMPANY_CITY": os.environ.get("COMPANY_CITY", "София"),
        "COMPANY_MOL": os.environ.get("COMPANY_MOL", "Иван Петров"),
        "COMPANY_BANK": os.environ.get("COMPANY_BANK", "Банка ДСК"),
        "COMPANY_IBAN": os.environ.get("COMPANY_IBAN", "BG80BNBG96611020345678"),
        "COMPANY_BIC": os.environ.get("COMPANY_BIC", "BNBGBGSD"),
        # Flask-AppBuilder
        "APP_NAME": os.environ.get("APP_NAME", "Билинг"),
        "AUTH_TYPE": AUTH_DB,
        "AUTH_ROLE_ADMIN": "Администратор",
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_USER_REGISTRATION": False,
        # Failed logins per username from one address, and per address across usernames
        # (app.security.logins); FAB's own limiter counted every login, successful ones
        # too, and only on the panel.
        "AUTH_RATE_LIMITED": False,
        "AUTH_RATE_LIMIT": os.environ.get("AUTH_RATE_LIMIT", "10 per 5 minute"),
        "AUTH_ADDRESS_RATE_LIMIT": os.environ.get("AUTH_ADDRESS_RATE_LIMIT", "50 per 5 minute"),
        # The subscribers' portal (app.portal.services): failed logins and access links asked, per client
        # (its number, or whatever was typed) and per address.
        "PORTAL_RATE_LIMIT": os.environ.get("PORTAL_RATE_LIMIT", "10 per 15 minute"),
        "PORTAL_ADDRESS_RATE_LIMIT": os.environ.get("PORTAL_ADDRESS_RATE_LIMIT", "30 per 15 minute"),
        # EasyPay's reg_bill.cgi (app.epay.services.easypay_code): empty means the one of the ePay.bg system chosen
        # in the merchant's settings (demo or production); the seconds a registration may take.
        "EASYPAY_URL": os.environ.get("EASYPAY_URL") or None,
        "EASYPAY_TIMEOUT": _int("EASYPAY_TIMEOUT", 10),
        # How long an enrolment link of the one-time code works (app.security.two_factor).
        "TWO_FACTOR_LINK_HOURS": _int("TWO_FACTOR_LINK_HOURS", 24),
        # Health and metrics (app.core.health, app.core.metrics). /readyz gives the database and Redis this many
        # seconds. /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (unset: no /metrics on
        # the panel); the RADIUS and FTP servers serve theirs on a side port ("host:port", empty: none).
        # Logs (app.core.logs): "json" (one object per line) or "text" on stderr, every process; unset: as
        # the development server and the tests leave them. Every request's line and its jobs' carry its id.
        "LOG_FORMAT": (os.environ.get("LOG_FORMAT") or "").strip().lower() or None,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "READY_TIMEOUT": float(os.environ.get("READY_TIMEOUT", "2")),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "RADIUS_METRICS_ADDRESS": os.environ.get("RADIUS_METRICS_ADDRESS", "127.0.0.1:9812" if production else ""),
        "FREEFTP_METRICS_ADDRESS": os.environ.get("FREEFTP_METRICS_ADDRESS", "127.0.0.1:9821" if production else ""),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "FAB_CREATE_DB": False,
        # Permissions are synchronised by `flask security init-roles` after
        # migrations, never as a side effect of starting a web process.
        "FAB_UPDATE_PERMS": False,
        "FAB_ADD_SECURITY_API": False,
        # Every API refusal carries its sentence under "message" (app.core.openapi.ERROR_BODY), the
        # token's refusals by Flask-JWT-Extended too (its default key is "msg").
        "JWT_ERROR_MESSAGE_KEY": "message",
        "FAB_API_SWAGGER_UI": not production,
        # The spec is served by app.core.openapi, corrected where FAB's is wrong.
        "FAB_ADD_OPENAPI_VIEWS": False,
        "FAB_SECURITY_MANAGER_CLASS": "app.security.manager.BillingSecurityManager",
        "FAB_BASE_TEMPLATE": "billing_base.html",
        "FAB_INDEX_VIEW": "app.core.views.HomeView",
        "BABEL_DEFAULT_LOCALE": "bg",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Sofia",
        "BABEL_TRANSLATION_DIRECTORIES": str(BASE_DIR / "translations"),
        "LANGUAGES": {
            "bg": {"flag": "bg", "name": "Български"},
            "en": {"flag": "gb", "name": "English"},
        },
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Strict-Transport-Security (app.core.headers): production is served over HTTPS only.
        "HSTS_MAX_AGE": _int("HSTS_MAX_AGE", 365 * 24 * 3600 if production else 0),
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_LIFETIME_SECONDS", 8 * 3600),
    }


def _development_secret_key():
    """A per-installation key kept under instance/, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
