"""Dropped RADIUS packets, counted, and written to the LOG at a bounded rate.

A flood of garbage (or a NAS with the wrong secret) must not flood the LOG
or slow the server: drops are counted in memory per (reason, source
address) and written as one LOG entry per pair at most every INTERVAL
seconds, at most MAX_ENTRIES entries at a time (the rest summed up in one).
"""
import time
from collections import Counter

from flask_babel import gettext
from sqlalchemy import insert

from app.audit.models import LogEntry
from app.core.formatting import utcnow
from app.extensions import db

INTERVAL = 60.0
MAX_ENTRIES = 20


class Drops:
    def __init__(self):
        self.counts = Counter()
        self.total = 0
        self.flushed_at = time.monotonic()

    def count(self, reason, source):
        self.counts[(reason, source)] += 1
        self.total += 1

    def flush(self, force=False):
        """Writes the counts to the LOG when INTERVAL has passed (or `force`); returns the entries written."""
        if not self.counts or (not force and time.monotonic() - self.flushed_at < INTERVAL):
            return 0
        pairs = self.counts.most_common()
        self.counts.clear()
        self.flushed_at = time.monotonic()
        shown, rest = pairs[:MAX_ENTRIES], pairs[MAX_ENTRIES:]
        now = utcnow()
        rows = [{"operation": LogEntry.RADIUS_DROPPED, "username": "RADIUS", "remote_addr": source[:50],
                 "issued_at": now, "changes": {}, "note": f"{count} × {gettext(reason)}"[:500]}
                for (reason, source), count in shown]
        if rest:
            rows.append({"operation": LogEntry.RADIUS_DROPPED, "username": "RADIUS", "issued_at": now,
                         "changes": {}, "note": gettext("%(count)s more from %(sources)s other sources",
                                                  count=sum(count for _pair, count in rest), sources=len(rest))})
        # A connection of its own: the LOG entry stands whatever the server's batch does.
        with db.engine.begin() as connection:
            connection.execute(insert(LogEntry), rows)
        return len(rows)
