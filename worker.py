"""Background worker: runs the billing jobs queued on Redis, with RQ's scheduler.

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [--burst]

Run as many workers as the load needs; jobs are taken once each.
"""
import argparse

from rq import Queue, SimpleWorker

from app import create_app
from app.core.queue import redis_connection


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    options = parser.parse_args()

    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("worker.py needs REDIS_URL; without it jobs run inside the panel.")
    connection = redis_connection(app)
    # SimpleWorker runs each job in this process, inside the application
    # context pushed below; a forking worker would share the database
    # connections of the parent with its children.
    with app.app_context():
        queue = Queue(app.config["JOB_QUEUE_NAME"], connection=connection)
        worker = SimpleWorker([queue], connection=connection)
        worker.work(burst=options.burst, with_scheduler=True)


if __name__ == "__main__":
    main()
