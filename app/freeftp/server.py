"""The FTP server (`flask --app app freeftp serve`): pyftpdlib's ThreadedFTPServer over the database's logins.

Each connection has a thread of its own; every question to the database
runs in an application context of that thread, as a short read (or, for
the counters, one UPDATE committed at once). app.freeftp.access decides
who logs in and with what. Before each command of an open session the
login is checked again: a disabled account or a suspended subscription is
answered 530 and disconnected at its next command.

Registered accounts download at most settings.download_kbps per session
and have at most settings.max_sessions sessions at once, counted in the
database across every FTP process (app.freeftp.sessions). A subscription's upload stops with 552 when its home would
exceed the quota. FTPS (AUTH TLS) when FREEFTP_TLS_CERT and _KEY are set.

At start (`flask freeftp serve`, the embedded server) the settings' folders
are checked: a folder this machine cannot reach (a share not mounted) stops
the server with a message naming it, instead of every login failing later.
"""
import errno
import logging
import os
import re
import tempfile
import threading
import time

from pyftpdlib import handlers as ftp_handlers
from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.log import logger as pyftpdlib_log
from pyftpdlib.servers import ThreadedFTPServer
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.core.transaction import unit_of_work
from app.extensions import db
from app.freeftp import access, metrics
from app.freeftp.services import current_settings, note_download, note_login
from app.freeftp.sessions import SessionCounter, beat_seconds

log = logging.getLogger(__name__)

# What the server says to an FTP client, in the panel's language (FTP clients show the text after the code;
# pyftpdlib sends it as UTF-8). Translated once, when the handler class is made for the app.
REPLIES = {
    "banner": _l("FREEFTP is ready."),
    "welcome": _l("Welcome."),
    "goodbye": _l("Goodbye."),
    "failed": _l("Wrong username or password."),
    "sessions": _l("Too many sessions for this account."),
    "stopped": _l("Your access has been stopped."),
    "quota": _l("Quota exceeded."),
    "quota_aborted": _l("Quota exceeded; transfer aborted."),
}


# pyftpdlib's own replies that an FTP client shows its user (FileZilla's message log, a command-line
# client's output), as a pattern of its English text and ours. What a client reads is kept: the code, a
# quoted path (257), the numbers of PASV and EPSV, and the multi-line replies (FEAT, STAT, MLST, HELP),
# which are not translated at all. A reply not listed goes out as pyftpdlib wrote it.
PROTOCOL_REPLIES = (
    (r"Username ok, send password\.", _l("Username accepted; enter the password.")),
    (r"Log in with USER and PASS first\.", _l("Log in first.")),
    (r"Type set to: Binary\.", _l("Binary mode.")),
    (r"Type set to: ASCII\.", _l("Text mode.")),
    (r"File status okay\. About to open data connection\.", _l("Opening the data connection.")),
    (r"Data connection already open\. Transfer starting\.", _l("The data connection is open; the transfer starts.")),
    (r"Transfer complete\.", _l("Transfer complete.")),
    (r"Transfer aborted via ABOR\.|ABOR command successful\.", _l("Transfer aborted.")),
    (r"No transfer to abort\.", _l("No transfer to abort.")),
    (r"Restarting at position (?P<position>\d+)\.", _l("Resuming from byte %(position)s.")),
    (r"Not enough privileges\.", _l("You have no right to do this here.")),
    (r"No such file or directory\.", _l("No such file or folder.")),
    (r"No such directory\.", _l("No such folder.")),
    (r"Permission denied\.", _l("Access denied.")),
    (r"File exists\.", _l("It exists already.")),
    (r"Is a directory\.", _l("It is a folder.")),
    (r"Not a directory\.", _l("It is not a folder.")),
    (r"Directory not empty\.", _l("The folder is not empty.")),
    (r"File removed\.", _l("File deleted.")),
    (r"Directory removed\.", _l("Folder deleted.")),
    (r"Ready for destination name\.", _l("Send the new name.")),
    (r"Renaming ok\.", _l("Renamed.")),
    (r"(?P<path>.+) is not retrievable\.?", _l("%(path)s cannot be downloaded.")),
    (r'(?P<path>".*") is the current directory\.', _l("%(path)s is the current folder.")),
    (r'(?P<path>".*") directory created\.', _l("%(path)s: folder created.")),
    (r'Command (?P<command>".*") not understood\.', _l("Command %(command)s not understood.")),
    (r"Syntax error: command needs an argument\.", _l("Syntax error: the command needs an argument.")),
    (r"Syntax error: command does not accept arguments\.", _l("Syntax error: the command takes no argument.")),
    (r"Too many connections\. Can't open data channel\.", _l("Too many connections; no data channel.")),
    (r"Passive data channel timed out\.", _l("The data channel waited too long.")),
)


def replies(app):
    with app.app_context():
        return {key: str(text) for key, text in REPLIES.items()}


def protocol_replies(app):
    """PROTOCOL_REPLIES compiled and translated for `app`."""
    with app.app_context():
        return [(re.compile(pattern), str(text)) for pattern, text in PROTOCOL_REPLIES]


def in_our_language(reply, translations):
    """A one-line reply ("226 Transfer complete.") with its text translated, its code kept."""
    code, separator, text = reply[:3], reply[3:4], reply[4:]
    if separator != " ":  # a line of a multi-line reply, or no text: clients may parse it
        return reply
    for pattern, translation in translations:
        match = pattern.fullmatch(text)
        if match:
            return f"{code} {translation % match.groupdict()}"
    return reply


# The pace of a limited download: slices of 20 ms' worth of the limit, and at most a quarter second's
# allowance saved up while the client was not reading.
PACE_SECONDS = 0.02
PACE_BURST = 0.25


class QuotaExceeded(OSError):
    def __init__(self):
        super().__init__(errno.EDQUOT, "Quota exceeded")


class FreeFtpDTPHandler(DTPHandler):
    """The data channel: paced to the login's speed, and stopped when an upload passes the home's quota.

    Not pyftpdlib's ThrottledDTPHandler: it looks at the clock only after a
    whole second's bytes, lets the first second's go unthrottled and then
    sleeps twice what is left, so a download of a few seconds went out at
    full speed (200 KB/s measured 319 KB/s, more on a short file). Here the
    bytes sent never exceed `write_limit` × the time since the first one:
    each send waits for its share of the allowance, in slices of
    PACE_SECONDS' worth, so what the client measures is the limit.
    """

    write_limit = 0  # bytes per second, 0: unlimited (set per login by FreeFtpHandler.ftp_PASS)
    _paced_since = None
    _paced_bytes = 0
    _pacer = None

    def send(self, data):
        if not self.write_limit:
            return super().send(data)
        now = time.monotonic()
        if self._paced_since is None:
            self._paced_since = now
        # A client that stalled (its network, a full window) gets no saved-up burst beyond PACE_BURST's worth.
        self._paced_since = max(self._paced_since, now - PACE_BURST - self._paced_bytes / self.write_limit)
        allowed = int(self.write_limit * (now - self._paced_since)) - self._paced_bytes
        # Same slice length when a TLS write is retried: OpenSSL refuses a shorter retry.
        piece = min(len(data), max(int(self.write_limit * PACE_SECONDS), 512))
        if allowed < piece:
            self._pause((piece - allowed) / self.write_limit)
            return 0
        sent = super().send(data[:piece])
        self._paced_bytes += sent
        return sent

    def _pause(self, seconds):
        """Off the IOLoop for `seconds`, then writable again (as pyftpdlib's throttle sleeps a channel)."""
        self.del_channel()
        self._cancel_pacer()
        self._pacer = self.ioloop.call_later(seconds, self._resume, _errback=self.handle_error)

    def _resume(self):
        if not self._closed:
            self.add_channel(events=self.ioloop.READ if self.receive else self.ioloop.WRITE)

    def _cancel_pacer(self):
        if self._pacer is not None and not self._pacer.cancelled:
            self._pacer.cancel()

    def close(self):
        self._cancel_pacer()
        super().close()

    def handle_read(self):
        super().handle_read()
        room = getattr(self.cmd_channel, "upload_room", None)
        if room is not None and self.tot_bytes_received > room:
            self.cmd_channel.upload_over_quota = True
            raise QuotaExceeded()

    handle_read_event = handle_read  # DTPHandler's alias would call its own handle_read

    def handle_error(self):
        if getattr(self.cmd_channel, "upload_over_quota", False):
            # The partial file goes before the answer: the client may look right after it.
            self.file_obj.close()
            try:
                os.remove(self.file_obj.name)
            except OSError:
                pass
            self._resp = ("552 " + self.cmd_channel.authorizer.replies["quota_aborted"], log.info)
            self.close()
            return
        super().handle_error()


class SessionAuthorizer(DummyAuthorizer):
    """One session's answers, from its Login (pyftpdlib asks by username, which two sessions may share)."""

    def __init__(self, login, replies):
        super().__init__()
        self.login = login
        self.replies = replies

    def has_user(self, username):
        return True

    def has_perm(self, username, perm, path=None):
        return perm in self.login.perm

    def get_perms(self, username):
        return self.login.perm

    def get_home_dir(self, username):
        return self.login.home

    def get_msg_login(self, username):
        return self.replies["welcome"]

    def get_msg_quit(self, username):
        return self.replies["goodbye"]


class DatabaseAuthorizer(DummyAuthorizer):
    """Logins from the database; a logged-in session gets a SessionAuthorizer of its own."""

    def __init__(self, app):
        super().__init__()
        self.app = app
        self.replies = replies(app)
        self.counter = SessionCounter(app)  # sessions per account, in the database (every FTP process)

    def validate_authentication(self, username, password, handler):
        with self.app.app_context():
            try:
                login = access.authenticate(username, password)
                if login is not None and login.max_sessions and login.kind == access.ACCOUNT:
                    handler.session_row = self.counter.claim(login.record_id, login.max_sessions, handler.remote_ip)
                    if handler.session_row is None:
                        metrics.LOGINS.labels(metrics.LIMITED).inc()
                        raise AuthenticationFailed(self.replies["sessions"])
            finally:
                db.session.rollback()
        if login is None:
            metrics.LOGINS.labels(metrics.REFUSED).inc()
            raise AuthenticationFailed(self.replies["failed"])
        handler.login = login

    def session_ended(self, handler):
        session_row, handler.session_row = handler.session_row, None
        if session_row is None:
            return
        with self.app.app_context():
            try:
                self.counter.release(session_row)
            except Exception:  # the database away: the row goes stale and stops counting after a few beats
                log.exception("FTP session %s not released", session_row)

    def has_perm(self, username, perm, path=None):
        return False  # before a login: nothing

    def get_msg_quit(self, username):
        return self.replies["goodbye"]


class FreeFtpHandler(FTPHandler):
    app = None
    dtp_handler = FreeFtpDTPHandler
    banner = "FREEFTP ready."
    login = None
    upload_room = None
    upload_over_quota = False
    _session_counted = False
    session_row = None  # its freeftp_session row, when its account's sessions are limited
    protocol_replies = ()  # protocol_replies(app), set by handler_class

    def respond(self, resp, logfun=pyftpdlib_log.debug):
        """Every reply goes out here: in our language where PROTOCOL_REPLIES has its text."""
        super().respond(in_our_language(resp, self.protocol_replies), logfun)

    # --- logging in ---------------------------------------------------------------------------------

    def ftp_PASS(self, line):
        if self.authenticated:
            self.respond("503 User already authenticated.")
            return
        if not self.username:
            self.respond("503 Login with USER first.")
            return
        try:
            self.authorizer.validate_authentication(self.username, line, self)
        except AuthenticationFailed as error:
            self.handle_auth_failed(str(error), line)
            return
        self._session_counted = True
        metrics.LOGINS.labels(metrics.ACCEPTED).inc()
        metrics.SESSIONS.inc()
        login = self.login
        replies = type(self).authorizer.replies
        self.authorizer = SessionAuthorizer(login, replies)
        if login.download_limit:
            self.dtp_handler = type("LimitedDTPHandler", (type(self).dtp_handler,),
                                    {"write_limit": login.download_limit})
        self.handle_auth_success(login.home, line, replies["welcome"])
        self._count(note_login, login.record_id if login.kind == access.ACCOUNT else None, self.remote_ip)

    def _count(self, counter, record_id, *args):
        if record_id is None:
            return
        with self.app.app_context():
            with unit_of_work():
                counter(record_id, *args)

    # --- every command of an open session --------------------------------------------------------------

    def pre_process_command(self, line, cmd, arg):
        if self.authenticated and self.login is not None and cmd.upper() not in ("QUIT",):
            with self.app.app_context():
                try:
                    allowed = access.still_allowed(self.login)
                finally:
                    db.session.rollback()
            if not allowed:
                self.respond("530 " + type(self).authorizer.replies["stopped"])
                self.log(f"USER '{self.username}' refused in an open session.")
                self.close_when_done()
                return
        return super().pre_process_command(line, cmd, arg)

    # --- writing within the quota ----------------------------------------------------------------------

    def _used_bytes(self, excluding=None):
        total = 0
        for folder, _folders, files in os.walk(self.login.home):
            for name in files:
                path = os.path.join(folder, name)
                if path != excluding:
                    try:
                        total += os.lstat(path).st_size
                    except OSError:
                        pass
        return total

    def ftp_STOR(self, file, mode="w"):
        self.upload_over_quota = False
        self.upload_room = None
        if self.login is not None and self.login.quota_bytes:
            replaced = file if "a" not in mode and not self._restart_position else None
            room = self.login.quota_bytes - self._used_bytes(excluding=replaced)
            if room <= 0:
                self.respond("552 " + type(self).authorizer.replies["quota"])
                return None
            self.upload_room = room
        return super().ftp_STOR(file, mode)

    # --- counters and the end --------------------------------------------------------------------------

    def on_file_sent(self, file):
        if self.login is not None and self.login.kind == access.ACCOUNT:
            try:
                size = os.path.getsize(file)
            except OSError:
                return
            self._count(note_download, self.login.record_id, size)

    def on_disconnect(self):
        if self._session_counted and self.login is not None:
            self._session_counted = False
            metrics.SESSIONS.dec()
            type(self).authorizer.session_ended(self)

    def flush_account(self):
        self.on_disconnect()
        self.login = None
        self.authorizer = type(self).authorizer
        super().flush_account()


def _passive_ports(text):
    if not text:
        return None
    first, _dash, last = str(text).partition("-")
    first, last = int(first), int(last or first)
    return list(range(first, last + 1))


def handler_class(app):
    """The handler class for `app`: plain FTP, or FTPS when a certificate is configured."""
    config = app.config
    bases = (FreeFtpHandler,)
    authorizer = DatabaseAuthorizer(app)
    attributes = {
        "app": app,
        "authorizer": authorizer,
        "banner": authorizer.replies["banner"],
        "protocol_replies": protocol_replies(app),
        "passive_ports": _passive_ports(config.get("FREEFTP_PASSIVE_PORTS")),
        "masquerade_address": config.get("FREEFTP_MASQUERADE_ADDRESS"),
        "auth_failed_timeout": config.get("FREEFTP_AUTH_FAILED_DELAY", 3),
        "use_sendfile": False,  # the throttled data channel sends through its own buffers
    }
    if config.get("FREEFTP_TLS_CERT") and config.get("FREEFTP_TLS_KEY"):
        tls_handler = getattr(ftp_handlers, "TLS_FTPHandler", None)  # pyftpdlib offers it with pyOpenSSL
        if tls_handler is None:
            raise RuntimeError("FTPS needs the pyOpenSSL package (requirements.txt)")
        bases = (FreeFtpHandler, tls_handler)
        attributes["dtp_handler"] = type("TlsDTPHandler", (FreeFtpDTPHandler, ftp_handlers.TLS_DTPHandler), {})
        attributes.update(certfile=config["FREEFTP_TLS_CERT"], keyfile=config["FREEFTP_TLS_KEY"],
                          tls_control_required=False, tls_data_required=False)
    return type("ServingHandler", bases, attributes)


class FreeFtpServer:
    """The server on (host, port); `serve()` until `close()`.

    While it serves, its IOLoop beats every FREEFTP_SESSION_BEAT seconds: the
    sessions' rows of this process are seen (app.freeftp.sessions); when it
    stops, they are deleted.
    """

    def __init__(self, app, host, port):
        self.app = app
        handler = handler_class(app)
        self.counter = handler.authorizer.counter
        self.server = ThreadedFTPServer((host, port), handler)
        self.address = self.server.address

    def serve(self):
        beat = beat_seconds(self.app)
        beating = self.server.ioloop.call_every(beat, self._beat)
        try:
            # The IOLoop looks at its schedule after each poll: polls short enough for the beat to keep time.
            self.server.serve_forever(timeout=min(1.0, beat / 2), handle_exit=True)
        finally:
            beating.cancel()
            with self.app.app_context():
                try:
                    self.counter.release_all()
                except Exception:
                    log.exception("FTP sessions of %s not released", self.counter.server)

    def _beat(self):
        with self.app.app_context():
            try:
                self.counter.beat()
            except Exception:  # the database away for a moment: the next beat tries again
                log.exception("FTP sessions' beat failed")

    def close(self):
        self.server.close_all()


# The settings' folders as the start check names them, and why one is not reachable.
FOLDERS = (("ftp_root", _l("The FTP folder")), ("homes_root", _l("The folder of the subscriptions' homes")))
MISSING = _l("it does not exist")
NOT_A_FOLDER = _l("it is not a folder")
UNREADABLE = _l("it cannot be read")
UNWRITABLE = _l("nothing can be written in it")


def _why_unreachable(folder, writable):
    """None when this machine reaches `folder` (and can write in it when `writable`), else why not."""
    if not os.path.exists(folder):
        return MISSING
    if not os.path.isdir(folder):
        return NOT_A_FOLDER
    try:
        with os.scandir(folder) as entries:  # a share gone stale answers here, not at exists()
            next(entries, None)
    except OSError:
        return UNREADABLE
    if writable:
        try:
            probe, path = tempfile.mkstemp(prefix=".freeftp-check-", dir=folder)
            os.close(probe)
            os.remove(path)
        except OSError:
            return UNWRITABLE
    return None


def unreachable_folders(app):
    """What the FTP server cannot reach of the settings' folders, one Bulgarian sentence each (empty: all well).

    The served tree must be readable, the homes readable and writable; a
    folder not set in the settings is not checked (FREEFTP refuses those
    logins anyway).
    """
    with app.app_context():
        try:
            settings = current_settings()
            problems = []
            for field, name in FOLDERS:
                folder = getattr(settings, field)
                if not folder:
                    continue
                why = _why_unreachable(folder, writable=field == "homes_root")
                if why is not None:
                    problems.append(gettext("%(what)s %(folder)s is not reachable from this machine: %(reason)s.",
                                            what=name, folder=folder, reason=why))
            return problems
        finally:
            db.session.rollback()


def not_started_message(app):
    with app.app_context():
        return gettext("The FTP server does not start: the folders it serves must be reachable on this machine "
                       "(shared between the FTP machines: README, Production).")


def start_embedded(app):
    """The embedded default (`make run`): the server in a thread of the panel's process; None when off."""
    if not app.config.get("FREEFTP_EMBEDDED"):
        return None
    try:
        problems = unreachable_folders(app)
    except Exception as error:  # no schema yet (`make run` before `flask db upgrade`): nothing to check
        log.warning("FTP folders not checked: %s", error)
        problems = []
    if problems:
        for problem in problems:
            log.error("%s", problem)
        log.error("%s", not_started_message(app))
        return None
    try:
        server = FreeFtpServer(app, app.config["FREEFTP_HOST"], app.config["FREEFTP_PORT"])
    except OSError as error:  # the port is taken (a `flask freeftp serve` of its own runs)
        log.warning("FTP not started: %s", error)
        return None
    thread = threading.Thread(target=server.serve, name="freeftp", daemon=True)
    thread.start()
    log.info("FTP on %s:%s", *server.address[:2])
    return server
