"""One way to start background work.

With REDIS_URL set, jobs go to an RQ queue on Redis and `python worker.py`
runs them. Without it (the embedded default) a job runs at once, in this
process, so a single machine needs no Redis — or, when it may wait on the
network (a RADIUS disconnect to a NAS that does not answer), in this
process's one background thread, in order, so no operator's request and no
RADIUS server loop waits for it (`background=True`).

A job function takes its actor first (the operator it acts for, or a
SystemActor), then ids; each run is one unit of work (app.core.transaction).
"""
import logging
import queue as thread_queue
import threading

from flask import current_app

from app.core import duties, logs
from app.core.actors import SystemActor, acting_as
from app.core.transaction import unit_has_written, unit_of_work
from app.extensions import db

log = logging.getLogger(__name__)


def init_app(app):
    app.extensions["billing_queue"] = None
    app.extensions["periodic_jobs"] = {}


def every(app, minutes, func, name):
    """Runs `func()` every `minutes` (a module's init registers it): with Redis, RQ's cron scheduler of
    `python worker.py --cron` queues it (register_periodic_jobs). `func` starts its own units of work."""
    _check_job(func)
    app.extensions["periodic_jobs"][name] = (func, minutes)


def register_periodic_jobs(app, cron_scheduler):
    """Hands every periodic job the modules registered to RQ's cron scheduler (worker.py --cron).

    Each is queued as `run_periodic(name)`: however many schedulers run (one per machine, so that the
    schedule outlives one), a job runs once per its interval across all of them (app.core.duties)."""
    for name, (_func, minutes) in sorted(app.extensions["periodic_jobs"].items()):
        cron_scheduler.register(run_periodic, app.config["JOB_QUEUE_NAME"], args=(name,), interval=minutes * 60,
                                name=name)


def run_periodic(name, now=None):
    """The job a scheduler queues: runs the periodic job `name` unless another process has run it in this
    interval already. Returns whether it ran."""
    from rq import get_current_job

    func, minutes = current_app.extensions["periodic_jobs"][name]
    job = get_current_job()
    # The interval it was queued in, not the one a busy worker reaches it in: two schedulers' copies agree.
    now = now or (job.enqueued_at.replace(tzinfo=None) if job is not None and job.enqueued_at else None)
    if not duties.claim(name, duties.slot(minutes * 60, now)):
        log.info("periodic job %s: done elsewhere in this interval", name)
        return False
    func()
    return True


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


def enqueue(func, actor, *args, retries=0, on_failure=None, background=False, job_timeout=None, first=False,
            **kwargs):
    """Run `func(actor, *args, **kwargs)` as a background job.

    `func` is a module-level function, given as the function itself (never
    its name: readers and tools follow it; RQ stores it by module and name,
    and the worker imports it); `actor` is the operator (or SystemActor)
    the job acts as: it sees what that actor sees, and the LOG attributes
    its changes to it. Returns
    the RQ job, or None when it ran in-process. Call it after the commit
    (app.core.transaction.after_commit), so the job finds what it is about.

    With `retries`, a job that raises is run again (each try its own unit
    of work); when the last try fails too, `on_failure(actor, error_text,
    *args)` runs (a module-level function too), and the failure goes no
    further: a chunk of a long run that fails does not stop the others.

    With `background`, a job that would run in-process runs in the
    process's background thread instead (BackgroundJobs).

    `job_timeout` (seconds): how long a worker lets the job run before it
    stops it (RQ's default is 180 s; an import of 50,000 rows takes minutes).

    With `first`, the job goes to the front of the queue: the next free
    worker takes it before the jobs queued earlier (the e-mails of a billing
    cycle's chunk go out while the run's other chunks wait, not after all of
    them).
    """
    if unit_has_written():
        # Before the commit the job could run without what it is about, or
        # (in-process) commit the caller's half-done work.
        raise RuntimeError("enqueue runs after the commit: register it with after_commit")
    _check_job(func)
    if on_failure is not None:
        _check_job(on_failure)
    reference = actor if isinstance(actor, SystemActor) or actor is None else actor.id
    if retries or on_failure:
        entry = (run_with_retries, func, args, kwargs, reference, retries, on_failure)
    else:
        entry = (run_job, func, args, kwargs, reference)
    queue = get_queue()
    if queue is None:
        if background:
            BackgroundJobs.of(current_app._get_current_object()).put(entry, logs.current_request_id())
        else:
            entry[0](*entry[1:])
        return None
    options = {"at_front": True} if first else {}
    if logs.current_request_id():  # the worker's log lines for this job name the request that asked for it
        options["meta"] = {"request_id": logs.current_request_id()}
    if job_timeout:
        options["job_timeout"] = job_timeout
    return queue.enqueue(*entry, **options)


class BackgroundJobs(threading.Thread):
    """The in-process jobs that may wait on the network, one after another in a thread of their own."""

    def __init__(self, app):
        super().__init__(name="background-jobs", daemon=True)
        self.app, self.waiting = app, thread_queue.Queue()

    @classmethod
    def of(cls, app):
        with _STARTING:
            jobs = app.extensions.get("background_jobs")
            if jobs is None:
                jobs = app.extensions["background_jobs"] = cls(app)
                jobs.start()
            return jobs

    def put(self, entry, request_id=None):
        self.waiting.put((entry, request_id))

    def run(self):
        while True:
            entry, request_id = self.waiting.get()
            try:
                with self.app.app_context(), logs.in_context(request_id):
                    try:
                        entry[0](*entry[1:])
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - a failed job is logged; the next one still runs
                log.exception("background job %s failed", job_name(entry[1]))
            finally:
                self.waiting.task_done()


_STARTING = threading.Lock()


def wait_for_background_jobs(app=None):
    """Returns once the background thread has run every job given to it (tests, a clean shutdown)."""
    jobs = (app or current_app).extensions.get("background_jobs")
    if jobs is not None:
        jobs.waiting.join()


def _check_job(func):
    """A job is a module-level function: what RQ can store by reference and a worker import again."""
    if not callable(func) or "<" in getattr(func, "__qualname__", "<"):
        raise TypeError(f"a job is a module-level function, not {func!r}")


def job_name(func):
    """How the logs name a job: app.billing.jobs.reactivate."""
    return f"{func.__module__}.{func.__qualname__}"


def run_with_retries(func, args, kwargs, actor_reference, retries, on_failure):
    """Entry point of a job with retries: up to 1 + `retries` tries, then `on_failure` once."""
    for attempt in range(retries + 1):
        try:
            return run_job(func, args, kwargs, actor_reference)
        except Exception as error:  # noqa: BLE001 - any failure of the job is retried, then recorded
            log.exception("job %s failed (try %d of %d)", job_name(func), attempt + 1, retries + 1)
            last = error
    if on_failure:
        run_job(on_failure, (f"{type(last).__name__}: {last}",) + tuple(args), {}, actor_reference)
    return None


def run_job(func, args, kwargs, actor_reference):
    """Entry point of every job: resolve the actor, run the function as it, as one unit of work.

    Leaves the session clean afterwards, since one worker process runs many
    jobs in the same application context.
    """
    try:
        with unit_of_work():
            actor = _resolve(actor_reference)
            with acting_as(actor):
                result = func(actor, *args, **kwargs)
        return result
    finally:
        if current_app.config.get("REDIS_URL"):
            db.session.remove()


def _resolve(reference):
    """The actor a job was given: a SystemActor as is, an operator by id (None when deleted since)."""
    if reference is None or isinstance(reference, SystemActor):
        return reference
    return db.session.get(current_app.appbuilder.sm.user_model, reference)


# Progress of a long job, for a page that shows a bar while it runs: in Redis when jobs run in a worker
# (another process), in this process's memory otherwise (the job runs in its background thread). Not in
# the database: the job's own unit of work commits once, at its end.
_progress = {}
_progress_lock = threading.Lock()
PROGRESS_SECONDS = 24 * 3600


def set_progress(key, done, total):
    if current_app.config.get("REDIS_URL"):
        redis_connection().set(f"billing:progress:{key}", f"{done}/{total or 0}", ex=PROGRESS_SECONDS)
        return
    with _progress_lock:
        _progress[key] = (done, total or 0)


def get_progress(key):
    """(done, total) of the job reporting under `key`, or None before it starts."""
    if current_app.config.get("REDIS_URL"):
        value = redis_connection().get(f"billing:progress:{key}")
        if value is None:
            return None
        done, total = value.decode().split("/")
        return int(done), int(total)
    with _progress_lock:
        return _progress.get(key)
