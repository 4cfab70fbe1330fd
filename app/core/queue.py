"""One way to start background work.

With REDIS_URL set, jobs go to an RQ queue on Redis and `python worker.py`
runs them. Without it (the embedded default) a job runs at once, in this
process, so a single machine needs no Redis.
"""
from importlib import import_module

from flask import current_app

from app.audit.actor import acting_as
from app.extensions import db


def init_app(app):
    app.extensions["billing_queue"] = None


def redis_connection(app=None):
    from redis import Redis

    app = app or current_app
    return Redis.from_url(app.config["REDIS_URL"])


def get_queue(app=None):
    """The RQ queue of this installation, or None when jobs run in-process."""
    from rq import Queue

    app = app or current_app
    if not app.config.get("REDIS_URL"):
        return None
    queue = app.extensions.get("billing_queue")
    if queue is None:
        queue = Queue(app.config["JOB_QUEUE_NAME"], connection=redis_connection(app))
        app.extensions["billing_queue"] = queue
    return queue


def enqueue(func, *args, actor_id=None, **kwargs):
    """Run `func(*args, **kwargs)` as a background job.

    `func` is a module-level function given as an object or as a dotted
    path; `actor_id` is the operator the job's changes are attributed to in
    the LOG. Returns the RQ job, or None when it ran in-process.
    """
    path = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    queue = get_queue()
    if queue is None:
        run_job(path, args, kwargs, actor_id)
        return None
    return queue.enqueue(run_job, path, args, kwargs, actor_id)


def run_job(path, args, kwargs, actor_id):
    """Entry point of every job: resolve the function and run it as the actor.

    Leaves the session clean afterwards, since one worker process runs many
    jobs in the same application context.
    """
    module_name, func_name = path.rsplit(".", 1)
    func = getattr(import_module(module_name), func_name)
    try:
        with acting_as(actor_id):
            return func(*args, **kwargs)
    except Exception:
        db.session.rollback()
        raise
    finally:
        if current_app.config.get("REDIS_URL"):
            db.session.remove()
