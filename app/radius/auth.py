"""Access-Request: who may log in to the network, and with which address and speed.

A batch of requests is answered with one statement for all its usernames
(app.radius.server batches them; `batch_statement`), so the database sees
one round trip per batch, not per packet; on PostgreSQL the server keeps
them all in memory instead (AuthCache), current to the millisecond.

Accepted: an active, not frozen subscription of a RADIUS-type service,
with the right password (PAP, CHAP, or MS-CHAPv1/v2: app.radius.mschap, whose
MS-CHAP2-Success, MPPE keys or MS-CHAP-Error are added to the reply here,
`mschap_attributes`). The Access-Accept carries
- Framed-IP-Address (the subscription's first address) and a Framed-Route
  for each further one;
- its IPv6 prefixes when its service gives IPv6 (app.networks.ipv6): the
  link's /64 as Framed-IPv6-Prefix and the /56 or /60 for the subscriber's
  router as Delegated-IPv6-Prefix (RFC 3162, 4818);
- the speed in the NAS vendor's attribute: MikroTik's Mikrotik-Rate-Limit,
  Cisco's rate-limit AV pairs, else (Juniper and others) WISPr's bandwidth
  attributes;
- Acct-Interim-Interval: the NAS's own (Nas.interim_interval), else
  RADIUS_INTERIM_INTERVAL;
- every extra parameter of the service named like an attribute of the
  dictionary ("Session-Timeout" = "86400", "Framed-Pool" = "clients") that
  is meant for the NAS's make and does not repeat the speed
  (app.radius.attributes).

A subscription bound to a MAC address logs in only from that device (the
request's Calling-Station-Id); one with as many sessions open as it may
have is rejected with a Reply-Message saying so (Simultaneous-Use,
app.radius.simultaneous). A suspended (unpaid) subscription with the
right password is accepted into the NAS's walled-garden pool where the NAS
has one — no address or speed of its own, a Reply-Message saying how to
pay — and rejected where it has none. Anything else gets an Access-Reject.
"""
import hashlib
import hmac
import ipaddress
import logging
import re
from collections import namedtuple
from functools import lru_cache

from flask import current_app
from pyrad import packet as radius_packet
from sqlalchemy import (BigInteger, Date, Integer, any_, bindparam, cast, literal_column, null, select, true,
                        union_all)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.psycopg2 import dialect as psycopg2_dialect

from app.billing import usable
from app.billing.models import SubscriptionFreeze
from app.catalog.models import Service, ServiceParameter
from app.clients.models import Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.networks.models import DELEGATED, LINK, IpAllocation, Ipv6Allocation
from app.networks.services import normalize_mac
from app.radius import attributes, lean, mschap, simultaneous
from app.radius.models import CISCO, MIKROTIK, Nas, RadiusSession

log = logging.getLogger(__name__)
RADIUS_TYPE = "radius"
# The Reply-Message of a walled-garden login when the NAS's own text is empty (Bulgarian: the subscriber reads it).
WALLED_GARDEN_MESSAGE = ("Достъпът Ви е ограничен поради неплатена такса. Платете в офиса или при инкасатор "
                         "и достъпът се възстановява веднага.")
REPLY_MESSAGE_OCTETS = 253  # one attribute's value at most; a longer text goes in several Reply-Messages


def answer(requests, cache=None, dictionary=None, send=None, connection=None):
    """The encoded replies to a batch of Access-Requests (app.radius.lean.AccessRequest, whichever decoder read
    them): [(bytes, destination)]. With `cache` (an AuthCache) nothing is read from the database; the
    `dictionary` encodes the attributes (once per subscription and make, see `reply`). `send((bytes,
    destination))`, when given, is called with each reply as soon as it is made (the server sends them a group
    at a time, app.radius.server.LOGIN_SEND_EVERY): the NAS (and a client keeping N requests in flight) gets
    the first answers while the batch's others are being computed.
    `connection`: where `load` reads without the cache (the server's own, see `load`)."""
    usernames = {request.username for request in requests} - {None}
    subscriptions = cache.get_many(usernames) if cache is not None else load(usernames, connection=connection)
    today = local_today()
    interim = int(current_app.config["RADIUS_INTERIM_INTERVAL"])
    replies = []
    for request in requests:
        try:
            made = (reply(request, subscriptions.get(request.username), today, interim, dictionary), request.source)
        except Exception:  # noqa: BLE001 — one odd packet must not cost the batch its answers
            log.exception("radius: cannot answer an Access-Request from %s", request.source[0])
            continue
        replies.append(made)
        if send is not None:
            send(made)
    return replies


class AuthData:
    """What authorising one username needs."""

    __slots__ = ("subscription_id", "username", "service_id", "password", "status", "mac", "download_kbps",
                 "upload_kbps", "addresses", "parameters", "freezes", "encoded", "_mschap_keys", "simultaneous_use",
                 "sessions", "ipv6_prefix", "delegated_prefix", "transient")

    def __init__(self, row):
        self.subscription_id, self.username, self.service_id = row.id, row.username, row.service_id
        self.password = row.password or ""
        self.status = row.status
        self.mac = row.mac_address
        self.download_kbps, self.upload_kbps = row.download_kbps, row.upload_kbps
        self.addresses, self.parameters, self.freezes = [], [], []
        self.ipv6_prefix = self.delegated_prefix = None  # "2001:db8:1:2::/64", "2001:db8:ff00:100::/56"
        # Sessions allowed at once (0: any number), and the open ones (app.radius.simultaneous.OpenSession).
        self.simultaneous_use = (row.simultaneous_use if row.simultaneous_use is not None
                                 else row.service_simultaneous_use)
        self.sessions = []
        self.encoded = {}  # (NAS make, interim interval): the Accept's attribute bytes (app.radius.lean)
        self._mschap_keys = None
        # Read for one batch (no AuthCache): what is made of it once is kept by content instead, across
        # batches (`_by_content`), as the cache's entries keep it.
        self.transient = False

    def mschap_keys(self):
        """The password's NT hash and DES keys (MS-CHAP), made once: a changed password comes as a new
        AuthData (the cache replaces, never changes, an entry); without the cache, once per password."""
        if self._mschap_keys is None:
            if self.transient:
                self._mschap_keys = _by_content(_KEYS_BY_PASSWORD, self.password,
                                                lambda: mschap.PasswordKeys(self.password))
            else:
                self._mschap_keys = mschap.PasswordKeys(self.password)
        return self._mschap_keys

    # The rules are app.billing.usable's, asked of the cached status and freeze days: frozen days are kept as
    # dates, so a cached entry turns frozen on the first day by itself.
    def is_frozen(self, today):
        return usable.frozen_on(self.freezes, today)

    def may_log_in(self, today):
        return usable.usable(self.status, self.is_frozen(today))

    def may_enter_walled_garden(self, today):
        """Suspended for not paying: let in to see how to pay (a frozen one asked for a pause: rejected)."""
        return usable.in_walled_garden(self.status, self.is_frozen(today))


def load(usernames=None, subscription_ids=None, connection=None):
    """{username: AuthData} of the RADIUS-type subscriptions with these usernames or ids (all when neither).

    By usernames (a batch of logins without the cache) it is one statement, `batch_statement`: one round
    trip to the database, on `connection` when given (app.radius.server's own, in autocommit: no BEGIN,
    no ROLLBACK either). The others read table by table (the cache's first load reads them whole)."""
    if usernames is not None and not usernames or subscription_ids is not None and not subscription_ids:
        return {}
    if usernames is not None and subscription_ids is None:
        return _load_batch(usernames, connection)
    query = (
        select(Subscription.id, Subscription.username, Subscription.password, Subscription.status,
               Subscription.mac_address, Subscription.service_id, Service.download_kbps, Service.upload_kbps,
               Subscription.simultaneous_use, Service.simultaneous_use.label("service_simultaneous_use"))
        .join(Service, Service.id == Subscription.service_id)
        .where(Service.username_type == RADIUS_TYPE, Subscription.username.is_not(None))
    )
    if usernames is not None:
        query = query.where(Subscription.username.in_(usernames))
    if subscription_ids is not None:
        query = query.where(Subscription.id.in_(subscription_ids))
    rows = db.session.execute(query).all()
    found = {row.username: AuthData(row) for row in rows}
    by_id = {data.subscription_id: data for data in found.values()}
    if by_id:
        # Only the subscriptions asked for: all of them (the cache's first load) reads the tables whole.
        some = None if usernames is None and subscription_ids is None else list(by_id)

        def of(column):
            return column.in_(some) if some is not None else true()

        for subscription_id, first, last in db.session.execute(
                select(SubscriptionFreeze.subscription_id, SubscriptionFreeze.starts_on, SubscriptionFreeze.last_day)
                .where(of(SubscriptionFreeze.subscription_id), usable.not_over(local_today()))):
            if subscription_id in by_id:
                by_id[subscription_id].freezes.append((first, last))
        for subscription_id, address in db.session.execute(
                select(IpAllocation.subscription_id, IpAllocation.address)
                .where(of(IpAllocation.subscription_id), IpAllocation.subscription_id.is_not(None))
                .order_by(IpAllocation.address)):
            if subscription_id in by_id:
                by_id[subscription_id].addresses.append(str(ipaddress.IPv4Address(address)))
        for subscription_id, kind, prefix in db.session.execute(
                select(Ipv6Allocation.subscription_id, Ipv6Allocation.kind, Ipv6Allocation.prefix)
                .where(of(Ipv6Allocation.subscription_id), Ipv6Allocation.subscription_id.is_not(None))):
            if subscription_id in by_id:
                if kind == LINK:
                    by_id[subscription_id].ipv6_prefix = prefix
                elif kind == DELEGATED:
                    by_id[subscription_id].delegated_prefix = prefix
        services = {data.service_id for data in by_id.values()}
        parameters = {}
        for service_id, name, value, makes in db.session.execute(
                select(ServiceParameter.service_id, ServiceParameter.name, ServiceParameter.value,
                       ServiceParameter.nas_makes)
                .where(ServiceParameter.service_id.in_(services)).order_by(ServiceParameter.id)):
            parameters.setdefault(service_id, []).append((name, value, makes))
        for data in by_id.values():
            data.parameters = parameters.get(data.service_id, [])
        for subscription_id, sessions in simultaneous.open_sessions(
                None if some is None else list(by_id)).items():
            if subscription_id in by_id:
                by_id[subscription_id].sessions = sessions
    db.session.rollback()  # a read-only transaction ends here: no snapshot held between batches
    return found


# The columns of `batch_statement`'s rows: each part fills its own and leaves the others NULL.
_SUBSCRIPTION, _FREEZE, _IPV4, _IPV6, _PARAMETER, _SESSION = range(6)


def _batch_columns():
    session = RadiusSession.__table__.c
    return {
        "part": Integer(), "id": Subscription.id.type, "username": Subscription.username.type,
        "password": Subscription.password.type, "status": Subscription.status.type,
        "mac_address": Subscription.mac_address.type, "service_id": Subscription.service_id.type,
        "download_kbps": Service.download_kbps.type, "upload_kbps": Service.upload_kbps.type,
        "simultaneous_use": Subscription.simultaneous_use.type,
        "service_simultaneous_use": Service.simultaneous_use.type,
        "starts_on": SubscriptionFreeze.starts_on.type, "last_day": SubscriptionFreeze.last_day.type,
        "address": IpAllocation.address.type, "ipv6_kind": Ipv6Allocation.kind.type,
        "prefix": Ipv6Allocation.prefix.type, "parameter_id": ServiceParameter.id.type,
        "name": ServiceParameter.name.type, "value": ServiceParameter.value.type,
        "nas_makes": ServiceParameter.nas_makes.type, "session_id": BigInteger(), "nas_id": session.nas_id.type,
        "calling_station_id": session.calling_station_id.type, "nas_port": session.nas_port.type,
        "updated_at": session.updated_at.type, "interim_interval": Nas.interim_interval.type,
    }


def batch_statement(array=False):
    """One SELECT of everything a batch of logins needs (what `load` reads table by table): the
    subscriptions of the usernames (the expanding parameter `usernames`), their freezes not over by `today`
    (a parameter), IPv4 addresses, IPv6 prefixes, their services' parameters and their open sessions, as a
    UNION ALL of rows tagged by `part`. Built once (`_load_batch`): its building and compiling cost more
    than the database's answer. `array`: the usernames as one array parameter (`= ANY`), the statement's text
    the same for any number of them (PostgreSQL's prepared statement, `_execute_prepared`)."""
    columns = _batch_columns()
    today = bindparam("today", type_=Date())
    if array:
        by_username = Subscription.username == any_(bindparam("usernames", type_=ARRAY(Subscription.username.type)))
    else:
        by_username = Subscription.username.in_(bindparam("usernames", expanding=True))

    def part(number, **values):
        values["part"] = literal_column(str(number))
        return select(*[(values[name] if name in values else cast(null(), kind)).label(name)
                        for name, kind in columns.items()])

    logins = (select(Subscription.id, Subscription.username, Subscription.password, Subscription.status,
                     Subscription.mac_address, Subscription.service_id, Service.download_kbps, Service.upload_kbps,
                     Subscription.simultaneous_use, Service.simultaneous_use.label("service_simultaneous_use"))
              .join(Service, Service.id == Subscription.service_id)
              .where(Service.username_type == RADIUS_TYPE, by_username)
              .cte("logins"))
    ids = select(logins.c.id)
    session = RadiusSession.__table__.c
    return union_all(
        part(_SUBSCRIPTION, **{name: logins.c[name] for name in logins.c.keys()}),
        part(_FREEZE, id=SubscriptionFreeze.subscription_id, starts_on=SubscriptionFreeze.starts_on,
             last_day=SubscriptionFreeze.last_day)
        .where(SubscriptionFreeze.subscription_id.in_(ids), usable.not_over(today)),
        part(_IPV4, id=IpAllocation.subscription_id, address=IpAllocation.address)
        .where(IpAllocation.subscription_id.in_(ids)),
        part(_IPV6, id=Ipv6Allocation.subscription_id, ipv6_kind=Ipv6Allocation.kind, prefix=Ipv6Allocation.prefix)
        .where(Ipv6Allocation.subscription_id.in_(ids)),
        part(_PARAMETER, service_id=ServiceParameter.service_id, parameter_id=ServiceParameter.id,
             name=ServiceParameter.name, value=ServiceParameter.value, nas_makes=ServiceParameter.nas_makes)
        .where(ServiceParameter.service_id.in_(select(logins.c.service_id))),
        _sessions_part(part, logins, ids, per_login=array),
    )


def _sessions_part(part, logins, ids, per_login):
    """The batch's open sessions. `per_login` (PostgreSQL): read login by login through the open sessions'
    index by subscription (a LATERAL subquery, kept one by `OFFSET 0`), whatever the table's statistics say:
    as a semi-join, statistics taken when few sessions were open (autovacuum off, or behind) had the planner
    read every open session of the NAS and hash them — 7.6 of a batch's 12.7 ms with 10,000 open, and
    more as sessions accumulated (the bench's logins without the cache fell from 10,438/s to 4,851/s at 32 in
    flight over its rounds). SQLite has no LATERAL: the semi-join there."""
    session = RadiusSession.__table__.c
    columns = dict(session_id=session.id, nas_id=session.nas_id, calling_station_id=session.calling_station_id,
                   nas_port=session.nas_port, updated_at=session.updated_at, interim_interval=Nas.interim_interval)
    if not per_login:
        return (part(_SESSION, id=session.subscription_id, **columns)
                .select_from(RadiusSession.__table__.join(Nas, Nas.id == session.nas_id))
                .where(session.stopped_at.is_(None), session.subscription_id.in_(ids)))
    sessions = (select(*(column.label(name) for name, column in columns.items()))
                .select_from(RadiusSession.__table__.join(Nas, Nas.id == session.nas_id))
                .where(session.stopped_at.is_(None), session.subscription_id == logins.c.id)
                .offset(0).lateral("open_sessions"))
    return (part(_SESSION, id=logins.c.id, **{name: sessions.c[name] for name in columns})
            .select_from(logins.join(sessions, true())))


_BATCH_STATEMENT = []
PREPARED = "radius_logins"  # the name of `batch_statement` prepared on a PostgreSQL connection


@lru_cache(maxsize=1)
def _prepared():
    """PREPARE of `batch_statement(array=True)` for psycopg2 (planned once per connection, not per batch), and
    the values of its constant parameters (the username type…), passed at each EXECUTE after the two of a batch."""
    compiled = batch_statement(array=True).compile(dialect=psycopg2_dialect())
    text, constants = str(compiled), []
    numbers = {"usernames": 1, "today": 2}
    for name in re.findall(r"%\((\w+)\)s", text):
        if name not in numbers:
            numbers[name] = len(numbers) + 1
            constants.append(compiled.params[name])
    text = re.sub(r"%\((\w+)\)s", lambda found: f"${numbers[found.group(1)]}", text)
    types = ", ".join(["varchar[]", "date"] + ["unknown"] * len(constants))
    return f"PREPARE {PREPARED}({types}) AS {text}", tuple(constants)


@lru_cache(maxsize=1)
def _row_class():
    return namedtuple("BatchRow", list(_batch_columns()))


def _execute_prepared(connection, usernames, today):
    """The rows of `batch_statement` on the server's own PostgreSQL connection (autocommit), through a statement
    prepared once on it: the batch costs an EXECUTE (no parsing of the six-part UNION each time, no SQLAlchemy
    expanding of the IN list); its columns need no result processing (plain psycopg2 values).

    Each EXECUTE is planned for its own usernames (`plan_cache_mode = force_custom_plan`, this connection
    only): after five executions PostgreSQL may keep a generic plan, blind to the array's values, and for
    this statement that plan read whole tables — the bench's logins without the cache fell from 14,880/s to
    1,438/s at 32 in flight once it was chosen."""
    pooled = connection.connection
    with pooled.dbapi_connection.cursor() as cursor:
        prepare, constants = _prepared()
        if PREPARED not in pooled.info:  # the pool's info of this DBAPI connection: a new one prepares again
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            cursor.execute(prepare)
            pooled.info[PREPARED] = True
        cursor.execute(f"EXECUTE {PREPARED}({', '.join(['%s'] * (2 + len(constants)))})",
                       (usernames, today, *constants))
        row = _row_class()
        return [row._make(found) for found in cursor.fetchall()]


def _load_batch(usernames, connection=None):
    if connection is not None and connection.dialect.name == "postgresql":
        rows = _execute_prepared(connection, sorted(usernames), local_today())
    else:
        if not _BATCH_STATEMENT:
            _BATCH_STATEMENT.append(batch_statement())
        rows = (connection or db.session).execute(
            _BATCH_STATEMENT[0], {"usernames": sorted(usernames), "today": local_today()}).all()
        if connection is None:
            db.session.rollback()  # a read-only transaction ends here: no snapshot held between batches
    by_id = {row.id: AuthData(row) for row in rows if row.part == _SUBSCRIPTION}
    for data in by_id.values():
        data.transient = True
    parameters, addresses = {}, {}
    for row in rows:
        part = row.part
        if part == _SUBSCRIPTION:
            continue
        if part == _PARAMETER:
            parameters.setdefault(row.service_id, []).append((row.parameter_id, row.name, row.value, row.nas_makes))
            continue
        data = by_id.get(row.id)
        if data is None:
            continue
        if part == _FREEZE:
            data.freezes.append((row.starts_on, row.last_day))
        elif part == _IPV4:
            addresses.setdefault(row.id, []).append(row.address)
        elif part == _IPV6:
            if row.ipv6_kind == LINK:
                data.ipv6_prefix = row.prefix
            elif row.ipv6_kind == DELEGATED:
                data.delegated_prefix = row.prefix
        elif part == _SESSION:
            data.sessions.append(simultaneous.OpenSession(
                row.session_id, row.nas_id, simultaneous.device(row.calling_station_id), row.nas_port,
                row.updated_at, row.interim_interval))
    for subscription_id, numbers in addresses.items():
        by_id[subscription_id].addresses = [str(ipaddress.IPv4Address(number)) for number in sorted(numbers)]
    for service_id, found in parameters.items():
        parameters[service_id] = [(name, value, makes) for _id, name, value, makes in sorted(found)]
    for data in by_id.values():
        data.parameters = parameters.get(data.service_id, [])
    return {data.username: data for data in by_id.values()}


class AuthCache:
    """Every RADIUS-type subscription's AuthData in memory, kept current by PostgreSQL's LISTEN/NOTIFY.

    Triggers (migration 0017) notify the channel `radius_auth` on every
    change to what a login depends on — a subscription ("subscription:<id>"),
    its addresses, IPv6 prefixes and freezes (the same), a service or its parameters
    ("service:<id>"), a session opened or ended ("sessions:<subscription id>",
    migration 0028) — whoever makes it: the panel, the API, the billing
    cycle's set-based suspensions, a script. The server's loop waits on the
    listening connection too and reloads what a notification names, so a
    change is in effect in every server process on every host within
    milliseconds of its commit. A lost connection reloads everything.
    """

    CHANNEL = "radius_auth"

    def __init__(self):
        self.by_username, self.username_of = {}, {}
        self.listener = None
        self.listen()
        self.reload_all()

    def listen(self):
        # A connection of its own, outside the pool, in autocommit: notifications arrive between transactions.
        self.pooled = db.engine.raw_connection()
        self.listener = self.pooled.dbapi_connection
        self.listener.set_isolation_level(0)
        self.listener.cursor().execute(f"LISTEN {self.CHANNEL}")

    def fileno(self):
        return self.listener.fileno()

    def close(self):
        """Closes the listening connection (the server stops): never handed back to the pool, it listens."""
        try:
            self.pooled.invalidate()
        except Exception:  # noqa: BLE001 — lost already
            log.debug("radius auth cache: the notification connection could not be closed", exc_info=True)

    def reload_all(self):
        self._replace(load(), everything=True)

    def receive(self):
        """Reads the notifications waiting on the listening connection and reloads what they name."""
        try:
            self.listener.poll()
        except Exception:  # noqa: BLE001 — the connection was lost: listen again, trust nothing cached
            log.exception("radius auth cache: the notification connection failed; reloading")
            self.pooled.invalidate()
            self.listen()
            self.reload_all()
            return
        while self.listener.notifies:
            self._apply_notifications()
        db.session.rollback()

    def _apply_notifications(self):
        """Reloads what the notifications read so far name (reading may bring more: `receive` comes again)."""
        subscriptions, services, sessions = set(), set(), set()
        while self.listener.notifies:
            kind, _, number = self.listener.notifies.pop().payload.partition(":")
            if number.isdigit():
                {"service": services, "sessions": sessions}.get(kind, subscriptions).add(int(number))
        if services:
            # Those that no longer log in (the service's username type changed) drop out on the reload.
            subscriptions |= set(db.session.scalars(select(Subscription.id).where(
                Subscription.service_id.in_(services))))
        if subscriptions:
            self._replace(load(subscription_ids=subscriptions), ids=subscriptions)
        sessions -= subscriptions  # reloaded whole already
        if sessions:
            # A session opened or ended: only the open sessions are read again, the login data stay (and so
            # their encoded Accept and MS-CHAP keys).
            # Read on the listening connection (autocommit, open already): no pool check-out, ping or rollback.
            found = simultaneous.open_sessions_on(self.listener, sessions)
            for subscription_id in sessions:
                data = self.by_username.get(self.username_of.get(subscription_id))
                if data is not None:
                    data.sessions = found.get(subscription_id, [])

    def _replace(self, found, ids=(), everything=False):
        if everything:
            self.by_username, self.username_of = {}, {}
        for subscription_id in ids:
            username = self.username_of.pop(subscription_id, None)
            if username is not None:
                self.by_username.pop(username, None)
        for username, data in found.items():
            self.by_username[username] = data
            self.username_of[data.subscription_id] = username

    def subscription_ids(self, usernames):
        """{username: subscription id} of these usernames' RADIUS-type subscriptions held in memory (the
        accounting's sessions are tied to them without asking the database)."""
        found = {}
        by_username = self.by_username
        for username in usernames:
            data = by_username.get(username)
            if data is not None:
                found[username] = data.subscription_id
        return found

    def get_many(self, usernames):
        return {username: self.by_username[username] for username in usernames if username in self.by_username}


def password_matches(request, password):
    """PAP (User-Password) or CHAP (CHAP-Password) of an AccessRequest against the subscription's password, as
    RFC 2865 says (what pyrad's PwDecrypt and VerifyChapPasswd did): never an empty password."""
    if not password:
        return False
    if request.chap_password is not None:
        chap = request.chap_password
        if len(chap) != 17:
            return False
        challenge = request.chap_challenge if request.chap_challenge is not None else request.authenticator
        return hmac.compare_digest(chap[1:], hashlib.md5(chap[:1] + password.strip().encode() + challenge).digest())
    hidden = request.user_password
    if not hidden or len(hidden) % 16:
        return False
    secret, last, typed = request.nas.secret, request.authenticator, b""
    for start in range(0, len(hidden), 16):
        block = hidden[start:start + 16]
        mask = hashlib.md5(secret + last).digest()
        # The XOR of the 16 bytes as two numbers: one operation, not a generator over the bytes.
        typed += (int.from_bytes(block, "big") ^ int.from_bytes(mask, "big")).to_bytes(16, "big")
        last = block
    return hmac.compare_digest(typed.rstrip(b"\0"), password.encode())


def mschap_matches(login, username, data):
    """An MS-CHAP response made from the subscription's password (never an empty one, as PAP and CHAP)."""
    return bool(data.password) and login.verify(username.encode(), data.mschap_keys())


def mschap_attributes(login, outcome, data, password_ok, mac_ok, username, nas, request_authenticator):
    """The Microsoft attributes of the reply to an MS-CHAP login, encoded (`reply` adds them).

    Accepted (or into the walled garden): MS-CHAP2-Success and the MPPE keys. Rejected: MS-CHAP-Error
    saying why, as Windows shows it — a wrong password (691, may retry), a subscription bound to another
    device (649), or one that may not log in now (647, "account disabled"): the latter two only to whom
    typed the right password.
    """
    if outcome == REJECT:
        if not password_ok:
            return login.failure(mschap.AUTHENTICATION_FAILURE)
        return login.failure(mschap.NO_DIALIN_PERMISSION if not mac_ok else mschap.ACCOUNT_DISABLED)
    return login.success(username.encode(), data.mschap_keys(), nas.secret, request_authenticator)


def from_bound_device(request, data):
    """True unless the subscription is bound to a MAC and the request comes from another device (or says none)."""
    return not data.mac or normalize_mac(request.calling_station_id) == data.mac


ACCEPT, WALLED_GARDEN, REJECT = "accept", "walled garden", "reject"
TOO_MANY = "too many sessions"  # rejected with a Reply-Message (Simultaneous-Use)


def verdict(data, nas, today, password_ok, mac_ok, calling_station_id=None, nas_port=None):
    """Whether a login is accepted, let into the walled garden or rejected (TOO_MANY: beyond the sessions it
    may have open): the rule `decide` applies."""
    if data is None or not password_ok or not mac_ok:
        return REJECT
    if data.may_log_in(today):
        return ACCEPT if simultaneous.admits(data, nas.id, calling_station_id, nas_port) else TOO_MANY
    if nas.walled_garden_pool and data.may_enter_walled_garden(today):
        return WALLED_GARDEN
    return REJECT


def decide(request, data, today):
    """The one decision on an Access-Request (an AccessRequest, `data` its subscription's AuthData or None):
    (outcome, password right, from the bound device) — the last two say which MS-CHAP error a reject gets."""
    if data is None:
        return REJECT, False, False
    login = request.mschap
    # MS-CHAP when it came, else CHAP, else PAP (only pyrad's fallback reads a request with several).
    password_ok = (mschap_matches(login, request.username, data) if login is not None
                   else password_matches(request, data.password))
    mac_ok = from_bound_device(request, data)
    return (verdict(data, request.nas, today, password_ok, mac_ok, request.calling_station_id, request.nas_port),
            password_ok, mac_ok)


def reply(request, data, today, interim, dictionary):
    """The bytes of the reply to an AccessRequest: its code and attributes as `decide` says. The attributes
    of an Accept are encoded once per subscription, make and interim interval (a cached AuthData is replaced,
    never changed, when the subscription changes), those of a walled garden and a refusal once per their text.
    `interim`: RADIUS_INTERIM_INTERVAL, sent unless the NAS has an interval of its own."""
    interim = getattr(request.nas, "interim_interval", None) or interim
    outcome, password_ok, mac_ok = decide(request, data, today)
    login = request.mschap
    refusal = b""
    if outcome == TOO_MANY:
        key = ("too many", data.simultaneous_use)
        refusal = _REFUSALS.get(key)
        if refusal is None:
            refusal = _REFUSALS[key] = _encoded(dictionary, lambda reply: too_many(reply, data))
        outcome = REJECT
    # MS-CHAP's attributes depend on the request's challenge and authenticator: encoded for each login.
    own = b"" if login is None else mschap_attributes(
        login, outcome, data, password_ok, mac_ok, request.username or "", request.nas, request.authenticator)
    if outcome == REJECT:
        return lean.encode_reply(request, radius_packet.AccessReject, refusal + own)
    if outcome == WALLED_GARDEN:
        key = ("walled garden", request.nas.vendor, request.nas.walled_garden_pool, request.nas.walled_garden_message,
               interim)
        attributes = _WALLED_GARDEN_ATTRIBUTES.get(key)
        if attributes is None:
            attributes = _WALLED_GARDEN_ATTRIBUTES[key] = _encoded(
                dictionary, lambda reply: walled_garden(reply, request.nas, interim))
        return lean.encode_reply(request, radius_packet.AccessAccept, attributes + own)
    key = (request.nas.vendor, interim)
    attributes = data.encoded.get(key)
    if attributes is None:
        attributes = data.encoded[key] = accept_bytes(dictionary, data, request.nas.vendor, interim)
    return lean.encode_reply(request, radius_packet.AccessAccept, attributes + own)


FRAMED_IP_ADDRESS, FRAMED_ROUTE = 8, 22
_ADDRESS_ATTRIBUTES = {"Framed-IP-Address", "Framed-Route"}


def accept_bytes(dictionary, data, vendor, interim):
    """The attribute bytes of an Accept (`accept_attributes`), as pyrad writes them: the subscription's IPv4
    addresses written here (Framed-IP-Address, Framed-Routes: fixed formats), the rest — IPv6, speed, interim,
    parameters — encoded by pyrad once per content and shared by every subscription with the same
    (`_ACCEPTS_BY_CONTENT`): a first login costs no pyrad packet of its own (100,000 subscribers' first logins)."""
    if any(parameter[0] in _ADDRESS_ATTRIBUTES for parameter in data.parameters):
        # pyrad would write such a parameter beside the addresses (one attribute, one place): all by pyrad.
        return _encoded(dictionary, lambda reply: accept_attributes(reply, data, vendor, interim))
    content = ("accept", vendor, interim, data.ipv6_prefix, data.delegated_prefix, data.download_kbps,
               data.upload_kbps, tuple(data.parameters))
    rest = _by_content(_ACCEPTS_BY_CONTENT, content, lambda: _encoded(
        dictionary, lambda reply: accept_attributes(reply, data, vendor, interim, with_addresses=False)))
    addresses = data.addresses
    if not addresses:
        return rest
    own = bytes((FRAMED_IP_ADDRESS, 6)) + ipaddress.IPv4Address(addresses[0]).packed
    for address in addresses[1:]:
        route = f"{address}/32 0.0.0.0 1".encode()
        own += bytes((FRAMED_ROUTE, len(route) + 2)) + route
    return own + rest


# Without the AuthCache: an Accept's attributes by everything they are made of, an MS-CHAP password's keys by
# the password: a login's next batch finds them (never stale: a change makes another key). At most
# CONTENT_KEPT each, emptied when full.
CONTENT_KEPT = 50_000
_ACCEPTS_BY_CONTENT, _KEYS_BY_PASSWORD = {}, {}


def _by_content(kept, key, make):
    found = kept.get(key)
    if found is None:
        if len(kept) >= CONTENT_KEPT:
            kept.clear()
        found = kept[key] = make()
    return found


def accept_attributes(reply, data, vendor, interim, with_addresses=True):
    """An accepted login's attributes: its addresses (unless not `with_addresses`: `accept_bytes` writes them)
    and IPv6 prefixes, speed, interim interval and the service's parameters."""
    if with_addresses and data.addresses:
        reply["Framed-IP-Address"] = data.addresses[0]
        if len(data.addresses) > 1:
            reply["Framed-Route"] = [f"{address}/32 0.0.0.0 1" for address in data.addresses[1:]]
    if data.ipv6_prefix:
        reply["Framed-IPv6-Prefix"] = data.ipv6_prefix
    if data.delegated_prefix:
        reply["Delegated-IPv6-Prefix"] = data.delegated_prefix
    for name, value in speed_attributes(vendor, data.download_kbps, data.upload_kbps):
        reply.AddAttribute(name, value)
    reply["Acct-Interim-Interval"] = int(interim)
    # Only the parameters meant for this make, and never a second speed (app.radius.attributes).
    for name, value in attributes.parameters_for(vendor, data.parameters,
                                                 bool(data.download_kbps or data.upload_kbps)):
        _add_parameter(reply, name, value)


_WALLED_GARDEN_ATTRIBUTES = {}
_REFUSALS = {}  # the Reply-Message of a login beyond its sessions, by the number allowed


def too_many(reply, data):
    """Rejected: as many sessions open as the subscription may have (the subscriber reads why)."""
    reply.code = radius_packet.AccessReject
    reply["Reply-Message"] = split_octets(simultaneous.MESSAGE.format(limit=data.simultaneous_use),
                                          REPLY_MESSAGE_OCTETS)


def _encoded(dictionary, fill):
    """The attribute bytes `fill(reply)` adds to a reply, encoded by pyrad once."""
    reply = radius_packet.Packet(code=radius_packet.AccessAccept, id=0, secret=b"-", authenticator=bytes(16),
                                 dict=dictionary)
    fill(reply)
    return reply.ReplyPacket()[20:]


def walled_garden(reply, nas, interim):
    """Accepted into the NAS's walled-garden pool: an address from it, and the text saying how to pay. A MikroTik
    also puts the address in the firewall address list of the pool's name, which its garden rules match."""
    reply.code = radius_packet.AccessAccept
    reply["Framed-Pool"] = nas.walled_garden_pool
    if nas.vendor == MIKROTIK:
        reply["Mikrotik-Address-List"] = nas.walled_garden_pool
    reply["Reply-Message"] = split_octets(nas.walled_garden_message or WALLED_GARDEN_MESSAGE, REPLY_MESSAGE_OCTETS)
    reply["Acct-Interim-Interval"] = int(interim)


def split_octets(text, size):
    """`text` in pieces of at most `size` UTF-8 octets, never splitting a character (Cyrillic takes two)."""
    pieces, piece = [], ""
    for character in text:
        if len((piece + character).encode()) > size:
            pieces.append(piece)
            piece = ""
        piece += character
    return pieces + [piece] if piece else pieces


def speed_attributes(vendor, download_kbps, upload_kbps):
    """The speed limit in the NAS vendor's attribute(s); nothing when the service sets no speed."""
    if not download_kbps and not upload_kbps:
        return []
    down, up = download_kbps or 0, upload_kbps or 0
    if vendor == MIKROTIK:
        # rx/tx as the router sees the subscriber: it receives the upload and transmits the download.
        return [("Mikrotik-Rate-Limit", f"{up}k/{down}k")]
    if vendor == CISCO:
        return [("Cisco-AVPair", f"lcp:interface-config=rate-limit input {up * 1000} 8000 8000 "
                                 "conform-action transmit exceed-action drop"),
                ("Cisco-AVPair", f"lcp:interface-config=rate-limit output {down * 1000} 8000 8000 "
                                 "conform-action transmit exceed-action drop")]
    return [("WISPr-Bandwidth-Max-Up", up * 1000), ("WISPr-Bandwidth-Max-Down", down * 1000)]


def _add_parameter(reply, name, value):
    """A service parameter named like a dictionary attribute goes into the reply; others are not RADIUS's."""
    attribute = reply.dict.attributes.get(name) if reply.dict else None
    if attribute is None:
        return
    if attribute.encrypt:
        # Encrypted with each request's authenticator (MPPE keys…): never a fixed value of a service.
        log.warning("radius: service parameter %s cannot be sent: it is encrypted per login", name)
        return
    try:
        reply.AddAttribute(name, int(value) if attribute.type == "integer" else value)
    except (ValueError, TypeError) as error:
        log.warning("radius: service parameter %s=%r cannot be sent: %s", name, value, error)
