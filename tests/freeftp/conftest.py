"""FREEFTP fixtures: the settings with real folders, a real FTP server on a free port, the outbox."""
import ftplib
import threading
from pathlib import Path

import pytest

from app.extensions import db
from app.freeftp.models import FreeFtpSettings
from app.freeftp.server import FreeFtpServer

SUBSCRIBER_ADDRESS = "192.0.2.10"  # the Browser's address


@pytest.fixture
def folders(tmp_path):
    public, homes = tmp_path / "pub", tmp_path / "homes"
    public.mkdir()
    homes.mkdir()
    return public, homes


def configure(app, **values):
    """Saves FREEFTP's settings (as the office would), committed."""
    with app.app_context():
        row = db.session.get(FreeFtpSettings, 1) or FreeFtpSettings(id=1)
        defaults = {"enabled": True, "allowed_networks": "192.0.2.0/24", "email_pattern": None,
                    "email_must_be_client": False, "confirm_email": False, "download_kbps": None,
                    "max_sessions": 2, "ftp_root": None, "homes_root": None, "home_quota_mb": 1, "page_text": None}
        for field, value in {**defaults, **values}.items():
            setattr(row, field, value)
        db.session.add(row)
        db.session.commit()


@pytest.fixture
def settings(app, folders):
    public, homes = folders
    configure(app, ftp_root=str(public), homes_root=str(homes))
    return folders


@pytest.fixture(autouse=True)
def outbox(app, tmp_path, monkeypatch):
    """Every registration and reset sends mail: into the test's own folder, never the project's instance/."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


def mails(outbox):
    from email import policy
    from email.parser import BytesParser

    return [BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            for path in sorted(Path(outbox).glob("*.eml"))]


@pytest.fixture
def ftp_server(app, monkeypatch):
    """A real FTP server (ThreadedFTPServer) on a free port; failed logins answered at once."""
    monkeypatch.setitem(app.config, "FREEFTP_AUTH_FAILED_DELAY", 0.05)
    monkeypatch.setitem(app.config, "FREEFTP_PASSIVE_PORTS", None)
    server = FreeFtpServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server.address[1]
    server.close()
    thread.join(5)


def connect(port, username, password):
    ftp = ftplib.FTP(timeout=10, encoding="utf-8")
    ftp.connect("127.0.0.1", port)
    ftp.login(username, password)
    return ftp
