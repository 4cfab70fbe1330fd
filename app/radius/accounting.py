"""Accounting-Request: sessions, their traffic, and the daily traffic the billing cycle charges from.

A batch of requests (app.radius.server) is written in one transaction:
- Start / Interim-Update / Stop: the session (unique per NAS and
  Acct-Session-Id) is read, locked, brought up to date in memory, packet
  after packet, and written back; byte counts are 64-bit (Acct-*-Gigawords
  × 2³² + Acct-*-Octets) and only ever grow, so a retransmit, a duplicate or
  a late Interim-Update changes nothing twice, and a Stop before its Start
  makes a closed session that the Start then does not reopen;
- what a session's counters grew by is added to the subscription's
  DailyTraffic for the (Sofia) day of the packet;
- Accounting-On / Accounting-Off: the NAS rebooted (or is going down), so
  its open sessions are closed.
The replies are returned only once the transaction has committed; a
failed commit returns none (the NAS sends again).

One bad packet never costs the others: `event_of` is the one place a
packet's values are checked and made to fit their columns before the batch
(strings decoded with replacement and cut, the session time clamped), and
a packet that cannot be true (a byte counter beyond 2⁶³) is refused there.
Should a batch still fail in the database, its packets are stored again
one by one, so that only the one the database refuses goes unacknowledged.
Every packet not stored is counted with its NAS and the reason, and so
reaches the LOG (app.radius.drops), not stderr alone.
"""
import hashlib
import logging
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask_babel import gettext
from psycopg2.extras import execute_values
from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from app.audit.models import LogEntry
from app.audit.services import record_security_event
from app.billing.models import DailyTraffic
from app.billing.periods import add_months
from app.clients.models import Subscription
from app.core.api_language import N_
from app.core.formatting import format_date, local_time
from app.extensions import db
from app.networks.ipv6 import prefix_keys
from app.radius import lean
from app.radius.models import Nas, RadiusSession

log = logging.getLogger(__name__)

START, STOP, INTERIM, ACCOUNTING_ON, ACCOUNTING_OFF = 1, 2, 3, 7, 8
STATUS_NAMES = {"Start": START, "Stop": STOP, "Interim-Update": INTERIM, "Accounting-On": ACCOUNTING_ON,
                "Accounting-Off": ACCOUNTING_OFF}
GIGAWORD = 2 ** 32
ATTEMPTS = 3
STALE = "Stale"  # the stop cause of a session closed for silence
PURGE_PART = 10_000
BIGINT_MAX, INTEGER_MAX = 2 ** 63 - 1, 2 ** 31 - 1  # the columns' range (PostgreSQL bigint and integer)
# Why an accounting packet is not stored, and so not acknowledged, as the LOG says it (translated when written).
IMPOSSIBLE_COUNTER = N_("accounting refused: a byte counter beyond what a session can move (Acct-*-Gigawords)")
UNREADABLE = N_("accounting refused: the packet could not be read")
REFUSED_BY_DATABASE = N_("accounting not stored: the database refused it")
DATABASE_UNAVAILABLE = N_("accounting not stored: the database did not answer (the NAS sends again)")
# Strings are cut to their columns' lengths, read from the model so that the two never drift apart.
_COLUMNS = RadiusSession.__table__.c
SESSION_ID_LENGTH, USERNAME_LENGTH = _COLUMNS.acct_session_id.type.length, _COLUMNS.username.type.length
FRAMED_IP_LENGTH, CALLING_STATION_LENGTH = _COLUMNS.framed_ip.type.length, _COLUMNS.calling_station_id.type.length
CAUSE_LENGTH, NAS_PORT_LENGTH = _COLUMNS.stop_cause.type.length, _COLUMNS.nas_port.type.length
# Every attribute `event_of` reads (app.radius.lean.parse_accounting reads these and nothing else of a packet).
READ = ("Acct-Status-Type", "Event-Timestamp", "Acct-Delay-Time", "Acct-Session-Id", "User-Name",
        "Acct-Input-Gigawords", "Acct-Input-Octets", "Acct-Output-Gigawords", "Acct-Output-Octets",
        "Acct-Session-Time", "Framed-IP-Address", "Calling-Station-Id", "Acct-Terminate-Cause", "NAS-Port-Id",
        "NAS-Port", "Framed-IPv6-Prefix", "Delegated-IPv6-Prefix", "Framed-IPv6-Address")
IPV6_COLUMNS = {"Framed-IPv6-Prefix": "framed_ipv6_prefix", "Delegated-IPv6-Prefix": "delegated_ipv6_prefix",
                "Framed-IPv6-Address": "framed_ipv6_address"}
# The same as ranges of keys, which the search finds an address inside by (app.networks.ipv6.inside_condition).
IPV6_KEY_COLUMNS = ("ipv6_link_first_key", "ipv6_link_last_key", "ipv6_delegated_first_key",
                    "ipv6_delegated_last_key")


@dataclass
class Event:
    status: int
    nas_id: int
    session_id: str
    username: str
    at: datetime  # naive UTC, when it happened at the NAS
    input_bytes: int
    output_bytes: int
    session_time: int
    framed_ip: str
    calling_station_id: str
    cause: str
    nas_port: str = None  # NAS-Port-Id, else NAS-Port (app.radius.simultaneous: a redial comes on it again)
    # IPv6 as the NAS reports it: Framed-IPv6-Prefix, Delegated-IPv6-Prefix, Framed-IPv6-Address.
    framed_ipv6_prefix: str = None
    delegated_ipv6_prefix: str = None
    framed_ipv6_address: str = None


class Refused(Exception):
    """A packet whose values cannot be true: not stored, not acknowledged, counted (`reason`)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def record(requests, drops, known_subscriptions=None):
    """Stores a batch of Accounting-Requests; returns the replies [(bytes, destination)] of those committed.

    A packet not stored is counted in `drops` (app.radius.drops.Drops) with
    its NAS and why, and gets no reply: the NAS sends it again.
    `known_subscriptions(usernames)`: {username: subscription id} of those it knows (the server's login cache,
    kept current by the database's notifications); the others are read from the database.
    """
    taken, events = [], []
    for request in requests:
        try:
            event = event_of(request)
        except Refused as refused:
            _not_stored(drops, request, refused.reason)
            continue
        except Exception:  # noqa: BLE001 — a packet that breaks the reading costs only itself
            log.exception("radius accounting: a packet from %s could not be read", request.nas.name)
            _not_stored(drops, request, UNREADABLE)
            continue
        taken.append(request)
        events.append(event)
    try:
        store(events, known_subscriptions)
        return [_reply(request) for request in taken]
    except OperationalError:
        return _unavailable(drops, taken)
    except Exception as error:  # noqa: BLE001 — which packet it was is found below
        if len(taken) == 1:
            _not_stored(drops, taken[0], REFUSED_BY_DATABASE, error)
            return []
        log.warning("radius accounting: a batch of %d failed (%s); stored again one by one",
                    len(taken), _fault(error))
    # Each on its own: the innocent are stored and answered, the packet the database refuses is not.
    replies = []
    for position, (request, event) in enumerate(zip(taken, events)):
        try:
            store([event], known_subscriptions)
        except OperationalError:
            return replies + _unavailable(drops, taken[position:])
        except Exception as error:  # noqa: BLE001
            _not_stored(drops, request, REFUSED_BY_DATABASE, error)
            continue
        replies.append(_reply(request))
    return replies


def store(events, known_subscriptions=None):
    """Applies the events in one transaction and commits it, again when another server process created one of
    these sessions meanwhile; raises (rolled back) when it cannot."""
    for attempt in range(ATTEMPTS):
        try:
            apply(events, known_subscriptions)
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
        except BaseException:
            db.session.rollback()
            raise


ACCOUNTING_RESPONSE, PROXY_STATE = 5, 33
_HEADER = struct.Struct("!BBH")


def _reply(request):
    """The Accounting-Response's bytes, as pyrad's CreateReply().ReplyPacket() writes them (the request's
    Proxy-States in order, the Response Authenticator) without building a packet object for each."""
    if isinstance(request, lean.AccountingRequest):
        states, identifier, authenticator, secret = (request.proxy_states, request.identifier,
                                                     request.authenticator, request.nas.secret)
    else:
        packet = request.packet
        states = OrderedDict.get(packet, PROXY_STATE)  # the raw values, as received
        identifier, authenticator, secret = packet.id, packet.authenticator, packet.secret
    attributes = b"".join(bytes((PROXY_STATE, len(state) + 2)) + state for state in states) if states else b""
    header = _HEADER.pack(ACCOUNTING_RESPONSE, identifier, 20 + len(attributes))
    return (header + hashlib.md5(header + authenticator + attributes + secret).digest() + attributes,
            request.source)


def reader_of(request):
    """`first(name, default=None)` of a request: its attribute's first value as pyrad decodes it, `default` when
    absent or undecodable — from app.radius.lean's reading (`parse_accounting`) or from pyrad's packet."""
    if isinstance(request, lean.AccountingRequest):
        return request.first
    packet = request.packet
    return lambda name, default=None: _first(packet, name, default)


def _fault(error):
    """The database's own words on what it refused, one short line (e.g. "bigint out of range")."""
    words = str(getattr(error, "orig", None) or error).strip().splitlines()
    return (words[0] if words else type(error).__name__)[:150]


def _not_stored(drops, request, reason, error=None):
    """Counts a packet not stored with what tells it apart in the LOG: its NAS, user and session (and the
    database's words); the same packet sent again is counted under the same entry."""
    try:
        first = reader_of(request)
        username = _text(first, "User-Name", USERNAME_LENGTH) or ""
        session_id = _text(first, "Acct-Session-Id", SESSION_ID_LENGTH) or ""
    except Exception:  # noqa: BLE001 — a packet that cannot be read at all is still counted
        username = session_id = ""
    detail = gettext("NAS %(nas)s, user %(username)s, session %(session)s",
                     nas=request.nas.name, username=username, session=session_id)
    if error is not None:
        detail += f": {_fault(error)}"
        log.warning("radius accounting: a packet not stored (%s): %s", detail, type(error).__name__)
    drops.count(reason, request.source[0], detail)


def _unavailable(drops, requests):
    """The database is gone or busy (not the packets' fault): none of them is stored, each is sent again."""
    db.session.rollback()
    log.exception("radius accounting: %d packets not stored", len(requests))
    for request in requests:
        drops.count(DATABASE_UNAVAILABLE, request.source[0], request.nas.name)
    return []


_KEYS = {}  # (dictionary, attribute name): the attribute's key among a decoded packet's raw values


def _first(packet, name, default=None):
    """The attribute's first value; `default` when absent or when it does not decode (a 3-octet address)."""
    dictionary = packet.dict
    key = _KEYS.get((dictionary, name))
    if key is None:
        try:
            key = _KEYS[(dictionary, name)] = packet._EncodeKey(name)
        except KeyError:  # not in the dictionary
            return default
    if not OrderedDict.__contains__(packet, key):  # absent: no lookup by name, no KeyError raised and caught
        return default
    try:
        values = packet[name]
    except (KeyError, UnicodeDecodeError, ValueError):
        return default
    return values[0] if values else default


def _text(first, name, length):
    """A string attribute as its column takes it (`first`: `reader_of` a request): pyrad gives bytes that are not
    UTF-8, which are decoded with replacement; NUL, which PostgreSQL refuses in text, is left out; cut to the
    column's `length`."""
    value = first(name)
    if value is None:
        return None
    value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    if "\0" in value:
        value = value.replace("\0", "")
    return value[:length] or None


def _integer(first, name):
    value = first(name, 0)
    return value if isinstance(value, int) and value > 0 else 0


def event_of(request):
    """The accounting event a request reports, its values made to fit their columns; None when it reports
    none this server can use (acknowledged, nothing stored). The one place a packet's values are checked.

    Raises Refused when a value cannot be true: a byte counter beyond 2⁶³
    (Acct-*-Gigawords ≥ 2³¹, over 8 EiB in one session) is a NAS's fault,
    and clamped it would be billed as extra traffic, so it is not stored.
    """
    first = reader_of(request)
    status = first("Acct-Status-Type")
    status = STATUS_NAMES.get(status, status)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    stamp = first("Event-Timestamp")
    if isinstance(stamp, int) and abs(stamp - now.timestamp()) < 366 * 86400:
        at = datetime.fromtimestamp(stamp, timezone.utc).replace(tzinfo=None)
    else:
        delay = first("Acct-Delay-Time", 0)
        at = now - timedelta(seconds=delay if isinstance(delay, int) and 0 <= delay < 86400 else 0)
    if status in (ACCOUNTING_ON, ACCOUNTING_OFF):
        return Event(status, request.nas.id, "", "", at, 0, 0, 0, None, None, None)
    session_id, username = _text(first, "Acct-Session-Id", SESSION_ID_LENGTH), _text(first, "User-Name", USERNAME_LENGTH)
    if status not in (START, STOP, INTERIM) or not session_id or not username:
        return None
    input_bytes = _counter(first, "Acct-Input-Gigawords", "Acct-Input-Octets")
    output_bytes = _counter(first, "Acct-Output-Gigawords", "Acct-Output-Octets")
    if input_bytes > BIGINT_MAX or output_bytes > BIGINT_MAX:
        raise Refused(IMPOSSIBLE_COUNTER)
    return Event(
        status, request.nas.id, session_id, username, at, input_bytes, output_bytes,
        # Only the longest is kept, and shown: clamped, it does no harm (2³¹ seconds are 68 years).
        min(_integer(first, "Acct-Session-Time"), INTEGER_MAX),
        _text(first, "Framed-IP-Address", FRAMED_IP_LENGTH), _text(first, "Calling-Station-Id", CALLING_STATION_LENGTH),
        _text(first, "Acct-Terminate-Cause", CAUSE_LENGTH), nas_port(first),
        # An address or prefix that does not decode (a wrong length) is left out, as a 3-octet IPv4 address is.
        *(_text(first, name, _COLUMNS[column].type.length) for name, column in IPV6_COLUMNS.items()),
    )


def nas_port(first):
    """The port a session came on, as its NAS names it: NAS-Port-Id, else NAS-Port's number (both the login and
    the accounting read it here, so that they compare alike)."""
    port = _text(first, "NAS-Port-Id", NAS_PORT_LENGTH)
    if port is None:
        number = first("NAS-Port")
        port = str(number) if isinstance(number, int) else None
    return port


def _counter(first, gigawords, octets):
    return _integer(first, gigawords) * GIGAWORD + _integer(first, octets)


def apply(events, known_subscriptions=None):
    """Brings the sessions and the daily traffic up to date with the events, in order, in the current transaction."""
    storage = _storage()
    events = [event for event in events if event is not None]
    keys = {(event.nas_id, event.session_id) for event in events if event.session_id}
    sessions = load_sessions(storage, keys)
    fresh = {}  # key -> values of sessions first seen in this batch
    usernames = {event.username for event in events if event.username}
    subscriptions = known_subscriptions(usernames) if known_subscriptions is not None and usernames else {}
    unknown = usernames - subscriptions.keys()
    if unknown:
        subscriptions.update(storage.subscription_ids(unknown))
    traffic = {}
    for event in events:
        if not event.session_id:
            close_sessions_of(event, sessions, fresh)
            continue
        key = (event.nas_id, event.session_id)
        session = sessions.get(key) or fresh.get(key)
        if session is None:
            session = fresh[key] = new_session(event, subscriptions.get(event.username))
        grown_in, grown_out = advance(session, event)
        if session["subscription_id"] and (grown_in or grown_out):
            day = local_time(event.at).date()
            counted = traffic.setdefault((session["subscription_id"], day), [0, 0])
            counted[0] += grown_in
            counted[1] += grown_out
    write(storage, sessions, fresh, traffic)


def load_sessions(storage, keys):
    """{(nas, session id): values} of the known sessions among `keys`, locked until the commit; each keeps its
    values as read (`_original`), so that only the changed ones are written back."""
    found = {}
    for row in storage.sessions(sorted(keys)) if keys else ():
        values = dict(row)
        values["_original"] = dict(row)
        found[(values["nas_id"], values["acct_session_id"])] = values
    return found


def new_session(event, subscription_id):
    # A session first seen by its Interim-Update or Stop (its Start lost) began session_time before.
    started = event.at if event.status == START else event.at - timedelta(seconds=event.session_time)
    return {"nas_id": event.nas_id, "acct_session_id": event.session_id, "username": event.username,
            "subscription_id": subscription_id, "framed_ip": event.framed_ip,
            "calling_station_id": event.calling_station_id, "nas_port": event.nas_port,
            **{column: getattr(event, column) for column in IPV6_COLUMNS.values()},
            **ipv6_keys(event.framed_ipv6_prefix, event.delegated_ipv6_prefix, event.framed_ipv6_address),
            "started_at": started, "updated_at": event.at, "stopped_at": None, "stop_cause": None, "input_bytes": 0,
            "output_bytes": 0, "session_time": 0}


def ipv6_keys(framed_prefix, delegated_prefix, framed_address):
    """{key column: value} of a session's IPv6 as its NAS reports it: the link's range (its prefix, else the /64
    of its address) and the delegated prefix's; None where it reports none (or one that does not read)."""
    link = prefix_keys(framed_prefix) or prefix_keys(framed_address) or (None, None)
    delegated = prefix_keys(delegated_prefix) or (None, None)
    return dict(zip(IPV6_KEY_COLUMNS, (*link, *delegated)))


def advance(session, event):
    """Applies one event to a session's values; returns how much its (input, output) bytes grew."""
    grown_in = max(event.input_bytes - session["input_bytes"], 0)
    grown_out = max(event.output_bytes - session["output_bytes"], 0)
    session["input_bytes"] += grown_in
    session["output_bytes"] += grown_out
    session["session_time"] = max(session["session_time"], event.session_time)
    session["updated_at"] = max(session["updated_at"], event.at)
    if event.status == START and event.at < session["started_at"]:
        session["started_at"] = event.at
    if event.framed_ip and not session["framed_ip"]:
        session["framed_ip"] = event.framed_ip
    if event.calling_station_id and not session["calling_station_id"]:
        session["calling_station_id"] = event.calling_station_id
    if event.nas_port and not session["nas_port"]:
        session["nas_port"] = event.nas_port
    reported = False
    for column in IPV6_COLUMNS.values():
        if getattr(event, column) and not session[column]:
            session[column] = reported = getattr(event, column)
    if reported:  # an address first reported by an Interim: its keys too
        session.update(ipv6_keys(session["framed_ipv6_prefix"], session["delegated_ipv6_prefix"],
                                 session["framed_ipv6_address"]))
    if event.status == STOP and session["stopped_at"] is None:
        session["stopped_at"] = max(event.at, session["started_at"])
        session["stop_cause"] = event.cause
    return grown_in, grown_out


def close_sessions_of(event, sessions, fresh):
    """Accounting-On/Off: the NAS's open sessions end (those in this batch too)."""
    cause = "NAS-Reboot" if event.status == ACCOUNTING_ON else "NAS-Request"
    for session in (*sessions.values(), *fresh.values()):
        if session["nas_id"] == event.nas_id and session["stopped_at"] is None and session["started_at"] <= event.at:
            session["stopped_at"], session["stop_cause"] = event.at, cause
    table = RadiusSession.__table__
    db.session.execute(update(table).where(table.c.nas_id == event.nas_id, table.c.stopped_at.is_(None),
                                           table.c.started_at <= event.at)
                       .values(stopped_at=event.at, stop_cause=cause))


# What a session row holds besides its key, and what a new one is written with: the one list both databases'
# statements are made from.
COLUMNS = ("username", "subscription_id", "framed_ip", "calling_station_id", "nas_port", "started_at", "updated_at",
           "stopped_at", "stop_cause", "input_bytes", "output_bytes", "session_time", *IPV6_COLUMNS.values(),
           *IPV6_KEY_COLUMNS)
INSERTED = ("nas_id", "acct_session_id", *COLUMNS)
# The casts PostgreSQL's VALUES list needs to assign them to typed columns, read from the model (a varchar's
# length left out: a cast to varchar(n) would cut silently, and event_of has cut already).
PG_TYPES = {name: re.sub(r"\(.*\)", "", _COLUMNS[name].type.compile(dialect=postgresql.dialect())) for name in COLUMNS}


def write(storage, sessions, fresh, traffic):
    """Writes what the batch changed: the sessions read and changed, the new ones, and the traffic they grew by
    ([(subscription id, day, bytes in, bytes out)] in key order, so that concurrent batches lock alike)."""
    changed = [session for session in sessions.values()
               if any(session[column] != session["_original"][column] for column in COLUMNS)]
    if changed:
        storage.update_sessions(changed)
    if fresh:
        storage.insert_sessions(list(fresh.values()))
    if traffic:
        storage.add_traffic([(subscription_id, day, grown_in, grown_out)
                             for (subscription_id, day), (grown_in, grown_out) in sorted(traffic.items())])


# The statements, one set per database. Everything above them (what a packet says, how a session and the
# traffic change, which rows to write) is the same for both and tested on both (tests/radius run on SQLite,
# and on PostgreSQL with TEST_DATABASE_URL); they differ only in how the rows reach the database.


def _storage():
    return POSTGRESQL if db.engine.dialect.name == "postgresql" else SQLITE


class PostgreSQLStorage:
    """PostgreSQL, the production database: each batch's reads and writes as a few plain statements on the
    session's own connection (psycopg2's execute_values), so they are part of its transaction; building them
    with SQLAlchemy cost more than running them (37 ms a batch of 32 against 9 ms). Sessions are locked
    (FOR UPDATE) in id order: two server processes never deadlock over a batch."""

    SELECT = ("SELECT s.* FROM radius_session s JOIN (VALUES %s) AS k(nas_id, acct_session_id) "
              "ON s.nas_id = k.nas_id AND s.acct_session_id = k.acct_session_id ORDER BY s.id FOR UPDATE OF s")
    UPDATE = (f"UPDATE radius_session AS s SET {', '.join(f'{name} = v.{name}' for name in COLUMNS)} "
              f"FROM (VALUES %s) AS v(id, {', '.join(COLUMNS)}) WHERE s.id = v.id")
    UPDATE_ROW = f"(%s::bigint, {', '.join(f'%s::{PG_TYPES[name]}' for name in COLUMNS)})"
    INSERT = f"INSERT INTO radius_session ({', '.join(INSERTED)}) VALUES %s"
    ADD_TRAFFIC = ("INSERT INTO daily_traffic (subscription_id, day, bytes_in, bytes_out) VALUES %s "
                   "ON CONFLICT (subscription_id, day) DO UPDATE SET bytes_in = daily_traffic.bytes_in + "
                   "excluded.bytes_in, bytes_out = daily_traffic.bytes_out + excluded.bytes_out")
    PAGE = 500

    @staticmethod
    def _cursor():
        """A cursor on the unit's own connection: its statements are part of the batch's transaction."""
        return db.session.connection().connection.dbapi_connection.cursor()

    def sessions(self, keys):
        cursor = self._cursor()
        for start in range(0, len(keys), self.PAGE):
            execute_values(cursor, self.SELECT, keys[start:start + self.PAGE], page_size=self.PAGE)
            names = [description[0] for description in cursor.description]
            yield from (dict(zip(names, row)) for row in cursor.fetchall())

    def subscription_ids(self, usernames):
        cursor = self._cursor()
        cursor.execute("SELECT username, id FROM subscription WHERE username = ANY(%s)", (list(usernames),))
        return dict(cursor.fetchall())

    def update_sessions(self, changed):
        execute_values(self._cursor(), self.UPDATE, [(session["id"], *(session[name] for name in COLUMNS))
                                                     for session in changed],
                       template=self.UPDATE_ROW, page_size=self.PAGE)

    def insert_sessions(self, sessions):
        execute_values(self._cursor(), self.INSERT, [tuple(session[name] for name in INSERTED)
                                                     for session in sessions], page_size=self.PAGE)

    def add_traffic(self, rows):
        execute_values(self._cursor(), self.ADD_TRAFFIC, rows, page_size=self.PAGE)


class SQLiteStorage:
    """SQLite, the embedded default: the same reads and writes through SQLAlchemy (one writer at a time, so no
    locks to take)."""

    PAGE = 400  # keys per SELECT: SQLite's limit of bound parameters

    def sessions(self, keys):
        table = RadiusSession.__table__
        for start in range(0, len(keys), self.PAGE):
            query = select(table).where(tuple_(table.c.nas_id, table.c.acct_session_id).in_(
                keys[start:start + self.PAGE]))
            yield from db.session.execute(query).mappings()

    def subscription_ids(self, usernames):
        return dict(db.session.execute(select(Subscription.username, Subscription.id)
                                       .where(Subscription.username.in_(usernames))).all())

    def update_sessions(self, changed):
        table = RadiusSession.__table__
        statement = update(table).where(table.c.id == bindparam("session_id")).values(
            {column: bindparam(f"new_{column}") for column in COLUMNS})
        db.session.execute(statement, [{"session_id": session["id"],
                                        **{f"new_{column}": session[column] for column in COLUMNS}}
                                       for session in changed])

    def insert_sessions(self, sessions):
        db.session.execute(insert(RadiusSession.__table__), [{name: session[name] for name in INSERTED}
                                                             for session in sessions])

    def add_traffic(self, rows):
        """Adds bytes to DailyTraffic rows, creating them as needed, in one statement."""
        table = DailyTraffic.__table__
        statement = sqlite_insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.subscription_id, table.c.day],
            set_={"bytes_in": table.c.bytes_in + statement.excluded.bytes_in,
                  "bytes_out": table.c.bytes_out + statement.excluded.bytes_out})
        db.session.execute(statement, [{"subscription_id": subscription_id, "day": day, "bytes_in": grown_in,
                                        "bytes_out": grown_out}
                                       for subscription_id, day, grown_in, grown_out in rows])


POSTGRESQL, SQLITE = PostgreSQLStorage(), SQLiteStorage()


# --- housekeeping (app.radius.server runs it every RADIUS_HOUSEKEEPING seconds) -----------------------------


def silent_since(now, interim_seconds, margin_seconds):
    """A session with no report since this moment is silent (stale): 2 × the interim interval plus a margin. The
    one rule for housekeeping and for Simultaneous-Use (app.radius.simultaneous)."""
    return now - timedelta(seconds=2 * int(interim_seconds) + int(margin_seconds))


def close_stale_sessions(now, interim_seconds, margin_seconds):
    """Sessions the NAS has not reported on for 2 × the interim interval plus a margin end at their last report;
    the interval is the NAS's own where it has one (Nas.interim_interval), else `interim_seconds`.

    A NAS that rebooted without Accounting-On, or a Stop that never came,
    would otherwise leave a subscriber "online" for ever. Returns how many.
    """
    table = RadiusSession.__table__
    own = {}
    for nas_id, interval in db.session.execute(select(Nas.id, Nas.interim_interval)
                                               .where(Nas.interim_interval.is_not(None))):
        own.setdefault(interval, []).append(nas_id)
    closed = 0
    everyone_else = [nas_id for ids in own.values() for nas_id in ids]
    for interval, which in [(interim_seconds, table.c.nas_id.not_in(everyone_else))] + [
            (interval, table.c.nas_id.in_(ids)) for interval, ids in own.items()]:
        closed += db.session.execute(update(table).where(
            table.c.stopped_at.is_(None), which,
            table.c.updated_at < silent_since(now, interval, margin_seconds))
            .values(stopped_at=table.c.updated_at, stop_cause=STALE)).rowcount
    db.session.commit()
    return closed


def purge_old_sessions(now, months):
    """Deletes sessions that ended more than `months` ago (the law keeps traffic data 6 months), logged.

    In parts of PURGE_PART rows, each its own transaction, so the sessions
    table is never locked for long. Returns how many were deleted.
    """
    table = RadiusSession.__table__
    cutoff = add_months(now.date(), -months)
    deleted = 0
    while True:
        part = select(table.c.id).where(table.c.stopped_at < cutoff).limit(PURGE_PART).scalar_subquery()
        count = db.session.execute(delete(table).where(table.c.id.in_(part))).rowcount
        db.session.commit()
        deleted += count
        if count < PURGE_PART:
            break
    if deleted:
        record_security_event(LogEntry.JOB, username="RADIUS", note=gettext(
            "%(count)s RADIUS sessions ended before %(day)s deleted (kept %(months)s months)",
            count=deleted, day=format_date(cutoff), months=months))
    return deleted
