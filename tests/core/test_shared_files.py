"""Files any machine reads: an export asked through one panel is downloaded through another whose instance
folder is empty; files are stored and streamed in chunks; the outbox without SMTP is in the database."""
import csv
import io
import os

from sqlalchemy import select

from app import create_app
from app.core import files
from app.core.queue import wait_for_background_jobs
from app.core.transaction import unit_of_work
from app.extensions import db
from app.notifications.models import SENT, Notification
from app.notifications.jobs import send
from app.reports.models import Export
from tests.conftest import Browser, app_config
from app.security.permissions import MANAGER
from tests.factories import make_client, make_operator


def test_an_export_asked_through_panel_a_downloads_through_panel_b_and_only_for_its_owner(app, admin, database_url,
                                                                                       tmp_path):
    with app.app_context():
        make_client(None, "Иван Споделен")
        db.session.commit()
    response = admin.submit("/exports/start", {"source": "list:ClientView", "fmt": "csv", "query": ""},
                            form_url="/reports/revenue/")
    assert response.status_code == 302, response.text[:300]
    page = response.headers["Location"]
    wait_for_background_jobs(app)

    # Panel B: another application on the same database, its instance folder empty, as on another machine.
    panel_b = create_app(app_config(database_url))
    panel_b.instance_path = str(tmp_path / "b")
    os.makedirs(panel_b.instance_path)
    other = Browser(panel_b)
    other.login()
    status = other.get(page + "/status").get_json()
    assert status["status"] == "done", status
    download = other.get(status["download"])
    assert download.status_code == 200
    assert "filename*=UTF-8''%D0%9A%D0%BB%D0%B8%D0%B5%D0%BD%D1%82%D0%B8" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Клиентски номер" and [row[1] for row in rows[1:]] == ["Иван Споделен"]
    assert os.listdir(panel_b.instance_path) == []

    # Still the owner's alone, whichever panel answers: another manager, with the right to export, gets 404.
    with app.app_context():
        make_operator(None, "manager", MANAGER, username="drug-menidzhar")
    stranger = Browser(panel_b)
    stranger.login("drug-menidzhar", "operator-pass-123")
    assert stranger.get(status["download"]).status_code == 404
    with app.app_context():
        export = db.session.scalar(select(Export))
        stored = files.find(export.file_name)
        assert stored.kind == files.EXPORT and stored.operator_id == export.operator_id
        assert stored.size == len(download.data)


def test_a_file_is_stored_and_read_back_a_chunk_at_a_time(app):
    content = os.urandom(files.CHUNK * 2 + 12345)
    with app.app_context():
        with unit_of_work():
            stored = files.save(io.BytesIO(content), "proba.bin", files.EXPORT)
        assert db.session.query(files.StoredFileChunk).filter_by(file_id=stored.id).count() == 3
        parts = list(files.chunks(stored.id))
        assert [len(part) for part in parts] == [files.CHUNK, files.CHUNK, 12345]
        assert b"".join(parts) == content and files.read_bytes("proba.bin") == content
        with unit_of_work():
            files.remove(["proba.bin"])
        assert files.find("proba.bin") is None and db.session.query(files.StoredFileChunk).count() == 0


def test_without_smtp_or_an_outbox_folder_a_message_is_kept_in_the_database(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", None)
    with app.app_context():
        message = Notification(key="proba-1", recipient="ivan@example.bg", subject="Напомняне", body="Здравейте")
        db.session.add(message)
        db.session.commit()
        assert send(None, message.id) == SENT  # the job: a batch of one, committed
        kept = files.read_bytes(f"outbox-{message.id:08d}.eml").decode()
        assert "To: ivan@example.bg" in kept and files.find(f"outbox-{message.id:08d}.eml").kind == files.OUTBOX
