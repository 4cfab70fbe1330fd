"""Dropped RADIUS packets, counted, and written to the LOG at a bounded rate.

A flood of garbage (or a NAS with the wrong secret) must not flood the LOG
or slow the server: drops are counted in memory per (reason, source
address, and detail where there is one: which NAS, session and fault) and
written as one LOG entry per key at most every INTERVAL seconds, at most
MAX_ENTRIES entries at a time (the rest summed up in one).
"""
import time
from collections import Counter

from flask_babel import gettext

from app.audit.models import LogEntry
from app.audit.services import record_security_event

INTERVAL = 60.0
MAX_ENTRIES = 20


class Drops:
    def __init__(self):
        self.counts = Counter()
        self.flushed_at = time.monotonic()

    def count(self, reason, source, detail=""):
        """`reason`: a fixed message (translated when written); `detail`: what tells the packet apart
        (a refused accounting packet's NAS and session), already in words; the same detail is counted once."""
        self.counts[(reason, source, detail)] += 1

    def flush(self, force=False):
        """Writes the counts to the LOG when INTERVAL has passed (or `force`); returns the entries written."""
        if not self.counts or (not force and time.monotonic() - self.flushed_at < INTERVAL):
            return 0
        pairs = self.counts.most_common()
        self.counts.clear()
        self.flushed_at = time.monotonic()
        shown, rest = pairs[:MAX_ENTRIES], pairs[MAX_ENTRIES:]
        # Each on a connection of its own (the LOG's security-event path): it stands whatever the batch does.
        for (reason, source, detail), count in shown:
            note = f"{count} × {gettext(reason)}" + (f" — {detail}" if detail else "")
            record_security_event(LogEntry.RADIUS_DROPPED, username="RADIUS", remote_addr=source, note=note)
        if rest:
            record_security_event(LogEntry.RADIUS_DROPPED, username="RADIUS", note=gettext(
                "%(count)s more from %(sources)s other sources",
                count=sum(count for _pair, count in rest), sources=len(rest)))
        return len(shown) + bool(rest)
