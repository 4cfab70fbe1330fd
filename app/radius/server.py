"""The RADIUS server (`flask --app app radius serve`): logins and accounting of RADIUS-type subscriptions.

One process serves the authentication and the accounting port with one
loop over two non-blocking UDP sockets. It works in batches: once a packet
is waiting it reads every packet that is (up to BATCH; with accounting in
hand, waiting up to GROUP_WINDOW seconds for more), then

- answers the batch's Access-Requests from memory on PostgreSQL (the
  AuthCache, which the same loop keeps current from LISTEN/NOTIFY), else
  with one query for all their usernames (app.radius.auth decides each);
  the usual Access-Request is read without pyrad (app.radius.lean.parse),
  the rest is decoded by pyrad, and either way decided and answered by
  the same code (app.radius.auth.reply);
- writes the batch's Accounting-Requests (the usual one read without
  pyrad too: app.radius.lean.parse_accounting) in one transaction and sends
  their Accounting-Responses only after it has committed (group commit):
  an acknowledged packet is durable, and a process killed before the
  commit acknowledged nothing — the NAS sends it again. A packet the
  accounting cannot store costs only itself (app.radius.accounting.record).

A Status-Server (RFC 5997) from a NAS, on either port, is answered at once
with an Access-Accept (authentication port) or an Accounting-Response
(accounting port) signed with a Message-Authenticator; one without a
Message-Authenticator that verifies is dropped like any forged packet.

A packet is the NAS's whose address it comes from and, where the address
has NAS with a NAS-Identifier, whose identifier it carries (NasList).
Packets from addresses that are not in the NAS list, that do not decode,
or whose authenticator or Message-Authenticator is wrong are dropped
unanswered and counted; the counts reach the LOG at most once a minute
per reason and source (app.radius.drops). Prometheus's counts (app.radius.metrics) take each
packet once, per port and NAS: answered (accept, reject, acknowledged, status) or dropped, with the reason;
`flask radius serve` serves them on RADIUS_METRICS_ADDRESS with /healthz and /readyz.

Several processes may share the ports (SO_REUSEPORT, `--processes`): the
kernel spreads the NASes over them. SIGTERM (and SIGINT) ends the loop
after the batch in hand (its logins answered, its accounting committed and
acknowledged); `flask radius serve` then closes its connections and exits
at once (app.radius.cli), without the interpreter's teardown.
"""
import logging
import select as select_module
import selectors
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

from flask_babel import gettext
from pyrad import packet as radius_packet
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.core import duties
from app.core.actors import SystemActor
from app.core.api_language import N_
from app.core.formatting import utcnow
from app.core.queue import enqueue
from app.extensions import db
from app.radius import accounting, auth, disconnect, jobs, lean, load_dictionary, metrics
from app.radius.drops import Drops
from app.radius.models import Nas

log = logging.getLogger(__name__)

BATCH = 256
GROUP_WINDOW = 0.002  # seconds a batch waits for more packets once one arrived
# …but no longer than this after the last one: when the NASes have sent all they have in flight (the socket
# stays empty), the rest of the window was idle (2 ms of each ~8 ms batch at 32 in flight); a flood arrives
# closer than this (a NAS, or radclient, sends a packet every few tens of µs) and fills its batch as before.
# Waited with select(2), whose timeout is in µs: epoll's is in whole milliseconds.
GROUP_GAP = 0.0003
RECEIVE_BUFFER = 4 * 1024 * 1024  # a NAS reboots: thousands of Accounting-On/Start at once
MAX_PACKET = 4096  # RFC 2865: 4096 octets at most
CACHE = "auth cache"  # the selector's mark of the cache's notification connection
# Why a packet is dropped, as the LOG says it (translated when written).
UNKNOWN_NAS = N_("unknown NAS")
MALFORMED = N_("malformed packet")
UNEXPECTED_CODE = N_("unexpected kind of packet")
BAD_MESSAGE_AUTHENTICATOR = N_("wrong Message-Authenticator (wrong secret?)")
NO_MESSAGE_AUTHENTICATOR = N_("no Message-Authenticator, which this NAS must send")
BAD_AUTHENTICATOR = N_("wrong authenticator (wrong secret?)")
# The same reasons as Prometheus labels them (app.radius.metrics): short fixed keys.
DROP_KEYS = {
    UNKNOWN_NAS: "unknown_nas", MALFORMED: "malformed", UNEXPECTED_CODE: "unexpected_code",
    BAD_MESSAGE_AUTHENTICATOR: "bad_message_authenticator", NO_MESSAGE_AUTHENTICATOR: "no_message_authenticator",
    BAD_AUTHENTICATOR: "bad_authenticator", accounting.IMPOSSIBLE_COUNTER: "impossible_counter",
    accounting.UNREADABLE: "unreadable", accounting.REFUSED_BY_DATABASE: "refused_by_database",
    accounting.DATABASE_UNAVAILABLE: "database_unavailable",
}
# A batch's login replies leave this many at a time as they are made (the rest when it is done): early
# answers for a NAS waiting on a long batch, with the sending and counting of a group at once.
LOGIN_SEND_EVERY = 32
FAILED = "failed"  # a batch (or one login) that could not be answered: the log says why


@dataclass(frozen=True)
class NasInfo:
    id: int
    name: str
    secret: bytes
    vendor: str
    require_message_authenticator: bool
    walled_garden_pool: str | None = None
    walled_garden_message: str | None = None
    interim_interval: int | None = None  # its Acct-Interim-Interval; None: RADIUS_INTERIM_INTERVAL


class NasList:
    """The NAS list by address and NAS-Identifier, reloaded every few seconds (a new NAS needs no restart).

    A request is the NAS's whose address it comes from and whose
    NAS-Identifier it carries; failing that (none sent, or one no NAS of the
    address has), the address's NAS without an identifier, if it has one.
    A NAS given an identifier takes only requests that carry it: several
    NAS behind one address (NAT) are told apart, and one that sends another
    identifier is not taken for its neighbour (its secret would differ).
    """

    def __init__(self, refresh):
        self.refresh = refresh  # seconds between reloads (RADIUS_NAS_REFRESH)
        self.by_address, self.loaded_at = {}, None

    def get(self, address, identifier=None):
        """The NAS of this address and NAS-Identifier (text, or None when the request carries none), or None."""
        if self.loaded_at is None or time.monotonic() - self.loaded_at >= self.refresh:
            self.reload()
        found = self.by_address.get(address)
        if found is None:
            return None
        return found.get(identifier) or found.get(None)

    def find(self, address, data):
        """The NAS of a request's bytes from this address: its NAS-Identifier read only where the address has
        NAS that need it (the usual address, of one NAS without an identifier, costs one lookup)."""
        if self.loaded_at is None or time.monotonic() - self.loaded_at >= self.refresh:
            self.reload()
        found = self.by_address.get(address)
        if found is None:
            return None
        if len(found) == 1 and None in found:
            return found[None]
        return self.get(address, lean.nas_identifier(data))

    def reload(self):
        rows = db.session.execute(select(Nas.id, Nas.name, Nas.ip_address, Nas.nas_identifier, Nas.secret,
                                         Nas.vendor, Nas.require_message_authenticator, Nas.walled_garden_pool,
                                         Nas.walled_garden_message, Nas.interim_interval)).all()
        db.session.rollback()
        by_address = {}
        for row in rows:
            by_address.setdefault(row.ip_address, {})[row.nas_identifier] = NasInfo(
                row.id, row.name, row.secret.encode(), row.vendor, row.require_message_authenticator,
                row.walled_garden_pool, row.walled_garden_message, row.interim_interval)
        self.by_address = by_address
        self.loaded_at = time.monotonic()


def open_socket(host, port):
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


class RadiusServer:
    def __init__(self, app, host, auth_port, acct_port, sockets=None):
        """`sockets`: the (authentication, accounting) sockets when opened already (a forked process's)."""
        self.app = app
        self.dictionary = load_dictionary()
        self.auth_socket, self.acct_socket = sockets or (open_socket(host, auth_port), open_socket(host, acct_port))
        self.sockets = (self.auth_socket, self.acct_socket)
        self.nas_list = NasList(float(app.config["RADIUS_NAS_REFRESH"]))
        self.drops = Drops()
        # The LOG's counts and Prometheus's, per port (app.radius.metrics).
        self.auth_drops = metrics.CountingDrops(self.drops, metrics.AUTH, self.nas_name, _drop_key)
        self.acct_drops = metrics.CountingDrops(self.drops, metrics.ACCT, self.nas_name, _drop_key)
        # Replies counted by their labelled counters, kept while the NAS list is the same (`_count`).
        self.replies, self.replies_named_by = metrics.Replies(self.nas_name), None
        self.pending_logins = []  # the logins' replies made and not sent yet (`_send_login_reply`)
        self.lean = bool(app.config.get("RADIUS_LEAN", True))  # the usual Access-Request decoded without pyrad
        # …and the usual Accounting-Request (app.radius.lean.parse_accounting): what the accounting reads of it.
        self.accounting_reader = lean.AccountingReader(self.dictionary, accounting.READ) if self.lean else None
        self.cache = None
        self.next_housekeeping, self.purged_on = 0.0, None
        # Without the cache on PostgreSQL, a batch of logins is read in one statement on a connection of the
        # server's own in autocommit: one round trip a batch (no pool check-out, BEGIN or ROLLBACK).
        self.reader, self.own_reader = None, False
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                if app.config["RADIUS_AUTH_CACHE"]:
                    self.cache = auth.AuthCache()
                else:
                    self.own_reader = True
        self.running = True

    def nas_name(self, address):
        """The NAS's name for the metrics' labels; "unknown" for any address not in the NAS list. A reply knows
        only its address: several NAS behind one address (told apart by NAS-Identifier) share one label, their
        names joined."""
        found = self.nas_list.by_address.get(address)
        if not found:
            return metrics.UNKNOWN
        return "/".join(sorted(nas.name for nas in found.values()))

    @property
    def ports(self):
        return self.auth_socket.getsockname()[1], self.acct_socket.getsockname()[1]

    def stop(self, *_signal):
        self.running = False

    def serve(self, handle_signals=True):
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        selector = self.selector = selectors.DefaultSelector()
        selector.register(self.auth_socket, selectors.EVENT_READ)
        selector.register(self.acct_socket, selectors.EVENT_READ)
        if self.cache is not None:
            selector.register(self.cache, selectors.EVENT_READ, data=CACHE)
        with self.app.app_context():
            try:
                while self.running:
                    self.housekeeping()
                    ready = selector.select(timeout=0.5)
                    if self.cache is not None and any(key.data == CACHE for key, _events in ready):
                        self._receive_changes()
                    if any(key.data != CACHE for key, _events in ready):
                        self.serve_batch()
                    try:
                        self.drops.flush()
                    except DBAPIError:
                        log.exception("radius: the dropped packets' counts could not be logged")
            finally:
                self._close_reader()
                if self.cache is not None:
                    self.cache.close()
                self.drops.flush(force=True)
                selector.close()
                self.auth_socket.close()
                self.acct_socket.close()
                db.session.remove()

    def housekeeping(self):
        """Every RADIUS_HOUSEKEEPING seconds: close the silent sessions, and queue the disconnects of those
        still online that may not be (app.radius.disconnect.enforce); once a day: purge the old ones.

        Each server process does the closing and the disconnects (the statements are idempotent), so they
        run wherever and whenever RADIUS does, with no scheduler of their own; the purge is claimed for the
        day (app.core.duties), so one process on one host does it.
        """
        now_monotonic = time.monotonic()
        if now_monotonic < self.next_housekeeping:
            return
        config = self.app.config
        self.next_housekeeping = now_monotonic + float(config["RADIUS_HOUSEKEEPING"])
        now = utcnow()
        try:
            closed = accounting.close_stale_sessions(now, config["RADIUS_INTERIM_INTERVAL"],
                                                     config["RADIUS_STALE_MARGIN"])
            if closed:
                log.info("radius: %d silent sessions closed", closed)
            if self.cache is not None:
                metrics.CACHED_LOGINS.set(len(self.cache.by_username))
            if disconnect.sessions_to_cut(now, limit=1):
                db.session.rollback()
                # A job, never here: a NAS that does not answer must not hold up the logins.
                enqueue(jobs.enforce, SystemActor(gettext("RADIUS server")), background=True)
            db.session.rollback()
            if self.purged_on != now.date():
                # Once a day across every RADIUS process on every host: one purge, one LOG entry.
                if duties.claim("radius-purge", now.date().isoformat()):
                    accounting.purge_old_sessions(now, config["RADIUS_RETENTION_MONTHS"])
                self.purged_on = now.date()
        except DBAPIError:
            db.session.rollback()
            log.exception("radius housekeeping failed; tried again later")

    def serve_batch(self):
        """Reads what is waiting, answers the logins at once, and answers the accounting once what arrives
        within GROUP_WINDOW is read too (one commit for all of it). The window waits on the two ports alone: a
        notification for the cache (an accounting commit brings some) would wake it at once, again and again
        until the window's end; it is read between batches."""
        auth_requests, acct_requests = [], []
        started = time.monotonic()
        deadline = started + GROUP_WINDOW
        while len(auth_requests) + len(acct_requests) < BATCH:
            got = self._read(self.auth_socket, auth_requests, radius_packet.AuthPacket)
            got += self._read(self.acct_socket, acct_requests, radius_packet.AcctPacket)
            if not got:
                if auth_requests:
                    # A login shares no commit: waiting for company would only make the NAS wait.
                    self._answer_logins(auth_requests, started)
                    auth_requests = []
                if not acct_requests:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not select_module.select(self.sockets, (), (), min(left, GROUP_GAP))[0]:
                    break
        if auth_requests:
            self._answer_logins(auth_requests, started)
        if acct_requests:
            replies = self._safely(self._account, acct_requests, metrics.ACCT)
            # Counted before they are sent: whoever has the answer finds it in the metrics already.
            self._count(metrics.ACCT, replies)
            self._answer(self.acct_socket, replies)
            metrics.BATCH_SECONDS.labels(metrics.ACCT).observe(time.monotonic() - started)

    def _answer_logins(self, requests, started):
        # The replies leave LOGIN_SEND_EVERY at a time as they are made (auth.answer's `send`), the rest once the
        # batch is done: a NAS gets its first answers while the batch's others are computed (MS-CHAP's cost),
        # and the sending and counting are done per group, not per login. Each is counted once, just before it
        # leaves (_send_logins): whoever has an answer finds it counted.
        try:
            self._safely(self._authorise, requests, metrics.AUTH)
        finally:
            self._send_logins()  # what was made before a failure is answered all the same
        metrics.BATCH_SECONDS.labels(metrics.AUTH).observe(time.monotonic() - started)

    def _count(self, port, replies):
        if self.replies_named_by is not self.nas_list.by_address:  # reloaded: a NAS's name may have changed
            self.replies.forget()
            self.replies_named_by = self.nas_list.by_address
        self.replies.count(port, replies)

    def _receive_changes(self):
        try:
            self.cache.receive()
            # A lost notification connection is replaced by a new one (another descriptor): wait on that one.
            registered = next(key for key in self.selector.get_map().values() if key.data == CACHE)
            if registered.fd != self.cache.fileno():
                self.selector.unregister(registered.fd)
                self.selector.register(self.cache, selectors.EVENT_READ, data=CACHE)
        except Exception:  # noqa: BLE001 — the next batch's read tries again; the server stays up
            log.exception("radius: the login cache could not read its notifications")
            db.session.rollback()

    def _authorise(self, requests):
        if self.cache is not None:
            self._receive_changes()  # a change committed before these requests came is in effect for them
        if self.own_reader and self.reader is None:
            self.reader = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            replies = auth.answer(requests, self.cache, self.dictionary, send=self._send_login_reply,
                                  connection=self.reader)
        except Exception:
            self._close_reader()  # the next batch reads on a new connection
            raise
        if len(replies) < len(requests):  # a login that could not be answered (the log says why)
            unanswered = Counter(self.nas_name(request.source[0]) for request in requests)  # as replies are named
            unanswered.subtract(self.nas_name(destination[0]) for _raw, destination in replies)
            for nas_name, count in unanswered.items():
                if count > 0:
                    metrics.dropped(metrics.AUTH, nas_name, FAILED, count)
        return replies

    def _account(self, requests):
        # A packet not stored is counted with the dropped ones, so it reaches the LOG.
        known = self.cache.subscription_ids if self.cache is not None else None
        return accounting.record(requests, self.acct_drops, known)

    @staticmethod
    def _safely(handle, requests, port):
        """The batch's replies, or none when handling it failed (the database is gone, a bug): the server
        stays up, and the NAS sends again."""
        try:
            return handle(requests)
        except Exception:  # noqa: BLE001 — one failed batch must not stop the network's logins
            log.exception("radius: a batch of %d requests failed", len(requests))
            db.session.rollback()
            for nas_name, count in Counter(request.nas.name for request in requests).items():
                metrics.dropped(port, nas_name, FAILED, count)
            return []

    def _read(self, sock, requests, packet_class):
        """Reads the packets waiting on one socket (at most BATCH); returns how many were read."""
        count = 0
        while count < BATCH:
            try:
                data, source = sock.recvfrom(MAX_PACKET)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:  # e.g. ICMP port unreachable reported on the socket
                log.debug("radius receive: %s", error)
                break
            count += 1
            request = self._decode(data, source, packet_class)
            if request is None:
                continue
            if isinstance(request, Request) and request.packet.code == radius_packet.StatusServer:
                # Alive and reachable is all it asks: no database, no batch to wait for.
                try:
                    self._answer(sock, [(status_reply(request), source)])
                    metrics.status_answered(metrics.AUTH if sock is self.auth_socket else metrics.ACCT,
                                            request.nas.name)
                except Exception:  # noqa: BLE001 — an odd packet must not stop the loop
                    log.exception("radius: cannot answer a Status-Server from %s", source[0])
                continue
            requests.append(request)
        return count

    def _decode(self, data, source, packet_class):
        drops = self.auth_drops if packet_class is radius_packet.AuthPacket else self.acct_drops
        nas = self.nas_list.find(source[0], data)
        if nas is None:
            drops.count(UNKNOWN_NAS, source[0])
            return None
        if self.lean:
            if packet_class is radius_packet.AuthPacket:
                request = lean.parse(data, nas, source)
            else:
                request = lean.parse_accounting(data, nas, source, self.accounting_reader)
            if request is not None:
                return request
        try:
            request = packet_class(packet=data, secret=nas.secret, dict=self.dictionary)
        except Exception:  # noqa: BLE001 — pyrad raises PacketError, KeyError, struct.error… on garbage
            drops.count(MALFORMED, source[0])
            return None
        problem = check_request(request, nas)
        if problem:
            drops.count(problem, source[0])
            return None
        if request.code == radius_packet.AccessRequest:
            # The fallback decoder: from here on the same login path as `lean.parse`'s requests.
            return lean.from_pyrad(request, nas, source)
        return Request(request, nas, source)

    def _close_reader(self):
        if self.reader is not None:
            try:
                self.reader.close()
            except Exception:  # noqa: BLE001 — a lost connection: dropped all the same
                log.debug("radius: the logins' connection could not be closed", exc_info=True)
            self.reader = None

    def _send_login_reply(self, made):
        pending = self.pending_logins
        pending.append(made)
        if len(pending) >= LOGIN_SEND_EVERY:
            self._send_logins()

    def _send_logins(self):
        """Counts and sends the logins' replies made since the last sending, each once."""
        pending = self.pending_logins
        if pending:
            self.pending_logins = []
            self._count(metrics.AUTH, pending)
            self._answer(self.auth_socket, pending)

    @staticmethod
    def _answer(sock, replies):
        sendto = sock.sendto
        for raw, destination in replies:
            try:
                sendto(raw, destination)
            except OSError as error:
                log.warning("radius reply to %s: %s", destination, error)


def _drop_key(reason):
    return DROP_KEYS.get(reason, "other")


@dataclass
class Request:
    packet: radius_packet.Packet
    nas: NasInfo
    source: tuple


def status_reply(request):
    """The answer to a Status-Server (RFC 5997 section 3): the port's own kind of reply, with no attribute
    but its Message-Authenticator, computed over the request's authenticator (the logins' encoder)."""
    packet = request.packet
    code = (radius_packet.AccessAccept if isinstance(packet, radius_packet.AuthPacket)
            else radius_packet.AccountingResponse)
    return lean.encode_reply(lean.from_pyrad(packet, request.nas, request.source), code, b"")


def check_request(request, nas):
    """Why a decoded request must be dropped, or None."""
    code = request.code
    if code == radius_packet.StatusServer:
        # RFC 5997 section 3: a Status-Server without a Message-Authenticator is discarded, whatever the NAS.
        if not request.message_authenticator:
            return NO_MESSAGE_AUTHENTICATOR
        try:
            return None if request.verify_message_authenticator() else BAD_MESSAGE_AUTHENTICATOR
        except Exception:  # noqa: BLE001 — a malformed attribute list
            return BAD_MESSAGE_AUTHENTICATOR
    if isinstance(request, radius_packet.AuthPacket):
        if code != radius_packet.AccessRequest:
            return UNEXPECTED_CODE
        if request.message_authenticator:
            try:
                if not request.verify_message_authenticator():
                    return BAD_MESSAGE_AUTHENTICATOR
            except Exception:  # noqa: BLE001 — a malformed attribute list
                return BAD_MESSAGE_AUTHENTICATOR
        elif nas.require_message_authenticator:
            return NO_MESSAGE_AUTHENTICATOR
        return None
    if code != radius_packet.AccountingRequest:
        return UNEXPECTED_CODE
    if not request.VerifyAcctRequest():
        return BAD_AUTHENTICATOR
    return None


def start_embedded(app):
    """The embedded default (`make run`): the server in a thread of the panel's process; None when off."""
    if not app.config.get("RADIUS_EMBEDDED"):
        return None
    config = app.config
    try:
        server = RadiusServer(app, config["RADIUS_HOST"], config["RADIUS_AUTH_PORT"], config["RADIUS_ACCT_PORT"])
    except OSError as error:  # the ports are taken (a `flask radius serve` of its own runs)
        log.warning("RADIUS not started: %s", error)
        return None
    thread = threading.Thread(target=server.serve, kwargs={"handle_signals": False}, name="radius", daemon=True)
    thread.start()
    log.info("RADIUS on %s: authentication %s, accounting %s", config["RADIUS_HOST"], *server.ports)
    return server
