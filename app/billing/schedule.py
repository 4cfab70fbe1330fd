"""When the cycle runs by itself: each night at CYCLE_TIME (Europe/Sofia), catching up missed days in order.

One check, `run_due_days`, is asked every few minutes; it starts a run for
each day from the one after the last scheduled run up to today (once
today's CYCLE_TIME has passed), oldest first. A day's scheduled run is
unique (`BillingRun.scheduled_day`), so a second scheduler, or a check
repeated before the first finished, starts nothing twice.

Who asks:
- with Redis, RQ's cron scheduler of exactly one `python worker.py --cron`,
  every CHECK_MINUTES (app.billing.wiring registers it);
- in the embedded default (no Redis), a thread of the panel process
  (`start_embedded`, from run.py), with the runs' chunks in that thread.
A run started by hand from the panel goes the same way (`run_by_hand`).
"""
import logging
import threading
from datetime import time, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.billing.cycle import check_day_to_run, start_run
from app.billing.models import BillingRun
from app.core.formatting import local_time, utcnow
from app.core.transaction import after_commit, unit_of_work
from app.extensions import db

log = logging.getLogger(__name__)
CHECK_MINUTES = 5


def cycle_time():
    """The configured local time of the nightly run ("02:30")."""
    hours, minutes = str(current_app.config.get("CYCLE_TIME", "02:30")).split(":")
    return time(int(hours), int(minutes))


def due_days(now=None):
    """The days whose scheduled run is due and not started yet, oldest first.

    The first time ever, only the latest due day: the schedule does not
    replay the history before it was switched on.
    """
    local_now = local_time(now or utcnow())
    latest_due = local_now.date() if local_now.time() >= cycle_time() else local_now.date() - timedelta(days=1)
    last_run = db.session.scalar(select(func.max(BillingRun.scheduled_day)))
    if last_run is None:
        return [latest_due]
    days = []
    day = last_run + timedelta(days=1)
    while day <= latest_due:
        days.append(day)
        day += timedelta(days=1)
    return days


def run_due_days(now=None):
    """Starts the due days' runs in order, each its own unit of work; returns the days started."""
    started = []
    with unit_of_work():
        days = due_days(now)
    for day in days:
        try:
            with unit_of_work():
                # The schedule never picks a day after its own clock; a clock given explicitly is a simulated one.
                start_run(day, gettext("schedule"), scheduled=True, allow_future=now is not None)
        except IntegrityError:
            # Another scheduler started this day a moment ago: it is running it.
            log.info("the scheduled run for %s was started elsewhere", day)
            continue
        started.append(day)
    return started


def run_by_hand(day, started_by):
    """A run an operator starts now. With Redis, the run (its chunks go to the workers after the commit);
    in the embedded default None: its chunks take this process, so it starts after the commit in a thread
    of its own rather than in the operator's request. Raises InvalidValue for a day after today."""
    check_day_to_run(day)
    if current_app.config.get("REDIS_URL"):
        return start_run(day, started_by)
    after_commit(_run_in_thread, current_app._get_current_object(), day, started_by)
    return None


def _run_in_thread(app, day, started_by):
    def work():
        with app.app_context():
            with unit_of_work():
                start_run(day, started_by)
            db.session.remove()

    threading.Thread(target=work, name=f"billing-cycle-{day.isoformat()}", daemon=True).start()


class EmbeddedScheduler(threading.Thread):
    """The panel process's own nightly schedule, for an installation without Redis."""

    def __init__(self, app, interval=CHECK_MINUTES * 60):
        super().__init__(name="billing-cycle-schedule", daemon=True)
        self.app, self.interval, self.stopped = app, interval, threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    started = run_due_days()
                    db.session.remove()
                if started:
                    log.info("billing cycle run for %s", ", ".join(day.isoformat() for day in started))
            except Exception:  # noqa: BLE001 - the schedule survives a failed check and tries again later
                log.exception("the scheduled billing cycle check failed")
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()


def start_embedded(app):
    """Starts the embedded schedule unless Redis runs the jobs (then a worker's cron does) or it is switched off."""
    if app.config.get("REDIS_URL") or not app.config.get("CYCLE_SCHEDULE", True):
        return None
    scheduler = EmbeddedScheduler(app)
    scheduler.start()
    return scheduler
