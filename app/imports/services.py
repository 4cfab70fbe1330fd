"""Importing clients and subscriptions from another system's file, a dry run first.

`import_file(actor, content, file_name, kind, dealer=None, dry_run=True)`
reads the file (app.imports.reading), maps its columns by header
(app.imports.columns) and takes each row through the same operations the
panel's forms use — create_client/update_client, sell_subscription,
change_technical_parameters, change_status — so a row is refused by the
same rules and in the same words. The rows go in chunks of CHUNK_ROWS, each
chunk one unit of work: kept (committed) in a run, undone in a dry run; a
refused row is left out of its chunk and never undoes another
(_take_chunk). Every imported record keeps its key in the old
system (ImportKey) with the values imported, so the same file again changes
nothing and a corrected file changes what was corrected; the LOG says
"внос от <file>, ред N". The report is a plain dict (kept as JSON with the
uploaded file): rows, totals, unknown columns.

A new client, and a new subscription sold pending or active without
addresses or MAC (the common rows of a move-in), is checked row by row by
the operations' own checks (new_client, sale_errors) but written with its
chunk, set-based (app.audit.bulk.PendingInserts: one INSERT per table, the
versions, one change-log transaction and the LOG entries a flush of each
would have written, tests/imports/test_set_based.py); what a chunk's rows
look up is read once at its start (read_ahead). The other rows (changed
ones, addresses, a MAC, a suspended or terminated status, a login to make
up, an advance the activation would spend, balances and payments) go
through the operations as before. When the chunk's write collides with
another process's (a key, a number, a username), its rows are taken again
one at a time through the operations.
"""
import ipaddress
import re
import secrets
from datetime import date, timedelta

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.audit.bulk import PendingInserts
from app.audit.models import LogEntry
from app.audit.services import record_event
from app.catalog.models import Service
from app.clients.models import ACTIVE, COMPANY, INDIVIDUAL, PENDING, SUSPENDED, TERMINATED, Client, Subscription
from app.billing.advance import advance_holders
from app.clients.services import create_client, new_client, update_client
from app.clients.subscriptions import (CarriedOver, change_status, change_technical_parameters, sale_errors,
                                      sell_subscription)
from app.core.errors import FieldErrors
from app.core.exports import neutralise
from app.core.formatting import local_today, office_language, utcnow
from app.core.money import check_amount, format_money, quantize
from app.core.transaction import discard, finish, writes_so_far
from app.core.validators import IDENTIFIER_CHECKS, InvalidValue, parse_day
from app.extensions import db
from app.imports.addresses import BlockIndex
from app.imports.columns import COLUMNS, HEADERS, REASON_HEADER, map_header, write_csv
from app.imports.models import BALANCES, CLIENTS, KINDS, PAYMENTS, SUBSCRIPTIONS, ImportKey
from app.imports.money import MoneyRows, Refused
from app.imports.reading import UnreadableFile, read_table
from app.networks.ipv6 import wanted
from app.networks.services import AddressRefused, allocate_address, normalize_mac, release
from app.security import permissions
from app.security.rights import may

CREATED, CHANGED, UNCHANGED, REFUSED = "created", "changed", "unchanged", "refused"
OUTCOMES = (CREATED, CHANGED, UNCHANGED, REFUSED)
OUTCOME_LABELS = {CREATED: _l("created"), CHANGED: _l("changed"), UNCHANGED: _l("unchanged"),
                  REFUSED: _l("refused row")}
# The longest old client number kept as ours (Client.client_number's width); a longer one gets our next number.
CLIENT_NUMBER_LENGTH = 20
# Rows written in one unit of work (one commit, one change-log transaction); the job's bar moves a chunk at a time.
CHUNK_ROWS = 500
# Passes over a chunk, each leaving out a row refused after it wrote, before its rows are taken one by one.
CHUNK_PASSES = 3
COMPANY_WORDS = {"фирма", "юридическо лице", "юл", "company", "ет", "еоод", "оод", "ад"}
INDIVIDUAL_WORDS = {"", "физическо лице", "фл", "физическо", "лице", "individual"}
STATUS_WORDS = {
    ACTIVE: {"", "активен", "активна", "активно", "active", "включен"},
    SUSPENDED: {"спрян", "спряна", "спряно", "suspended", "изключен", "блокиран"},
    PENDING: {"чака инсталация", "очаква инсталация", "pending", "нов"},
    TERMINATED: {"прекратен", "прекратена", "прекратено", "terminated", "закрит"},
}


def may_import(actor):
    return may(actor, permissions.IMPORT_DATA)


def origin_of(dealer):
    """Whose old system the file's keys are of: head office's, or the dealer's."""
    return f"dealer:{dealer.id}" if dealer is not None else "office"


def import_file(actor, content, file_name, kind, dealer=None, dry_run=True, progress=None):
    """Import (or with `dry_run` only judge) every row of the file; returns the report.

    Commits the rows that are kept, a chunk at a time (not in a dry run); leaves out the others. Raises
    FieldErrors when the actor may not import or the kind is unknown. `progress(done, total)` is called after
    each chunk (a job's bar).
    """
    if not may_import(actor):
        raise FieldErrors({"file": [gettext("You do not have the right to import from a file.")]})
    if kind not in KINDS:
        raise FieldErrors({"kind": [gettext("Choose what the file holds: clients, subscriptions, balances or "
                                            "payments.")]})
    report = new_report(kind, file_name, dry_run, dealer)
    try:
        table = read_table(content, file_name)
    except UnreadableFile as error:
        report["error"] = str(error)
        return report
    report["format"] = table.format
    mapping, report["unknown_columns"], report["missing_columns"] = map_header(table.header, kind)
    if report["missing_columns"]:
        with office_language():
            report["error"] = gettext("Columns missing: %(columns)s.", columns=", ".join(report["missing_columns"]))
        return report
    rows = ((number, {field: cells[index] if index < len(cells) else "" for field, index in mapping.items()})
            for number, cells in table.rows)
    if progress is not None:
        progress(0, table.count)
    return import_rows(actor, kind, file_name, rows, report, dealer=dealer, dry_run=dry_run,
                       file_format=table.format,
                       progress=(lambda done: progress(done, max(done, table.count))) if progress else None)


def new_report(kind, file_name, dry_run, dealer=None):
    return {"kind": kind, "file_name": file_name, "dry_run": dry_run, "dealer": str(dealer) if dealer else None,
            "format": None, "unknown_columns": [], "missing_columns": [], "error": None, "rows": [],
            "totals": dict.fromkeys(OUTCOMES, 0)}


def import_rows(actor, kind, file_name, rows, report, dealer=None, dry_run=True, file_format=None, origin=None,
                progress=None):
    """Takes `rows` ([(row number, {field: value})], as a file's or another system's database's) in chunks of
    CHUNK_ROWS, each chunk one unit of work (kept in a run, undone in a dry run), into `report`. A refused row
    is left out of its chunk and never undoes another row. Raises FieldErrors when the actor may not import."""
    if not may_import(actor):
        raise FieldErrors({"file": [gettext("You do not have the right to import from a file.")]})
    importer = RowImporter(actor, kind, file_name, dealer, file_format, origin=origin)
    done = 0
    for chunk in _chunks(rows, CHUNK_ROWS):
        for (number, values), (outcome, label, details, unmatched) in zip(chunk, _take_chunk(importer, chunk,
                                                                                             dry_run)):
            note_row(report, number, values.get("source_key", ""), outcome, label, details)
            if unmatched and outcome != REFUSED:
                report.setdefault("unmatched_addresses", []).append([number, unmatched])
        done += len(chunk)
        if progress is not None:
            progress(done)
    if progress is not None and not done:
        progress(done)
    return report


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _take_chunk(importer, chunk, dry_run):
    """The chunk's rows in one unit of work: [(outcome, label, details, unmatched address)] in their order.

    A row refused before it wrote anything (a wrong ЕГН, an unknown service: most refusals) is simply left
    out. A row refused after it wrote (an operation that refuses late, a collision with another process)
    cannot undo only its own writes — savepoints cannot do it here (SQLAlchemy-Continuum's version session
    opens one of its own inside and never closes it) —, so the chunk is undone and taken again without it;
    after CHUNK_PASSES such passes the chunk's rows are taken one unit of work each. The rows kept are
    committed together (undone together in a dry run): one commit and one change-log transaction a chunk.
    """
    known = {}  # row index → its refusal, found by an earlier pass
    for _attempt in range(CHUNK_PASSES):
        results, late = [], None
        importer.start_chunk()
        importer.read_ahead(chunk)
        before_chunk = {id(obj) for obj in db.session.identity_map.values()}
        for index, (number, values) in enumerate(chunk):
            if index in known:
                results.append(known[index])
                continue
            before = writes_so_far()
            importer.unmatched_address = None
            outcome, label, details = judge(importer, number, values)
            results.append((outcome, label, details, importer.unmatched_address))
            session = db.session()
            if outcome == REFUSED and (writes_so_far() != before or session.new or session.dirty
                                       or session.deleted):
                late = index
                break
            _forget_row(before_chunk)
        if late is None:
            if dry_run:
                importer.end_chunk()
                discard()
                return results
            try:
                importer.write_chunk()
            except IntegrityError:
                # Another process wrote a key, a number or a username meanwhile: the chunk again, a row at a
                # time, each judged against what is there now.
                importer.end_chunk()
                discard()
                break
            finish()
            return results
        importer.end_chunk()
        discard()
        known[late] = results[late]
    return [_take_alone(importer, number, values, dry_run) for number, values in chunk]


def _parts(items, size=500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _forget_row(before_chunk):
    """Lets go of the records a row loaded or wrote, all flushed by now (the chunk's transaction goes on).

    SQLAlchemy-Continuum keeps every record written in a transaction alive until its end, and before each
    flush asks every record in the session whether it changed: kept in the session, a chunk's rows would make
    each flush slower than the last (500 rows: ten times slower a row). What the chunk found loaded (the
    actor, the dealer) stays."""
    session = db.session()
    for obj in list(session.identity_map.values()):
        if id(obj) not in before_chunk:
            session.expunge(obj)


def _take_alone(importer, number, values, dry_run):
    """One row as its own unit of work (kept in a run, undone in a dry run or when refused), through the
    operations themselves (no set-based write)."""
    importer.end_chunk()
    importer.known_keys = importer.known_clients = importer.services = None
    importer.taken_numbers, importer.taken_usernames = {}, {}
    importer.unmatched_address = None
    outcome, label, details = judge(importer, number, values)
    if dry_run or outcome == REFUSED:
        discard()
    else:
        finish()
    return outcome, label, details, importer.unmatched_address


def judge(importer, number, values):
    """Takes one row: (outcome, label, details). A refusal is the outcome, with its reason; after a collision
    with another process's write the unit of work is undone (the session cannot go on)."""
    # A refused row is named as the file names it: the client's name, else the row's key.
    named = values.get("name") or values.get("source_key") or ""
    with office_language():
        try:
            outcome, label, details = importer.take(number, values)
        except Refused as refusal:
            outcome, label, details = REFUSED, named, str(refusal)
        except InvalidValue as refusal:
            outcome, label, details = REFUSED, named, str(refusal.message)
        except FieldErrors as refusal:
            outcome, label, details = REFUSED, named, str(refusal)
        except IntegrityError:
            # Another process took the same username or address between the check and the write.
            discard()
            outcome, label, details = REFUSED, named, gettext(
                "The row collides with a record written meanwhile (a username or an address); import it again.")
    return outcome, label, details


def note_row(report, number, key, outcome, label, details=""):
    report["rows"].append({"row": number, "key": str(key), "outcome": outcome, "label": str(label),
                           "details": str(details)})
    report["totals"][outcome] += 1


def refused_rows_file(content, file_name, report):
    """The refused rows of a report as a CSV in the file's own columns, with the reason in a last column, to be
    corrected and imported again."""
    table = read_table(content, file_name)
    reasons = {row["row"]: row["details"] for row in report["rows"] if row["outcome"] == REFUSED}
    header = [title for title in table.header if title != REASON_HEADER]
    width = len(header)
    rows = [[_as_text(cell) for cell in (cells + [""] * width)[:width]] + [reasons[number]]
            for number, cells in table.rows if number in reasons]
    return write_csv(header + [REASON_HEADER], rows)


def _as_text(cell):
    """A cell of the refused-rows file: a day as the office types it; a text Excel would run as a formula
    (=, +, -, @ first) behind a quote, which the import takes off again (reading._csv_cell)."""
    return cell.strftime("%d.%m.%Y") if isinstance(cell, date) else neutralise(cell)


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value


class RowImporter(MoneyRows):
    """Takes a file's rows one by one; remembers the keys, usernames and addresses earlier rows used (a dry
    run undoes each row, so the database alone cannot tell a row it repeats an earlier one)."""

    def __init__(self, actor, kind, file_name, dealer, file_format, origin=None):
        self.actor, self.kind, self.file_name, self.dealer = actor, kind, file_name, dealer
        self.dealer_id = dealer.id if dealer is not None else None
        self.origin = origin or origin_of(dealer)
        self.file_format = file_format
        self.seen = {}  # (what, value) → row number
        self.blocks = None  # the neighbourhoods' blocks, read once (app.imports.addresses)
        self.unmatched_address = None  # the row's address when no block matched it (the report lists them)
        # The chunk's new records, checked row by row and written at its end set-based (app.audit.bulk); None:
        # each row writes through the operations (a row taken alone).
        self.pending = None
        self.pending_keys = []  # (ImportKey row, record)
        self.pending_numbers, self.pending_usernames = set(), set()
        self.advances = {}  # client id → holds an advance (read once a client)
        # The chunk's keys read at its start, one query each (None: each row reads its own): {key: ImportKey or
        # None}, {client key: Client or None}.
        self.known_keys = self.known_clients = self.services = None
        # Of the chunk's client numbers and usernames, those taken in the database: {value: taken}.
        self.taken_numbers, self.taken_usernames = {}, {}

    def read_ahead(self, chunk):
        """What the chunk's rows look up, a query or two each instead of one a row: their import keys (and, for
        subscriptions, their clients, the catalog's services and their usernames taken; for clients, their
        numbers taken)."""
        self.known_keys = self.known_clients = self.services = None
        self.taken_numbers, self.taken_usernames = {}, {}
        if self.kind not in (CLIENTS, SUBSCRIPTIONS):
            return
        keys = {str(values.get("source_key") or "").strip() for _number, values in chunk} - {""}
        self.known_keys = dict.fromkeys(keys)
        if self.kind == CLIENTS:
            self.taken_numbers = dict.fromkeys(keys, False)
            for part in _parts(sorted(keys)):
                for number in db.session.scalars(select(Client.client_number).where(Client.client_number.in_(part))):
                    self.taken_numbers[number] = True
        else:
            self.services = db.session.scalars(select(Service).order_by(Service.id)).all()
            usernames = {str(values.get("username") or "").strip() for _number, values in chunk} - {""}
            self.taken_usernames = dict.fromkeys(usernames, False)
            for part in _parts(sorted(usernames)):
                for username in db.session.scalars(select(Subscription.username).where(
                        Subscription.username.in_(part))):
                    self.taken_usernames[username] = True
        for part in _parts(sorted(keys)):
            for link in db.session.scalars(select(ImportKey).where(
                    ImportKey.kind == self.kind, ImportKey.origin == self.origin, ImportKey.source_key.in_(part))):
                self.known_keys[link.source_key] = link
        if self.kind == SUBSCRIPTIONS:
            client_keys = {str(values.get("client_key") or "").strip() for _number, values in chunk} - {""}
            self.known_clients = dict.fromkeys(client_keys)
            for part in _parts(sorted(client_keys)):
                links = {record_id: source_key for record_id, source_key in db.session.execute(
                    select(ImportKey.record_id, ImportKey.source_key).where(
                        ImportKey.kind == CLIENTS, ImportKey.origin == self.origin, ImportKey.source_key.in_(part)))}
                for client in db.session.scalars(select(Client).where(Client.id.in_(list(links)))):
                    self.known_clients[links[client.id]] = client

    def start_chunk(self):
        self.pending, self.pending_keys = PendingInserts(), []
        self.pending_numbers, self.pending_usernames = set(), set()

    def end_chunk(self):
        self.pending, self.pending_keys = None, []
        self.pending_numbers, self.pending_usernames = set(), set()

    def write_chunk(self):
        """The chunk's new records, their versions and LOG, and their import keys: an INSERT per table."""
        if self.pending is not None and len(self.pending):
            self.pending.write()
            now = utcnow()
            db.session.execute(insert(ImportKey.__table__), [
                {**row, "record_id": record.id, "imported_at": now} for row, record in self.pending_keys])
        self.end_chunk()

    def note(self, number):
        return f"внос от {self.file_name}, ред {number}"

    def once(self, what, value, number, message):
        """Refuse a value an earlier row of the file has already used."""
        earlier = self.seen.setdefault((what, value), number)
        if earlier != number:
            raise Refused(message + " " + gettext("(row %(row)s)", row=earlier))

    def take(self, number, values):
        # A day typed in an XLSX cell reads as the office types it; the quote that keeps a text from running
        # as a formula belongs to the refused-rows file only (a phone "+359…" comes in as typed).
        values = {field: value.strftime("%d.%m.%Y") if isinstance(value, date) and field not in (
            "activation_date", "paid_until", "day") else value for field, value in values.items()}
        key = str(values.get("source_key") or "").strip()
        if not key:
            raise Refused(gettext("The row has no %(column)s.", column=HEADERS[self.kind]["source_key"]))
        self.once("key", key, number, gettext("%(column)s %(key)s is repeated in the file",
                                              column=HEADERS[self.kind]["source_key"], key=key))
        if self.known_keys is not None and key in self.known_keys:
            existing = self.known_keys[key]
        else:
            existing = db.session.scalar(select(ImportKey).where(
                ImportKey.kind == self.kind, ImportKey.origin == self.origin, ImportKey.source_key == key))
        if self.kind == CLIENTS:
            return self.client_row(number, key, values, existing)
        if self.kind == BALANCES:
            return self.balance_row(number, key, values, existing)
        if self.kind == PAYMENTS:
            return self.payment_row(number, key, values, existing)
        return self.subscription_row(number, key, values, existing)

    def client_by_key(self, client_key):
        """The client imported with this number (by this file's origin); refused when there is none."""
        if self.known_clients is not None and client_key in self.known_clients:
            client = self.known_clients[client_key]
        else:
            client_link = db.session.scalar(select(ImportKey).where(
                ImportKey.kind == CLIENTS, ImportKey.origin == self.origin, ImportKey.source_key == client_key))
            client = db.session.get(Client, client_link.record_id) if client_link is not None else None
        if client is None:
            raise Refused(gettext("No client with the number %(key)s has been imported (import the clients first).",
                                  key=client_key))
        return client

    def keep(self, existing, key, record, number, fields, record_id=None):
        """The key and the values imported, beside the record; the LOG's line about the row."""
        imported = {field: _jsonable(value) for field, value in fields.items()}
        if existing is None:
            existing = ImportKey(kind=self.kind, origin=self.origin, source_key=key, record_id=record.id)
            db.session.add(existing)
        existing.record_id = record_id or record.id
        existing.imported_values, existing.file_name, existing.row_number = imported, self.file_name[:200], number
        record_event(LogEntry.IMPORT, user=self.actor, entity=record, note=self.note(number))
        db.session.flush()

    def number_taken(self, number):
        """A client number taken in the database or by the chunk's clients not written yet."""
        if number in self.pending_numbers:
            return True
        if number in self.taken_numbers:
            return self.taken_numbers[number]
        return db.session.scalar(select(Client.id).where(Client.client_number == number).limit(1)) is not None

    def username_taken(self, username):
        if username in self.pending_usernames:
            return True
        if username in self.taken_usernames:
            return self.taken_usernames[username]
        return db.session.scalar(select(Subscription.id).where(Subscription.username == username).limit(1)) \
            is not None

    def keep_pending(self, key, record, number, fields):
        """keep() for a record written at the chunk's end."""
        self.pending_keys.append(({"kind": self.kind, "origin": self.origin, "source_key": key,
                                   "imported_values": {field: _jsonable(value) for field, value in fields.items()},
                                   "file_name": self.file_name[:200], "row_number": number}, record))
        self.pending.event(LogEntry.IMPORT, record, user=self.actor, note=self.note(number))

    @staticmethod
    def earlier(model, existing, deleted):
        """The record an earlier run imported from this row; refused, saying `deleted`, when it is gone since."""
        record = db.session.get(model, existing.record_id)
        if record is None:
            raise Refused(deleted)
        return record

    @staticmethod
    def changed(existing, fields):
        return {field: value for field, value in fields.items()
                if existing.imported_values.get(field) != _jsonable(value)}

    def labels(self, fields):
        return ", ".join(HEADERS[self.kind].get(field, field) for field in fields)

    # Clients

    def client_row(self, number, key, values, existing):
        fields = self.client_fields(values)
        if existing is None:
            # The old system's number stays the client's (on the contracts, the bank transfers' reason) when it
            # fits and no other client has it; refused when taken. A database's keys (Ubilling's logins) don't.
            number_kept = key if self.file_format in ("CSV", "XLSX") and len(key) <= CLIENT_NUMBER_LENGTH else None
            if self.pending is not None:
                client = new_client(self.actor, dealer=self.dealer, client_number=number_kept,
                                    number_taken=self.number_taken, **fields)
                self.pending_numbers.add(client.client_number)
                self.keep_pending(key, self.pending.add(client), number, fields)
                return CREATED, client.name, ""
            client = create_client(self.actor, dealer=self.dealer, client_number=number_kept, **fields)
            self.keep(None, key, client, number, fields)
            return CREATED, client.name, ""
        client = self.earlier(Client, existing,
                              gettext("The client imported from this row earlier has been deleted."))
        changed = self.changed(existing, fields)
        if not changed:
            return UNCHANGED, str(client), ""
        update_client(self.actor, client, **changed)
        self.keep(existing, key, client, number, fields)
        return CHANGED, str(client), self.labels(changed)

    def client_fields(self, values):
        """The row as create_client's fields, identifiers checked by the form's own checks."""
        kind_word = values.get("kind", "").strip().lower()
        if kind_word in INDIVIDUAL_WORDS:
            kind = INDIVIDUAL
        elif kind_word in COMPANY_WORDS:
            kind = COMPANY
        else:
            raise Refused(gettext("Unknown type \"%(value)s\": an individual (физическо лице) or a company (фирма).",
                                  value=values.get("kind")))
        name = values.get("name", "").strip()
        if not name:
            raise Refused(gettext("The row has no %(column)s.", column=HEADERS[CLIENTS]["name"]))
        fields = {"kind": kind, "name": name}
        for field in ("phone", "email", "address_text", "comment", "id_card", "mol", "company_address"):
            if field in values:
                fields[field] = values[field].strip() or None
        if "address_text" in values:
            fields.update(self.address(fields["address_text"]))
        for field in ("egn", "eik", "vat_number"):
            text = values.get(field, "").strip()
            if text and field == "egn" and self.file_format == "XLSX" and text.isdigit() and len(text) < 10:
                text = text.zfill(10)  # a number cell lost the leading zero of a birth year 2000 and later
            fields[field] = IDENTIFIER_CHECKS[field](text) if text else None
        fields["vat_registered"] = bool(fields.get("vat_number"))
        if kind == COMPANY:
            fields["company_name"] = name
        return fields

    def address(self, text):
        """The address as a block of the neighbourhoods with its entrance, floor and apartment when it names
        one, else as free text (noted for the report's list of the unmatched)."""
        if self.blocks is None:
            self.blocks = BlockIndex()
        matched = self.blocks.match(text)
        if matched is None:
            self.unmatched_address = text
            return {"block_id": None, "entrance": None, "floor": None, "apartment": None, "address_text": text}
        return matched

    # Subscriptions

    def subscription_row(self, number, key, values, existing):
        fields = self.subscription_fields(number, values)
        client = self.client_by_key(fields.pop("client_key"))
        service = fields.pop("service")
        fields["client_id"], fields["service_id"] = client.id, service.id
        if existing is None:
            return self.new_subscription(number, key, fields, client, service)
        subscription = self.earlier(Subscription, existing,
                                    gettext("The subscription imported from this row earlier has been deleted."))
        changed = self.changed(existing, fields)
        if not changed:
            return UNCHANGED, str(subscription), ""
        self.change_subscription(number, subscription, changed)
        self.keep(existing, key, subscription, number, fields)
        return CHANGED, str(subscription), self.labels(changed)

    def new_subscription(self, number, key, fields, client, service):
        status = fields["status"]
        if self.set_based(fields, client, service):
            return self.new_subscription_set_based(number, key, fields, client, service)
        carried = CarriedOver(reason=self.note(number), activation_date=fields["activation_date"],
                              paid_until=fields["paid_until"], active=status != PENDING)
        subscription = sell_subscription(
            self.actor, client, service, username=fields["username"], password=fields["password"],
            delivery_address=fields["delivery_address"], addresses=fields["ip_addresses"], carried_over=carried)
        if fields["mac_address"]:
            change_technical_parameters(self.actor, subscription, mac_address=fields["mac_address"])
        if status in (SUSPENDED, TERMINATED):
            change_status(self.actor, subscription, status, self.note(number))
        self.keep(None, key, subscription, number, fields)
        return CREATED, str(subscription), ""

    def set_based(self, fields, client, service):
        """Whether the sale is written with the chunk (a sale that stays pending or is activated, no addresses,
        no MAC, a login given, nothing the activation would pay from an advance); else through the operations."""
        if self.pending is None or fields["status"] not in (ACTIVE, PENDING):
            return False
        if fields["mac_address"] or fields["ip_addresses"] or service.ip_count or list(wanted(service)):
            return False
        if service.username_type != "none" and not fields["username"]:
            return False
        if fields["status"] == ACTIVE:
            today = local_today()
            first_unpaid = (fields["paid_until"] + timedelta(days=1) if fields["paid_until"]
                            else fields["activation_date"] or today)
            if first_unpaid <= today:
                if client.id not in self.advances:
                    self.advances[client.id] = bool(advance_holders([client.id]))
                if self.advances[client.id]:
                    return False
        return True

    def new_subscription_set_based(self, number, key, fields, client, service):
        """sell_subscription's carried-over sale (and its activation), checked as it checks, written with the
        chunk: the same record, version and LOG (tests/imports/test_set_based.py)."""
        username = fields["username"]
        errors = sale_errors(self.actor, client, service, None)  # the username checked here, read ahead
        if username and self.username_taken(username):
            errors["username"] = [gettext("The username %(username)s is taken.", username=username)]
        if errors:
            raise FieldErrors(errors)
        subscription = Subscription(client_id=client.id, service_id=service.id, status=PENDING,
                                    username=username or None, password=fields["password"] or None,
                                    delivery_address=fields["delivery_address"] or None, technology_override=False,
                                    activation_date=fields["activation_date"], paid_until=fields["paid_until"])
        if service.username_type != "none":
            subscription.password = subscription.password or secrets.token_urlsafe(9)
        label = f"{service.name} — {client.name}"
        self.pending.add(subscription, label=label)
        if fields["status"] == ACTIVE:
            # change_status_as_consequence's activation, in the same unit of work.
            after = {"status": (PENDING, ACTIVE), "status_reason": (None, self.note(number))}
            if subscription.activation_date is None:
                after["activation_date"] = (None, local_today())
            for field, (_old, new) in after.items():
                setattr(subscription, field, new)
            self.pending.changed(subscription, after)
        if username:
            self.pending_usernames.add(username)
        self.keep_pending(key, subscription, number, fields)
        return CREATED, label, ""

    def change_subscription(self, number, subscription, changed):
        """A corrected row: each change through its operation (the days, which no operation sets, directly)."""
        if "client_id" in changed or "service_id" in changed:
            raise Refused(gettext("An imported subscription's client or service is not changed by an import."))
        technical = {field: changed[field] or None
                     for field in ("username", "password", "mac_address", "delivery_address") if field in changed}
        if technical:
            change_technical_parameters(self.actor, subscription, **technical)
        for field in ("activation_date", "paid_until"):
            if field in changed:
                setattr(subscription, field, changed[field])
        if "ip_addresses" in changed:
            release(list(subscription.ip_allocations))
            try:
                for address in changed["ip_addresses"]:
                    allocate_address(address, service=subscription.service, dealer_id=subscription.client.dealer_id,
                                     holder=subscription.client.name, subscription_id=subscription.id)
            except AddressRefused as refusal:
                raise Refused(str(refusal)) from None
        if "status" in changed and changed["status"] != subscription.status:
            change_status(self.actor, subscription, changed["status"], self.note(number))
        db.session.flush()

    def subscription_fields(self, number, values):
        client_key = values.get("client_key", "").strip()
        if not client_key:
            raise Refused(gettext("The row has no %(column)s.", column=HEADERS[SUBSCRIPTIONS]["client_key"]))
        fields = {"client_key": client_key, "service": self.service(values.get("service", "").strip())}
        status_word = values.get("status", "").strip().lower()
        status = next((status for status, words in STATUS_WORDS.items() if status_word in words), None)
        if status is None:
            raise Refused(gettext("Unknown status \"%(value)s\": активен, спрян, чака инсталация or прекратен.",
                                  value=values.get("status")))
        fields["status"] = status
        for field in ("activation_date", "paid_until"):
            try:
                fields[field] = parse_day(values.get(field, ""), default=None)
            except InvalidValue as error:
                raise Refused(f"{HEADERS[SUBSCRIPTIONS][field]}: {error.message}") from None
        fee = values.get("monthly_fee", "").strip()
        if fee:
            try:
                amount = check_amount(fee)
            except InvalidValue as error:
                raise Refused(f"{HEADERS[SUBSCRIPTIONS]['monthly_fee']}: {error.message}") from None
            service = fields["service"]
            if amount != quantize(service.monthly_fee):
                raise Refused(gettext(
                    "The monthly fee %(fee)s differs from the service's %(service_fee)s (%(service)s).",
                    fee=format_money(amount, service.currency), service_fee=format_money(service.monthly_fee,
                                                                                         service.currency),
                    service=service.name))
            fields["monthly_fee"] = str(amount)
        username = values.get("username", "").strip() or None
        if username:
            self.once("username", username.lower(), number,
                      gettext("The username %(username)s is repeated in the file", username=username))
        fields["username"] = username
        fields["password"] = values.get("password") or None  # as typed: the subscriber's login keeps working
        mac = values.get("mac_address", "").strip()
        fields["mac_address"] = normalize_mac(mac) if mac else None
        if mac and fields["mac_address"] is None:
            raise Refused(gettext(
                "A MAC address has 12 hexadecimal digits, e.g. AA:BB:CC:DD:EE:FF or aabb.ccdd.eeff.") + f" ({mac})")
        fields["ip_addresses"] = self.addresses(number, values.get("ip_addresses", ""))
        fields["delivery_address"] = values.get("delivery_address", "").strip() or None
        return fields

    def service(self, text):
        if not text:
            raise Refused(gettext("The row has no %(column)s.", column=HEADERS[SUBSCRIPTIONS]["service"]))
        # Compared in Python: SQLite's lower() leaves Cyrillic as it is. A catalog has tens of services (read
        # once a chunk: read_ahead).
        services = self.services if self.services is not None else db.session.scalars(select(Service)).all()
        service = next((service for service in services if service.name == text), None) or next(
            (service for service in services if service.name.casefold() == text.casefold()), None)
        if service is None and text.isdigit() and len(text) < 10:
            service = next((service for service in services if service.id == int(text)), None)
        if service is None:
            raise Refused(gettext("Unknown service \"%(service)s\".", service=text))
        return service

    def addresses(self, number, text):
        found = []
        for part in (part for part in re.split(r"[,;\s]+", text or "") if part):
            try:
                address = str(ipaddress.IPv4Address(part))
            except ValueError:
                raise Refused(gettext("%(ip)s is not an IPv4 address.", ip=part)) from None
            self.once("ip", address, number, gettext("The IP address %(ip)s is repeated in the file", ip=address))
            found.append(address)
        return found


def template_rows(kind):
    """The template's documentation: (header, required, example, note) per column."""
    return [(column.header, column.required, column.example, column.note) for column in COLUMNS[kind]]
