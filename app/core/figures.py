"""Figures a page shows that cost a scan and may be a few minutes old: the home page's counts and sums.

`counted(name, actor, count)` runs `count()` at most once per FIGURES_MAX_AGE seconds (default 300) for each
dealer scope, and says when it counted, so the page shows the figure's age ("към 14:05"). With Redis the
figures are shared by every process of the installation (its keys under JOB_QUEUE_NAME); without it they are
kept in the process, which is then the only one. A Redis that does not answer costs the cache, not the page.
"""
import pickle
import threading
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.core.formatting import utcnow
from app.core.scoping import dealer_of

DEFAULT_MAX_AGE = 300
PROCESS_STORE = "billing_figures"


@dataclass(frozen=True)
class Counted:
    value: object
    at: datetime  # when it was counted, naive UTC as stored everywhere


def counted(name, actor, count):
    """`count()` for the actor's dealer scope, counted now or less than FIGURES_MAX_AGE seconds ago: Counted.

    `count` must depend on nothing but the scope (the caller checks the actor's right to see it first).
    """
    max_age = current_app.config.get("FIGURES_MAX_AGE", DEFAULT_MAX_AGE)
    key = f"{current_app.config.get('JOB_QUEUE_NAME', 'billing')}:figures:{name}:{dealer_of(actor) or 'all'}"
    store = _store()
    found = store.get(key)
    if found is not None and 0 <= (utcnow() - found.at).total_seconds() < max_age:
        return found
    fresh = Counted(count(), utcnow())
    store.put(key, fresh, max_age)
    return fresh


def forget():
    """Drops every figure this process keeps (tests start each from an empty store)."""
    current_app.extensions.pop(PROCESS_STORE, None)


def _store():
    if current_app.config.get("REDIS_URL"):
        return _RedisStore(current_app)
    return current_app.extensions.setdefault(PROCESS_STORE, _ProcessStore())


class _ProcessStore:
    def __init__(self):
        self.figures, self.lock = {}, threading.Lock()

    def get(self, key):
        with self.lock:
            return self.figures.get(key)

    def put(self, key, figure, _max_age):
        with self.lock:
            self.figures[key] = figure


class _RedisStore:
    def __init__(self, app):
        from redis import Redis

        self.redis = app.extensions.get("billing_figures_redis")
        if self.redis is None:
            self.redis = app.extensions["billing_figures_redis"] = Redis.from_url(
                app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5)

    def get(self, key):
        from redis import RedisError

        try:
            stored = self.redis.get(key)
        except RedisError:
            return None
        # The installation's own Redis, which RQ trusts with its pickled jobs as well.
        return pickle.loads(stored) if stored else None

    def put(self, key, figure, max_age):
        from redis import RedisError

        try:
            self.redis.set(key, pickle.dumps(figure), ex=max(int(max_age), 1))
        except RedisError:
            pass  # counted again next time
