"""worker.py's Worker: a job whose worker died holding it is queued again for another worker (at most
ABANDONED_TRIES times); a job still running beats its heartbeat and is never taken for abandoned."""
import threading
import time
import uuid

import rq.registry
from rq import Queue
from rq.job import JobStatus

import worker
from tests.core.multi_node_jobs import answer
from tests.core.test_jobs import redis_or_skip


def forget(queue, connection):
    """The test queue's jobs and keys gone from Redis."""
    for registry in (queue, queue.started_job_registry, queue.failed_job_registry, queue.finished_job_registry):
        for job_id in registry.get_job_ids():
            connection.delete(f"rq:job:{job_id}", f"rq:executions:{job_id}", f"rq:results:{job_id}")
    for key in connection.scan_iter(f"rq:*{queue.name}*"):
        connection.delete(key)


def later(monkeypatch, seconds):
    """RQ's registries read the clock `seconds` ahead (a heartbeat's TTL run out without waiting for it)."""
    monkeypatch.setattr(rq.registry, "current_timestamp", lambda: time.time() + seconds)


def held_by_a_dead_worker(queue, connection):
    """Takes the next job as a worker does, then dies (never runs it, never beats again)."""
    dead = worker.Worker([queue], connection=connection, abandoned_seconds=10)
    job, _queue = Queue.dequeue_any([queue], None, connection=connection)
    dead.prepare_execution(job)
    return job


def test_a_job_left_by_a_dead_worker_is_run_by_another_then_given_up(monkeypatch):
    connection = redis_or_skip()
    queue = Queue(f"abandoned-{uuid.uuid4().hex[:8]}", connection=connection)
    try:
        job = queue.enqueue(answer, 42)
        survivor = worker.Worker([queue], connection=connection, abandoned_seconds=10)
        for tries in (1, 2):
            held_by_a_dead_worker(queue, connection)
            survivor.clean_registries()  # within the heartbeat's TTL: still someone's
            assert job.id not in queue.job_ids and job.id in queue.started_job_registry.get_job_ids()
            with monkeypatch.context() as clock:
                later(clock, 11)
                survivor.clean_registries()
            assert queue.job_ids == [job.id]
            job.refresh()
            assert job.meta["abandoned"] == tries and job.get_status() == JobStatus.QUEUED
        survivor.work(burst=True)
        assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == 42

        # A job that has killed two workers (out of memory, say) is left failed after the third.
        doomed = queue.enqueue(answer, 7)
        for _try in range(3):
            held_by_a_dead_worker(queue, connection)
            with monkeypatch.context() as clock:
                later(clock, 11)
                survivor.clean_registries()
        assert queue.job_ids == [] and doomed.get_status(refresh=True) == JobStatus.FAILED
        assert doomed.id in queue.failed_job_registry.get_job_ids()
    finally:
        forget(queue, connection)


def test_a_long_job_beats_its_heartbeat_and_is_never_taken_for_abandoned():
    connection = redis_or_skip()
    queue = Queue(f"beating-{uuid.uuid4().hex[:8]}", connection=connection)
    try:
        job = queue.enqueue(answer, "done", 4.5)  # longer than the heartbeat's TTL of 3 s
        running = worker.Worker([queue], connection=connection, abandoned_seconds=3)
        other = worker.Worker([queue], connection=connection, abandoned_seconds=3)
        cleaned = []

        def clean_meanwhile():
            for _round in range(4):
                time.sleep(1.1)
                other.clean_registries()
                cleaned.append(job.get_status(refresh=True))

        cleaner = threading.Thread(target=clean_meanwhile)
        cleaner.start()
        running.work(burst=True)
        cleaner.join()
        assert cleaned[-1] == JobStatus.STARTED  # 4.4 s in: beaten, still the running worker's
        assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == "done"
        assert "abandoned" not in job.meta
    finally:
        forget(queue, connection)
