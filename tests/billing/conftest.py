"""Fixtures of the billing tests."""
import pytest


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    """The folder mail goes to without an SMTP server (the embedded default)."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(tmp_path / "outbox"))
    return tmp_path / "outbox"
