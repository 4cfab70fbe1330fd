"""Duties done once across every process on every machine: a row claimed per (duty, period).

Several processes may each be asked to do the same periodic work: two
`worker.py --cron` schedulers (one per machine, so that losing a machine
does not stop the schedule), every RADIUS server's housekeeping (the daily
retention purge). Whoever inserts the `duty_claim` row of (duty, period)
first does it; the others find the key taken and skip. The row is inserted
and committed at once on a connection of its own, like a security event
(docs/architecture.md), so the claim holds whatever the claimer's own unit
of work does after. PostgreSQL and SQLite both refuse the second insert of
the key, so the rule is the same in the embedded default.

A claimer that dies after its claim leaves that period's duty undone: the
duties claimed here are idempotent and catch up at their next period (the
purge deletes everything older than the limit, the cycle's schedule starts
every missed day). Claims older than KEEP_DAYS are deleted by the claims
themselves.
"""
import os
import socket
from datetime import datetime, timedelta, timezone

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, String, delete, insert
from sqlalchemy.exc import IntegrityError

from app.core.formatting import utcnow
from app.extensions import db

KEEP_DAYS = 14


class DutyClaim(Model):
    """A duty taken for one period ("radius-purge", "2026-12-07") by one process (host:pid)."""

    __tablename__ = "duty_claim"

    duty = Column(String(100), primary_key=True)
    period = Column(String(40), primary_key=True)
    holder = Column(String(200), nullable=False)
    claimed_at = Column(DateTime, nullable=False, default=utcnow, index=True)

    def __str__(self):
        return f"{self.duty} {self.period}: {self.holder}"


def claim(duty, period):
    """True for exactly one caller of (duty, period) across every process; committed at once."""
    now = utcnow()
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(DutyClaim).values(duty=duty, period=str(period), claimed_at=now,
                                                        holder=f"{socket.gethostname()}:{os.getpid()}"[:200]))
    except IntegrityError:
        return False
    with db.engine.begin() as connection:
        connection.execute(delete(DutyClaim).where(DutyClaim.claimed_at < now - timedelta(days=KEEP_DAYS)))
    return True


def slot(seconds, now=None):
    """The period of a duty done every `seconds`: the start of the slot `now` falls in ("2026-12-07T10:05"),
    the same for every process whatever second its own timer fired."""
    moment = (now or utcnow()).replace(tzinfo=timezone.utc).timestamp()
    start = datetime.fromtimestamp(moment - moment % int(seconds), tz=timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%S")
