"""Simultaneous-Use: how many sessions a subscription may have open at once.

The number is the subscription's own (Subscription.simultaneous_use) or
its service's (Service.simultaneous_use, 1 unless set); 0 means any
number. A login that would go beyond it is rejected with a Reply-Message
saying why (`MESSAGE`), unless an open session
- is silent: no accounting for 2 × the interim interval (its NAS's own, else
  the global one) plus the margin
  (app.radius.accounting.silent_since, the rule by which housekeeping
  closes sessions, and so takes them off "В мрежата сега"); it is closed
  at its last report, as housekeeping would;
- or is the same device redialling: the same MAC (Calling-Station-Id), NAS
  and NAS port (NAS-Port-Id, else NAS-Port) — the NAS lost the old
  session without a Stop; it is closed now ("Redial").

Fast: each subscription's open sessions come with its login data
(app.radius.auth.AuthData.sessions): read with it per batch on SQLite, in
memory on PostgreSQL, where a session that opens or ends notifies the
servers (migration 0028) and an Interim-Update notifies nothing. A login
that finds the number reached is refused from memory while every open
session has reported within the silence limit; only when one may have gone
silent, or the same device redials, the database is read (the sessions'
last reports) and the sessions that give way are closed.
"""
from collections import namedtuple
from functools import lru_cache

from flask import current_app
from sqlalchemy import any_, bindparam, select, update
from sqlalchemy.dialects.postgresql.psycopg2 import dialect as psycopg2_dialect

from app.core.formatting import utcnow
from app.extensions import db
from app.networks.services import normalize_mac
from app.radius.accounting import silent_since
from app.radius.models import Nas, RadiusSession

# interim: the session's NAS's own interim interval, or None (RADIUS_INTERIM_INTERVAL): its silence limit.
OpenSession = namedtuple("OpenSession", "id nas_id device nas_port updated_at interim")
STALE, REDIAL = "Stale", "Redial"  # the stop causes of the sessions a login closes
# The Reply-Message of a login beyond the number (Bulgarian: the subscriber reads it on the router or PC).
MESSAGE = ("Достигнат е броят едновременни връзки за този абонамент ({limit}). Прекъснете другата връзка "
           "или опитайте отново след няколко минути.")


def device(calling_station_id):
    """A Calling-Station-Id as compared: a MAC written in any of the NASes' ways as one; anything else as is."""
    if not calling_station_id:
        return None
    return normalize_mac(calling_station_id) or calling_station_id.strip() or None


def _open_sessions_query():
    table = RadiusSession.__table__
    return (select(table.c.id, table.c.subscription_id, table.c.nas_id, table.c.calling_station_id,
                   table.c.nas_port, table.c.updated_at, Nas.interim_interval)
            .join(Nas, Nas.id == table.c.nas_id)
            .where(table.c.stopped_at.is_(None), table.c.subscription_id.is_not(None)))


def _by_subscription(rows):
    found = {}
    for session_id, subscription_id, nas_id, calling, port, updated_at, interim in rows:
        found.setdefault(subscription_id, []).append(
            OpenSession(session_id, nas_id, device(calling), port, updated_at, interim))
    return found


@lru_cache(maxsize=1)
def _open_sessions_psycopg2():
    """The same query as a psycopg2 statement, compiled once (the login cache's hot path)."""
    query = _open_sessions_query().where(RadiusSession.__table__.c.subscription_id == any_(bindparam("ids")))
    return str(query.compile(dialect=psycopg2_dialect()))


def open_sessions_on(connection, subscription_ids):
    """`open_sessions` of these subscriptions read on a psycopg2 connection of its own (the login cache's
    listening one, in autocommit): one round trip, outside the session's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_open_sessions_psycopg2(), {"ids": list(subscription_ids)})
        return _by_subscription(cursor.fetchall())


def open_sessions(subscription_ids=None):
    """{subscription id: [OpenSession]} of these subscriptions (all when None)."""
    query = _open_sessions_query()
    if subscription_ids is not None:
        query = query.where(RadiusSession.__table__.c.subscription_id.in_(list(subscription_ids)))
    return _by_subscription(db.session.execute(query))


def admits(data, nas_id, calling_station_id, nas_port):
    """True when the subscription (AuthData) may open one more session, from this device on this NAS port;
    closes what stands in the way and may be closed (silent sessions, the same device's on the same port)."""
    limit = data.simultaneous_use
    if not limit or len(data.sessions) < limit:
        return True  # the usual login: nothing read, nothing written
    config = current_app.config
    now = utcnow()

    def silent(session):
        return session.updated_at < silent_since(now, session.interim or config["RADIUS_INTERIM_INTERVAL"],
                                                 config["RADIUS_STALE_MARGIN"])

    new_device = device(calling_station_id)
    # A session's last report only moves on: one known to have reported since `silent` is live still, and so a
    # device retrying while the others are live is refused from memory. Else the database says (below).
    if not any(silent(session) or _redials(session, nas_id, new_device, nas_port)
               for session in data.sessions):
        return False
    return _admits_after_closing(data, limit, now, silent, nas_id, new_device, nas_port)


def _redials(session, nas_id, new_device, new_port):
    """The same device on the same NAS and port as this open session."""
    return bool(new_device and new_port) and (session.nas_id, session.device, session.nas_port) == (
        nas_id, new_device, new_port)


def _admits_after_closing(data, limit, now, silent, nas_id, new_device, new_port):
    sessions = open_sessions([data.subscription_id]).get(data.subscription_id, [])
    stale = [session.id for session in sessions if silent(session)]
    redialled = [session.id for session in sessions
                 if session.id not in stale and _redials(session, nas_id, new_device, new_port)]
    live = [session for session in sessions if session.id not in stale and session.id not in redialled]
    if len(live) >= limit:
        db.session.rollback()
        data.sessions = sessions  # their last reports as of now: the next retry is answered from memory
        return False
    table = RadiusSession.__table__
    if stale:
        db.session.execute(update(table).where(table.c.id.in_(stale), table.c.stopped_at.is_(None))
                           .values(stopped_at=table.c.updated_at, stop_cause=STALE))
    if redialled:
        db.session.execute(update(table).where(table.c.id.in_(redialled), table.c.stopped_at.is_(None))
                           .values(stopped_at=now, stop_cause=REDIAL))
    db.session.commit()
    data.sessions = live
    return True
