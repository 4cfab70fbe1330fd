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

Neither builds the panel: no FAB view, API or page (`build_app`). The
modules' receivers and jobs are wired all the same (app/<module>/wiring.py),
so a payment recorded by a job is invoiced, a suspension disconnects.
"""
import argparse

from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from app import create_app
from app.core.queue import redis_connection, register_periodic_jobs


class Worker(SimpleWorker):
    """RQ's SimpleWorker whose command channel (shutdown, stop a job) is read every second.

    RQ reads it in a thread that waits up to 60 s for a message, and redis-py (8.2 on) joins that thread when
    the worker stops: unless the unsubscribe reply wakes it in time, every stop — a burst worker's end, a
    SIGTERM at deploy — waited up to a minute. A one-second wait costs nothing and bounds the stop.
    """

    def subscribe(self):
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)


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
        worker = Worker([queue], connection=connection)
        # No RQ scheduler inside the worker (nothing is queued for later: enqueue_at/enqueue_in or RQ's Retry
        # are unused; the periodic jobs are `--cron`'s). Its scheduler is a forked child holding a copy of the
        # worker's Redis socket: a worker killed with SIGKILL (the OOM killer) stayed blocked in Redis's BLMOVE
        # through that copy, and the next job queued went to the dead worker, never to run
        # (tests/core/test_multi_node.py).
        worker.work(burst=options.burst, with_scheduler=False)


if __name__ == "__main__":
    main()
