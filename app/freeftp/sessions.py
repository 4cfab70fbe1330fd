"""An account's FTP sessions counted in the database, across every FTP process (table freeftp_session).

Two FTP processes behind one address (two machines, or two on one) share
settings.max_sessions per account. A session holds one of its account's
slots 1…max_sessions: a login claims the lowest slot that is free, or whose
row went stale, in one statement (an INSERT … ON CONFLICT on the unique
(account_id, slot)). Two processes racing for the last slot both try the
same row and only one gets it, on PostgreSQL (the unique index makes the
second wait for the first and then see its row, fresh) as on SQLite (one
writer at a time); no lock is held beyond the statement.

Each process refreshes `seen_at` of its own rows every FREEFTP_SESSION_BEAT
seconds from pyftpdlib's IOLoop (one UPDATE for all of them, none while it
has no session); a row not seen for STALE_BEATS beats belongs to a process
that died (SIGKILL, its machine lost): it no longer counts, its slot is
taken over by the next login, and the beats purge it. The moments are the
FTP machines' clocks (UTC), which must agree within a beat or two (NTP).
"""
import os
import socket
import threading
import time
from datetime import timedelta

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.exc import OperationalError

from app.core.formatting import utcnow
from app.core.transaction import unit_of_work
from app.extensions import db

STALE_BEATS = 3  # a row unseen for this many beats belongs to a dead process
PURGE_EVERY = 10  # beats between purges of dead processes' rows (any process purges)
CLAIM_ATTEMPTS = 5  # a slot lost to another login while another one is free: try again (SQLite: locked)

_moments = (bindparam("now", type_=DateTime), bindparam("fresh", type_=DateTime))

# The lowest slot of 1…limit that no fresh row holds, while fewer than `limit` fresh rows exist; a stale row
# in that slot is taken over (its process is dead) and a fresh one (a login that won the race) is left alone.
CLAIM = text("""
WITH RECURSIVE slots(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM slots WHERE n < :limit)
INSERT INTO freeftp_session (account_id, slot, server, remote_addr, opened_at, seen_at)
SELECT :account, n, :server, :remote_addr, :now, :now FROM slots
WHERE NOT EXISTS (SELECT 1 FROM freeftp_session held
                  WHERE held.account_id = :account AND held.slot = slots.n AND held.seen_at >= :fresh)
  AND (SELECT count(*) FROM freeftp_session live
       WHERE live.account_id = :account AND live.seen_at >= :fresh) < :limit
ORDER BY n LIMIT 1
ON CONFLICT (account_id, slot) DO UPDATE
  SET server = excluded.server, remote_addr = excluded.remote_addr,
      opened_at = excluded.opened_at, seen_at = excluded.seen_at
  WHERE freeftp_session.seen_at < :fresh
RETURNING id
""").bindparams(*_moments)

COUNT = text("SELECT count(*) FROM freeftp_session WHERE account_id = :account AND seen_at >= :fresh").bindparams(
    bindparam("fresh", type_=DateTime))


def server_identity():
    """This process among the FTP processes: host, process id and start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"[:200]


def beat_seconds(app):
    return float(app.config.get("FREEFTP_SESSION_BEAT") or 30)


def stale_after(app):
    return timedelta(seconds=STALE_BEATS * beat_seconds(app))


class SessionCounter:
    """One FTP process's side of the count: claims, releases and the beat (each in an app context)."""

    def __init__(self, app):
        self.app = app
        self.server = server_identity()
        self.open = 0  # sessions of this process holding a row
        self.beats = 0
        self.lock = threading.Lock()

    def claim(self, account_id, limit, remote_addr=None):
        """The row id of a new session of the account, or None when its `limit` sessions are open."""
        for attempt in range(CLAIM_ATTEMPTS):
            now = utcnow()
            fresh = now - stale_after(self.app)
            try:
                with unit_of_work():
                    session_id = db.session.execute(CLAIM, {
                        "account": account_id, "limit": limit, "server": self.server, "remote_addr": remote_addr,
                        "now": now, "fresh": fresh}).scalar()
                if session_id is not None:
                    with self.lock:
                        self.open += 1
                    return session_id
                # Nothing claimed: every slot is held, or another login took the one this one chose.
                if db.session.execute(COUNT, {"account": account_id, "fresh": fresh}).scalar() >= limit:
                    return None
            except OperationalError:  # SQLite: another process writes ("database is locked")
                db.session.rollback()
                if db.engine.dialect.name != "sqlite" or attempt == CLAIM_ATTEMPTS - 1:
                    raise
            finally:
                db.session.rollback()
            time.sleep(0.01 * (attempt + 1))
        return None

    def release(self, session_id):
        """The session ended: its slot is free for the next login, on any process."""
        with self.lock:
            self.open = max(self.open - 1, 0)
        with unit_of_work():
            db.session.execute(text("DELETE FROM freeftp_session WHERE id = :id AND server = :server"),
                               {"id": session_id, "server": self.server})

    def beat(self):
        """This process's sessions are alive (one UPDATE); every PURGE_EVERY beats, dead processes' rows go."""
        self.beats += 1
        now = utcnow()
        with unit_of_work():
            if self.open:
                db.session.execute(text("UPDATE freeftp_session SET seen_at = :now WHERE server = :server")
                                   .bindparams(bindparam("now", type_=DateTime)),
                                   {"now": now, "server": self.server})
            if self.beats % PURGE_EVERY == 1:
                purge(now - stale_after(self.app))

    def release_all(self):
        """The process stops: its sessions end with it."""
        with self.lock:
            self.open = 0
        with unit_of_work():
            db.session.execute(text("DELETE FROM freeftp_session WHERE server = :server"), {"server": self.server})


def purge(before):
    """Deletes the rows not seen since `before` (their processes died); how many."""
    return db.session.execute(text("DELETE FROM freeftp_session WHERE seen_at < :before")
                              .bindparams(bindparam("before", type_=DateTime)), {"before": before}).rowcount

