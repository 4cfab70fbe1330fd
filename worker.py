"""Background worker: runs the billing jobs queued on Redis.

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [--burst]
    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py --cron

Run as many workers as the load needs; jobs are taken once each. Run one
`--cron` process besides them: RQ's cron scheduler, which asks every few
minutes whether the nightly billing cycle is due (app/billing/schedule.py)
and queues it for the workers — every periodic job a module registered in
its wiring.py. A second one (on another machine, so that the schedule outlives
one) runs nothing twice: each job runs once per interval across them
(app.core.queue.run_periodic).

A worker killed while it runs a job (SIGKILL, the OOM killer, its machine
gone) leaves the job behind: each worker beats a heartbeat for the job it
runs, and a job whose heartbeat has been silent for JOB_ABANDONED_SECONDS is
queued again for the other workers (at most twice: a job that kills every
worker it runs on is left failed). The job's unit of work never committed,
so it runs again from the start (tests/core/test_multi_node.py).

Neither builds the panel: no FAB view, API or page (`build_app`). The
modules' receivers and jobs are wired all the same (app/<module>/wiring.py),
so a payment recorded by a job is invoiced, a suspension disconnects.
"""
import argparse
import gc
import threading

from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.exceptions import AbandonedJobError, InvalidJobOperation
from rq.registry import FailedJobRegistry

from app import create_app
from app.core import logs
from app.core.queue import redis_connection, register_periodic_jobs


ABANDONED_TRIES = 2  # times a job abandoned by its worker is queued again


class Worker(SimpleWorker):
    """RQ's SimpleWorker whose command channel (shutdown, stop a job) is read every second, and whose jobs
    are run again elsewhere when it dies holding one.

    RQ reads the command channel in a thread that waits up to 60 s for a message, and redis-py (8.2 on) joins
    that thread when the worker stops: unless the unsubscribe reply wakes it in time, every stop — a burst
    worker's end, a SIGTERM at deploy — waited up to a minute. A one-second wait costs nothing and bounds the
    stop.

    A job's entry in RQ's StartedJobRegistry expires after its heartbeat TTL; RQ's registry cleanup (any
    worker's maintenance) then moves it to the failed jobs as abandoned. SimpleWorker sets that TTL to the
    job's timeout + 60 s (240 s by default) and never beats while the job runs (the job runs in its one
    thread), and RQ cleans every 10 minutes: a killed worker's job was failed, never run, after up to 14
    minutes. Here a thread beats every third of `abandoned_seconds` while a job runs, the TTL is
    `abandoned_seconds`, idle workers clean every half of it, and an abandoned job is queued again
    (FailedJobRegistry.requeue) instead of left failed.
    """

    def __init__(self, *args, abandoned_seconds=60, **kwargs):
        self.abandoned_seconds = max(3, int(abandoned_seconds))
        half = max(1, self.abandoned_seconds // 2)
        # An idle worker blocks on the queue for worker_ttl - 15 s between two maintenance checks.
        kwargs.setdefault("worker_ttl", 15 + half)
        kwargs.setdefault("maintenance_interval", half)
        super().__init__(*args, **kwargs)
        self._abandoned = []
        self.push_exc_handler(self._note_abandoned)

    def subscribe(self):
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)

    def get_heartbeat_ttl(self, job):
        """How long the job's entry in the StartedJobRegistry lives without a beat."""
        return self.abandoned_seconds

    def execute_job(self, job, queue):
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, stop), name="job-heartbeat", daemon=True)
        beat.start()
        try:
            # Every line logged for the job names it, and the panel request that enqueued it (app.core.logs).
            with logs.in_context(job.meta.get("request_id"), job.id):
                super().execute_job(job, queue)
        finally:
            stop.set()
            beat.join()

    def _beat(self, job, stop):
        """While the job runs: the worker's key and the job's execution kept alive."""
        while not stop.wait(self.abandoned_seconds / 3):
            execution = self.execution
            if execution is None:
                continue
            try:
                with self.connection.pipeline() as pipeline:
                    self.heartbeat(self.abandoned_seconds + 60, pipeline=pipeline)
                    execution.heartbeat(job.started_job_registry, self.abandoned_seconds, pipeline=pipeline)
                    if not stop.is_set():  # the job ended meanwhile: its execution is gone, leave it so
                        pipeline.execute()
            except Exception:  # noqa: BLE001 - Redis away for a moment: the next beat tries again
                self.log.warning("Worker %s: heartbeat of job %s failed", self.name, job.id, exc_info=True)

    def _note_abandoned(self, job, exc_type, exc_value, traceback):
        """RQ's exception handler: the registry cleanup reports each abandoned job here (normal failures
        too, which pass on)."""
        if exc_type is AbandonedJobError:
            self._abandoned.append(job)

    def clean_registries(self):
        self._abandoned = []
        super().clean_registries()
        for job in self._abandoned:
            requeue_abandoned(job, self.connection, self.log)
        self._abandoned = []


def requeue_abandoned(job, connection, log):
    """A job RQ's cleanup has just failed as abandoned, queued again unless it was ABANDONED_TRIES times."""
    tries = int(job.meta.get("abandoned", 0)) + 1
    if tries > ABANDONED_TRIES:
        log.error("job %s (%s) abandoned by its worker %d times: left failed", job.id, job.description, tries)
        return
    job.meta["abandoned"] = tries
    job.save_meta()
    try:
        FailedJobRegistry(job.origin, connection=connection).requeue(job.id)
    except InvalidJobOperation:  # requeued or deleted meanwhile
        return
    log.warning("job %s (%s) abandoned by its worker: queued again (%d of %d)", job.id, job.description, tries,
                ABANDONED_TRIES)


# The cyclic garbage collector in a worker: a job makes tens of thousands of objects that live as long as it (a
# billing cycle's chunk: its subscriptions, clients and their ORM states), and Python's default thresholds ran
# a collection every 700 allocations, the older ones going through every object of the application too: a
# third of a chunk's CPU (bench/README.md, cycle.py). The application's objects, made once at the start, are
# kept out of the collections (gc.freeze), and collections run less often.
GC_THRESHOLDS = (20_000, 50, 100)


def settle_collector():
    """After the application is built: its objects frozen for the collector, the thresholds raised."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_app(overrides=None):
    """The worker's application: the modules' wiring without the panel's views."""
    return create_app(overrides, views=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--cron", action="store_true", help="run the cron scheduler (the nightly cycle), not a worker")
    options = parser.parse_args()

    app = build_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("worker.py needs REDIS_URL; without it jobs run inside the panel.")
    settle_collector()
    connection = redis_connection(app)
    if options.cron:
        scheduler = CronScheduler(connection=connection, name=f"billing-cron-{app.config['JOB_QUEUE_NAME']}")
        register_periodic_jobs(app, scheduler)
        scheduler.start()
        return
    # SimpleWorker runs each job in this process, inside the application
    # context pushed below; a forking worker would share the database
    # connections of the parent with its children.
    with app.app_context():
        queue = Queue(app.config["JOB_QUEUE_NAME"], connection=connection)
        worker = Worker([queue], connection=connection, abandoned_seconds=app.config["JOB_ABANDONED_SECONDS"])
        # No RQ scheduler inside the worker (nothing is queued for later: enqueue_at/enqueue_in or RQ's Retry
        # are unused; the periodic jobs are `--cron`'s). Its scheduler is a forked child holding a copy of the
        # worker's Redis socket: a worker killed with SIGKILL (the OOM killer) stayed blocked in Redis's BLMOVE
        # through that copy, and the next job queued went to the dead worker, never to run
        # (tests/core/test_multi_node.py).
        worker.work(burst=options.burst, with_scheduler=False)


if __name__ == "__main__":
    main()
