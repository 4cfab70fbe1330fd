"""A set-based change (app.audit.bulk) leaves the same LOG and history as the same change flushed through the ORM."""
from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy_continuum import version_class

from app.audit.bulk import PendingUpdates, log_updates, update_rows
from app.audit.models import LogEntry
from app.clients.models import Subscription
from app.core.actors import SystemActor, acting_as
from app.extensions import db
from tests.factories import make_client, make_service, make_subscription

CHANGE = {"status": "suspended", "status_reason": "Неплатена услуга: платено до 30.11.2026",
          "password": "new-secret", "paid_until": date(2026, 12, 31)}


def two_subscriptions():
    service = make_service()
    first = make_subscription(make_client(None, "Иван Петров"), service, paid_until=date(2026, 11, 30),
                              password="old-secret")
    second = make_subscription(make_client(None, "Мария Георгиева"), service, paid_until=date(2026, 11, 30),
                               password="old-secret")
    return first, second


def written(subscription_id):
    """What the LOG and the history hold for one subscription, without ids and times."""
    Version = version_class(Subscription)
    versions = db.session.scalars(select(Version).where(Version.id == subscription_id)
                                  .order_by(Version.transaction_id)).all()
    history = [(version.operation_type, version.status, version.status_reason, version.paid_until,
                version.password, version.end_transaction_id is None) for version in versions]
    ends_where_next_begins = all(earlier.end_transaction_id == later.transaction_id
                                 for earlier, later in zip(versions, versions[1:]))
    entries = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Subscription",
                                                        LogEntry.entity_id == str(subscription_id))
                                 .order_by(LogEntry.id)).all()
    log = [(entry.operation, entry.username, entry.user_id, entry.entity_label, entry.changes) for entry in entries]
    return history, ends_where_next_begins, log


def test_a_set_based_update_logs_what_a_flush_of_the_same_change_logs(app):
    actor = SystemActor("билинг цикъл № 7")
    with app.app_context(), acting_as(actor):
        flushed, bulk = two_subscriptions()
        flushed_id, bulk_id = flushed.id, bulk.id

        for field, value in CHANGE.items():
            setattr(flushed, field, value)
        db.session.commit()

        before = {field: getattr(bulk, field) for field in CHANGE}
        db.session.execute(update(Subscription.__table__).where(Subscription.__table__.c.id == bulk_id)
                           .values(CHANGE))
        log_updates([(bulk, {field: (before[field], CHANGE[field]) for field in CHANGE})])
        db.session.commit()

        flushed_history, flushed_validity, flushed_log = written(flushed_id)
        bulk_history, bulk_validity, bulk_log = written(bulk_id)

    assert bulk_history == flushed_history
    assert len(bulk_history) == 2 and bulk_history[-1][:4] == (1, "suspended", CHANGE["status_reason"],
                                                                 date(2026, 12, 31))
    assert flushed_validity and bulk_validity
    # The same update entry but for the record's own name: the password masked, the cycle named as who changed it.
    assert [row[0] for row in bulk_log] == [row[0] for row in flushed_log] == ["insert", "update"]
    assert bulk_log[-1][:3] + bulk_log[-1][4:] == flushed_log[-1][:3] + flushed_log[-1][4:]
    assert bulk_log[-1][4]["password"] == ["***", "***"]
    assert bulk_log[-1][4]["status"] == ["active", "suspended"]
    assert bulk_log[-1][1] == "билинг цикъл № 7" and bulk_log[-1][2] is None
    assert "Мария Георгиева" in bulk_log[-1][3]


def test_nothing_changed_writes_nothing(app):
    with app.app_context():
        _flushed, bulk = two_subscriptions()
        entries = db.session.scalar(select(db.func.count(LogEntry.id)))
        assert log_updates([(bulk, {})]) is None
        assert db.session.scalar(select(db.func.count(LogEntry.id))) == entries


def test_update_rows_writes_the_rows_and_their_log_and_the_objects_show_them(app):
    actor = SystemActor("билинг цикъл № 8")
    with app.app_context(), acting_as(actor):
        flushed, bulk = two_subscriptions()
        flushed_id, bulk_id = flushed.id, bulk.id
        for field, value in CHANGE.items():
            setattr(flushed, field, value)
        db.session.commit()

        assert update_rows({bulk: CHANGE}) is not None
        # The object holds what its row now holds, and the ORM has nothing left to flush for it.
        assert {field: getattr(bulk, field) for field in CHANGE} == CHANGE
        assert not db.session.is_modified(bulk) and bulk not in db.session.dirty
        db.session.commit()
        db.session.expire_all()
        assert {field: getattr(db.session.get(Subscription, bulk_id), field) for field in CHANGE} == CHANGE

        flushed_history, _validity, flushed_log = written(flushed_id)
        bulk_history, bulk_validity, bulk_log = written(bulk_id)
    assert bulk_history == flushed_history and bulk_validity
    assert bulk_log[-1][:3] + bulk_log[-1][4:] == flushed_log[-1][:3] + flushed_log[-1][4:]


def test_pending_updates_show_at_once_and_log_from_the_first_value_to_the_last(app):
    with app.app_context(), acting_as(SystemActor("билинг цикъл № 9")):
        first, second = two_subscriptions()
        first_id, second_id = first.id, second.id
        entries = db.session.scalar(select(db.func.count(LogEntry.id)))
        pending = PendingUpdates()
        pending.set(first, "paid_until", date(2026, 12, 31))
        pending.set(first, "paid_until", date(2027, 1, 31))
        pending.set(second, "status", "suspended")
        pending.set(second, "status", "active")  # back where it was: nothing to write for it
        # The next rule reads the new value; nothing is flushed behind the set-based write's back.
        assert first.paid_until == date(2027, 1, 31) and not db.session.is_modified(first)
        assert pending.write() is not None
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Subscription, first_id).paid_until == date(2027, 1, 31)
        assert db.session.get(Subscription, second_id).status == "active"
        new = db.session.scalars(select(LogEntry).where(LogEntry.id > 0).order_by(LogEntry.id)).all()[entries:]
        assert [(entry.entity_id, entry.changes) for entry in new] == [
            (str(first_id), {"paid_until": ["2026-11-30", "2027-01-31"]})]


def test_no_module_sets_orm_state_by_hand():
    """A set-based change goes through app.audit.bulk (update_rows, PendingUpdates): only core and audit may
    make a loaded object show what the database holds."""
    root = Path(__file__).resolve().parents[2] / "app"
    callers = sorted(str(path.relative_to(root.parent)) for path in root.rglob("*.py")
                     if "set_committed_value" in path.read_text(encoding="utf-8")
                     and path.relative_to(root).parts[0] not in ("core", "audit"))
    assert callers == []


def test_a_set_based_insert_logs_what_a_flush_of_the_same_records_logs(app):
    from app.audit.bulk import insert_rows
    from app.clients.models import Client

    def history(client_id):
        Version = version_class(Client)
        versions = [(version.operation_type, version.name, version.phone, version.kind, version.vat_registered,
                     version.end_transaction_id) for version in db.session.scalars(
                         select(Version).where(Version.id == client_id))]
        entries = [(entry.operation, entry.username, entry.user_id,
                    {key: value for key, value in entry.changes.items() if key not in ("client_number", "created_at")})
                   for entry in db.session.scalars(select(LogEntry).where(
                       LogEntry.entity_type == "Client", LogEntry.entity_id == str(client_id)))]
        return versions, entries

    with app.app_context(), acting_as(SystemActor("внос")):
        flushed = Client(name="Иван Петров", client_number="A1", phone="0888 123 456")
        db.session.add(flushed)
        db.session.commit()
        bulk = Client(name="Иван Петров", client_number="A2", phone="0888 123 456")
        transaction_id = insert_rows([bulk])
        db.session.commit()
        assert bulk.id is not None and bulk not in db.session
        stored = db.session.get(Client, bulk.id)
        assert (stored.search_name, stored.phone_digits, stored.created_at is not None) == (
            flushed.search_name, flushed.phone_digits, True)
        assert history(bulk.id) == history(flushed.id)
        assert db.session.scalar(select(LogEntry.transaction_id).where(
            LogEntry.entity_type == "Client", LogEntry.entity_id == str(bulk.id))) == transaction_id
