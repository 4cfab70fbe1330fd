"""`flask backup create` and `flask backup restore`: the restored installation shows the same clients, payments,
LOG and stored files; a restore never overwrites a database in use."""
from decimal import Decimal

from sqlalchemy import select

from app import create_app
from app.audit.models import LogEntry
from app.billing.models import Payment
from app.clients.models import Client
from app.core import files
from app.core.transaction import unit_of_work
from app.extensions import db
from tests.conftest import Browser, app_config, visible_text
from tests.core.test_migrations import fresh_postgres_database
from tests.factories import make_client, make_payment


def picture(app):
    """What the office would compare: clients, payments, the LOG, the stored files."""
    with app.app_context():
        seen = (db.session.scalars(select(Client.name).order_by(Client.name)).all(),
                db.session.scalars(select(Payment.amount).order_by(Payment.id)).all(),
                db.session.execute(select(LogEntry.operation, LogEntry.entity_type, LogEntry.note)
                                   .order_by(LogEntry.id)).all(),
                [(name, files.read_bytes(name)) for name in
                 db.session.scalars(select(files.StoredFile.name).order_by(files.StoredFile.name))])
        db.session.remove()
    return seen


def test_a_backup_restored_into_an_empty_database_shows_the_same_records_log_and_files(app, database_url, tmp_path):
    with app.app_context():
        client = make_client(None, "Мария Архивна")
        make_payment(client, amount=Decimal("25.50"))
        with unit_of_work():
            files.save_bytes("отчет".encode() * 1000, "export-archive-test.csv", files.EXPORT)
        db.session.remove()
    before = picture(app)
    assert before[0] == ["Мария Архивна"] and before[1] == [Decimal("25.50")] and before[2] and before[3]

    archive = tmp_path / "billing.backup"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(archive)])
    assert result.exit_code == 0, result.output
    assert "Архивът е записан" in result.output and archive.stat().st_size > 0
    again = app.test_cli_runner().invoke(args=["backup", "create", str(archive)])
    assert again.exit_code != 0 and "вече съществува" in again.output

    if database_url.startswith("postgresql"):
        target_url = fresh_postgres_database("billing_restore_test")
    else:
        target_url = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = create_app(app_config(target_url))
    result = restored.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert picture(restored) == before

    browser = Browser(restored)
    browser.login()
    assert "Мария Архивна" in visible_text(browser.get("/clients/list/").text)

    # A second restore would overwrite what the restored installation now holds: refused.
    result = restored.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code != 0 and "не е празна" in result.output
    with restored.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_file_that_is_not_a_backup_is_refused(app, tmp_path):
    bogus = tmp_path / "not-a-backup.bin"
    bogus.write_bytes(b"hello")
    result = create_app(app_config(f"sqlite:///{tmp_path / 'empty.db'}")).test_cli_runner().invoke(
        args=["backup", "restore", str(bogus)])
    assert result.exit_code != 0 and "не е архив" in result.output
