"""A job for tests/core/test_multi_node.py: the first worker to run it holds it until it is killed; the next
one finishes it. Each run says in Redis which process ran it."""
import os
import time

from app.core.queue import redis_connection


def hold_until_killed(actor, key):
    connection = redis_connection()
    runs = connection.rpush(f"{key}:runs", os.getpid())
    if runs == 1:
        deadline = time.monotonic() + 120  # bounded: a worker not killed finishes it, and the test says so
        while time.monotonic() < deadline:
            time.sleep(0.2)
    connection.set(f"{key}:done", os.getpid())


def answer(value, seconds=0):
    """A job needing no application: returns `value` after `seconds`."""
    time.sleep(seconds)
    return value
