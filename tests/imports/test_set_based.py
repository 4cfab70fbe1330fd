"""The import's set-based write (a chunk's new rows an INSERT per table: app.audit.bulk.PendingInserts) leaves the
same records, versions and LOG (the card's История) as the operations writing them one by one."""
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy_continuum import version_class

from app.audit.models import LogEntry
from app.clients.models import Client, Subscription
from app.extensions import db
from app.imports import services
from app.imports.models import ImportKey
from tests.factories import make_service
from tests.imports.test_imports import CLIENT_HEADER, SUBSCRIPTION_HEADER, administrator, csv_bytes, run_import

TIMES = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def one_by_one(monkeypatch):
    """The import as it was: every row through the operations (no chunk's set-based write)."""
    monkeypatch.setattr(services.RowImporter, "start_chunk", services.RowImporter.end_chunk)


def written(model, record_id, *same):
    """The record's versions and LOG entries, without ids, times and the values in `same` (the row's own key,
    name or number, which two rows cannot share)."""
    def plain(value):
        if isinstance(value, str):
            if TIMES.match(value):
                return "<time>"
            for text in same:
                value = value.replace(text, "<same>")
        return value

    version = version_class(model)
    table = version.__table__
    skipped = {"id", "transaction_id", "end_transaction_id", "created_at", "client_id", "client_number",
               "username", "status_reason"}
    versions = [(row.operation_type, row.end_transaction_id is None,
                 {name: plain(getattr(row, name)) for name in table.c.keys() if name not in skipped})
                for row in db.session.execute(select(table).where(table.c.id == record_id)
                                              .order_by(table.c.transaction_id))]
    entries = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == model.__name__,
                                                        LogEntry.entity_id == str(record_id))
                                 .order_by(LogEntry.id)).all()
    log = [(entry.operation, entry.user_id, entry.username, entry.transaction_id is None, plain(entry.entity_label),
            {key: [plain(value) for value in values] for key, values in entry.changes.items()
             if key not in ("client_id",)}, plain(entry.note or ""))
           for entry in entries]
    key = db.session.scalar(select(ImportKey).where(ImportKey.record_id == record_id,
                                                    ImportKey.kind == ("clients" if model is Client
                                                                       else "subscriptions")))
    imported = {field: plain(value) for field, value in key.imported_values.items() if field != "client_id"}
    return versions, log, imported


@pytest.mark.parametrize("status", ["активен", "чака инсталация"])
def test_a_client_and_a_subscription_written_set_based_leave_the_log_and_versions_of_one_by_one(
        app, monkeypatch, status):
    with app.app_context():
        make_service("Интернет 50", username_type="radius")
        row = "{key};физическо лице;Иван Петров;7501020018;;;0888 123 456;ivan@example.bg;гр. София, бл. 5;x"
        sale = "{key};{client};Интернет 50;" + status + ";15.03.2021;;12,90;{user};tajna-123;;"
        with monkeypatch.context() as patched:
            one_by_one(patched)
            run_import(csv_bytes(CLIENT_HEADER, [row.format(key="1001")]), "k.csv", "clients")
            run_import(csv_bytes(SUBSCRIPTION_HEADER, [sale.format(key="5001", client="1001", user="ivan1")]),
                       "s.csv", "subscriptions")
        run_import(csv_bytes(CLIENT_HEADER, [row.format(key="1002")]), "k.csv", "clients")
        run_import(csv_bytes(SUBSCRIPTION_HEADER, [sale.format(key="5002", client="1002", user="ivan2")]),
                   "s.csv", "subscriptions")

        first, second = db.session.scalars(select(Client).order_by(Client.id)).all()
        assert (first.client_number, second.client_number) == ("1001", "1002")
        by_rows = written(Client, first.id, "1001")
        set_based = written(Client, second.id, "1002")
        assert set_based == by_rows
        assert [entry[0] for entry in set_based[1]] == ["insert", "import"]
        assert set_based[1][0][1] == administrator().id

        first, second = db.session.scalars(select(Subscription).order_by(Subscription.id)).all()
        assert (first.status, first.activation_date, first.paid_until, first.password) == (
            second.status, second.activation_date, second.paid_until, second.password)
        assert (first.status_reason, second.status_reason) == (
            ("внос от s.csv, ред 2",) * 2 if status == "активен" else (None, None))
        by_rows = written(Subscription, first.id, "5001", "ivan1")
        set_based = written(Subscription, second.id, "5002", "ivan2")
        assert set_based == by_rows
        assert [entry[0] for entry in set_based[1]] == (
            ["insert", "update", "import"] if status == "активен" else ["insert", "import"])
        assert set_based[1][0][5]["password"] == [None, "***"]
        # One transaction a chunk; the rerun changes nothing.
        before = db.session.scalar(select(func.count()).select_from(LogEntry))
        again = run_import(csv_bytes(SUBSCRIPTION_HEADER, [sale.format(key="5002", client="1002", user="ivan2")]),
                           "s.csv", "subscriptions")
        assert again["totals"]["unchanged"] == 1
        assert db.session.scalar(select(func.count()).select_from(LogEntry)) == before


def test_a_chunk_is_one_insert_a_table_and_a_collision_at_its_write_takes_its_rows_one_by_one(app, monkeypatch):
    from sqlalchemy import event

    with app.app_context():
        make_service("Интернет 50", username_type="radius")
        rows = [f"{2000 + n};физическо лице;Клиент {n};;;;;;;" for n in range(30)]
        inserts = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("INSERT INTO client ") or statement.startswith("INSERT INTO client("):
                inserts.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            report = run_import(csv_bytes(CLIENT_HEADER, rows), "k.csv", "clients")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert report["totals"]["created"] == 30
        assert len(inserts) == 1
        transactions = db.session.scalars(select(version_class(Client).transaction_id).distinct()).all()
        assert len(transactions) == 1

        # Another process took a client number between the checks and the write: the chunk goes row by row.
        sales = [f"{3000 + n};{2000 + n};Интернет 50;активен;;;;login{n};x;;" for n in range(5)]
        real_write = services.RowImporter.write_chunk

        def collide(importer):
            if importer.pending is not None and len(importer.pending):
                client_id = db.session.scalar(select(Client.id).where(Client.client_number == "2004"))
                service_id = importer.pending.objects[Subscription][0].service_id
                monkeypatch.setattr(services.RowImporter, "write_chunk", real_write)
                with db.engine.begin() as other:  # another process, committed meanwhile
                    other.execute(Subscription.__table__.insert().values(
                        client_id=client_id, service_id=service_id, status="active", username="login3",
                        technology_override=False, created_at=func.now()))
            return real_write(importer)

        monkeypatch.setattr(services.RowImporter, "write_chunk", collide)
        report = run_import(csv_bytes(SUBSCRIPTION_HEADER, sales), "s.csv", "subscriptions")
        assert {row["key"]: row["outcome"] for row in report["rows"]} == {
            "3000": "created", "3001": "created", "3002": "created", "3003": "refused", "3004": "created"}
        assert "login3" in report["rows"][3]["details"]
