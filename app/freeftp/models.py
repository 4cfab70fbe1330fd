"""FREEFTP: the settings, the registered accounts, the registration attempts and the index of the FTP tree."""
from flask_appbuilder import Model
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.formatting import format_datetime, utcnow

# What a registration attempt was (FreeFtpAttempt.kind) and how it ended (outcome).
REGISTER, RESET = "register", "reset"
ACCEPTED, REFUSED = "accepted", "refused"
# Why one was refused (FreeFtpAttempt.reason); the page and the admin list say it in words.
REASON_CLOSED = "closed"
REASON_NETWORK = "network"
REASON_EMAIL = "email"
REASON_INVALID = "invalid"
REASON_TAKEN = "taken"
REASON_RATE = "rate_limited"
REASON_UNKNOWN_EMAIL = "unknown_email"
REASONS = (REASON_CLOSED, REASON_NETWORK, REASON_EMAIL, REASON_INVALID, REASON_TAKEN, REASON_RATE,
           REASON_UNKNOWN_EMAIL)
# The purposes of FREEFTP's one-time links (app.core.one_time_links).
CONFIRM, NEW_PASSWORD = "freeftp-confirm", "freeftp-password"


class FreeFtpSettings(Model):
    """How FREEFTP works: one row (id 1), saved at /freeftp/settings/."""

    __tablename__ = "freeftp_settings"
    __versioned__ = {}

    id = Column(Integer, primary_key=True)
    enabled = Column(Boolean, nullable=False, default=False)
    # Networks registration is allowed from, one CIDR per line; empty: the Networks module's networks.
    allowed_networks = Column(Text)
    # Shell-style patterns an e-mail must match, comma separated ("*@example.bg"); empty: any.
    email_pattern = Column(String(300))
    email_must_be_client = Column(Boolean, nullable=False, default=False)
    confirm_email = Column(Boolean, nullable=False, default=True)
    download_kbps = Column(Integer)  # per session; empty: unlimited
    max_sessions = Column(Integer, nullable=False, default=2)
    ftp_root = Column(String(500))  # the public tree: served read-only and indexed
    homes_root = Column(String(500))  # FTP-type subscriptions' own folders, one per username
    home_quota_mb = Column(Integer, nullable=False, default=1024)
    page_text = Column(Text)

    __table_args__ = (
        CheckConstraint("id = 1", name="ck_freeftp_settings_single_row"),
        CheckConstraint("max_sessions >= 1", name="ck_freeftp_settings_sessions"),
        {"extend_existing": True},
    )

    def __str__(self):
        return "FREEFTP"


class FreeFtpAccount(Model):
    """An account registered on the public page: reads the public tree."""

    __tablename__ = "freeftp_account"
    # Counters change on every login and transfer: not history.
    __versioned__ = {"exclude": ["last_login_at", "last_login_from", "bytes_downloaded", "logins"]}
    __log_masked__ = ("password_hash",)

    id = Column(Integer, primary_key=True)
    username = Column(String(32), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    email = Column(String(200), nullable=False, index=True)
    active = Column(Boolean, nullable=False, default=True)
    email_confirmed = Column(Boolean, nullable=False, default=False)
    registered_at = Column(DateTime, nullable=False, default=utcnow)
    registered_from = Column(String(45))
    last_login_at = Column(DateTime)
    last_login_from = Column(String(45))
    logins = Column(Integer, nullable=False, default=0)
    bytes_downloaded = Column(BigInteger, nullable=False, default=0)

    def __str__(self):
        return self.username or ""


class FreeFtpAttempt(Model):
    """A registration or password-reset request from the public pages, accepted or refused (and why)."""

    __tablename__ = "freeftp_attempt"

    id = Column(Integer, primary_key=True)
    attempted_at = Column(DateTime, nullable=False, default=utcnow)
    remote_addr = Column(String(45), nullable=False)
    kind = Column(String(10), nullable=False)
    outcome = Column(String(10), nullable=False)
    reason = Column(String(20))
    username = Column(String(100))
    email = Column(String(200))
    account_id = Column(Integer, ForeignKey("freeftp_account.id", ondelete="SET NULL"), index=True)
    account = relationship("FreeFtpAccount")

    __table_args__ = (
        Index("ix_freeftp_attempt_addr", "remote_addr", "kind", "attempted_at"),
        CheckConstraint("kind IN ('register', 'reset')", name="ck_freeftp_attempt_kind"),
        CheckConstraint("outcome IN ('accepted', 'refused')", name="ck_freeftp_attempt_outcome"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.username or self.email or ''} ({self.remote_addr})".strip()


class FreeFtpFolder(Model):
    """A folder of the indexed tree, with the modification time it had when it was last read."""

    __tablename__ = "freeftp_folder"

    id = Column(Integer, primary_key=True)
    path = Column(String(1000), nullable=False, unique=True)  # relative to the root, "" for the root
    parent_id = Column(Integer, ForeignKey("freeftp_folder.id", ondelete="CASCADE"), index=True)
    mtime_ns = Column(BigInteger, nullable=False)

    def __str__(self):
        return "/" + (self.path or "")


class FreeFtpFile(Model):
    """A file of the indexed tree. `search_name`: its name folded (lower case, no accents) for the search."""

    __tablename__ = "freeftp_file"

    id = Column(Integer, primary_key=True)
    folder_id = Column(Integer, ForeignKey("freeftp_folder.id", ondelete="CASCADE"), nullable=False)
    folder = relationship("FreeFtpFolder")
    name = Column(String(255), nullable=False)
    search_name = Column(String(255), nullable=False)
    size = Column(BigInteger, nullable=False)
    modified_at = Column(DateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("folder_id", "name", name="uq_freeftp_file_folder_name"),
        {"extend_existing": True},
    )

    def __str__(self):
        return self.name or ""


class FreeFtpIndexRun(Model):
    """One run of the indexer: its progress while it runs, its counts when done."""

    __tablename__ = "freeftp_index_run"

    id = Column(Integer, primary_key=True)
    started_at = Column(DateTime, nullable=False, default=utcnow)
    finished_at = Column(DateTime)
    status = Column(String(10), nullable=False, default="running")
    folders_total = Column(Integer, nullable=False, default=0)  # known before the run: the progress bar's end
    folders_done = Column(Integer, nullable=False, default=0)
    folders_read = Column(Integer, nullable=False, default=0)  # changed (or new) folders actually listed
    files_added = Column(Integer, nullable=False, default=0)
    files_changed = Column(Integer, nullable=False, default=0)
    files_removed = Column(Integer, nullable=False, default=0)
    seconds = Column(Float)
    error = Column(String(500))

    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_freeftp_index_run_status"),
        {"extend_existing": True},
    )

    @property
    def percent(self):
        if self.status == "done":
            return 100
        if not self.folders_total:
            return 0
        return min(99, int(100 * self.folders_done / self.folders_total))

    def __str__(self):
        return f"№ {self.id} {format_datetime(self.started_at)}".strip()


class FreeFtpSession(Model):
    """An open FTP session of a registered account, in whichever FTP process serves it (app.freeftp.sessions).

    At most settings.max_sessions per account across every process: a session holds one of its account's
    slots 1…max_sessions, and the unique (account_id, slot) lets two processes racing for the last slot
    both try and only one win. `server` is the process (host:pid:start); it refreshes `seen_at` of its
    rows every FREEFTP_SESSION_BEAT seconds, so the rows of a process that died stop counting after a
    few beats and are purged.
    """

    __tablename__ = "freeftp_session"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("freeftp_account.id", ondelete="CASCADE"), nullable=False)
    slot = Column(Integer, nullable=False)
    server = Column(String(200), nullable=False, index=True)
    remote_addr = Column(String(45))
    opened_at = Column(DateTime, nullable=False, default=utcnow)
    seen_at = Column(DateTime, nullable=False, default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("account_id", "slot", name="uq_freeftp_session_account_slot"),
        {"extend_existing": True},
    )

    def __str__(self):
        return f"{self.account_id}/{self.slot} @ {self.server}"
