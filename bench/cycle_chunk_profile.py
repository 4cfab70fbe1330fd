"""The worst day's chunk under cProfile: CPU seconds per 1,000 subscriptions, statements per chunk (issue 33).

Seeds BENCH_CYCLE_DB (default billing_bench_cycle_profile) once with BENCH_PROFILE_CLIENTS clients (default
33,334, ~50,000 subscriptions) when it has no subscriptions yet, sets up bench/cycle.py's worst day, selects
its candidates, then runs BENCH_PROFILE_CHUNKS chunks (default 3) of 1,000 in this process, each its own unit
of work, chunk number BENCH_PROFILE_CHUNK (default 1: the first pays for imports and caches) under cProfile
(top functions printed, unless BENCH_PROFILE_QUIET=1; the profile is left in /tmp/cycle_chunk.prof). With
BENCH_PROFILE_STATEMENTS=1, each chunk's statements by kind, with their count and time. Jobs go to a throwaway
queue on Redis BENCH_REDIS_URL (nothing runs them): the chunk's own cost, without the e-mail it queues.
"""
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.cycle import ADVANCES, RESET, SETUP_WORST, WORST_DAY, count, execute, seed_step  # noqa: E402
from bench.clients import run_sql  # noqa: E402
from bench.networks import SERVER_URL, build_app  # noqa: E402

DB = os.environ.get("BENCH_CYCLE_DB", "billing_bench_cycle_profile")
CLIENTS = int(os.environ.get("BENCH_PROFILE_CLIENTS", "33334"))
CHUNKS = int(os.environ.get("BENCH_PROFILE_CHUNKS", "3"))
PROFILED = int(os.environ.get("BENCH_PROFILE_CHUNK", "1"))  # the first pays for imports and caches
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def main():
    server = sa.engine.make_url(SERVER_URL)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DB}):
            connection.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    engine.dispose()
    url = server.set(database=DB).render_as_string(hide_password=False)
    app = build_app(url)
    if not count(app, "SELECT count(*) FROM subscription"):
        print(f"seeding {CLIENTS} clients: {seed_step(app, CLIENTS, first=True):.0f} s")
        run_sql(app, "VACUUM ANALYZE")
    execute(app, RESET)
    execute(app, SETUP_WORST)
    execute(app, ADVANCES)
    run_sql(app, "ANALYZE")
    app.config["REDIS_URL"] = REDIS_URL
    app.config["JOB_QUEUE_NAME"] = f"bench-profile-{uuid.uuid4().hex[:8]}"
    from app.billing.cycle import BillingRun, candidates, cycle_actor, run_chunk
    from app.billing.models import RUN_RUNNING
    from app.core.actors import acting_as
    from app.core.transaction import unit_of_work
    from app.extensions import db

    statements = [0]
    with app.app_context():
        kinds = {}

        def seen(_conn, _cursor, statement, _parameters, context, executemany):
            statements[0] += 1
            context._bench_key = " ".join(statement.split()[:3])[:60] + (" (many)" if executemany else "")
            context._bench_started = time.perf_counter()

        def done(_conn, _cursor, _statement, _parameters, context, _executemany):
            number, seconds = kinds.get(context._bench_key, (0, 0.0))
            kinds[context._bench_key] = (number + 1, seconds + time.perf_counter() - context._bench_started)

        sa.event.listen(db.engine, "before_cursor_execute", seen)
        sa.event.listen(db.engine, "after_cursor_execute", done)
        started = time.perf_counter()
        with unit_of_work():
            run = BillingRun(day=WORST_DAY, status=RUN_RUNNING, total=0, started_by="profile")
            db.session.add(run)
            db.session.flush()
            ids = candidates(WORST_DAY)
            run.total, run_id = len(ids), run.id
        print(f"{count(app, 'SELECT count(*) FROM subscription')} subscriptions; {len(ids)} selected in "
              f"{time.perf_counter() - started:.2f} s")
        db.session.remove()
        actor = cycle_actor(run_id)
        for number in range(CHUNKS):
            part = ids[number * 1000:(number + 1) * 1000]
            statements[0] = 0
            kinds.clear()
            profile = cProfile.Profile() if number == PROFILED else None
            wall, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            with unit_of_work():
                with acting_as(actor):
                    effects = run_chunk(actor, run_id, WORST_DAY, part)
            if profile:
                profile.disable()
            db.session.remove()
            print(f"chunk {number}{' (cProfile)' if profile else ''}: {len(part)} subscriptions, {effects} effects, "
                  f"{statements[0]} statements, {time.perf_counter() - wall:.2f} s wall, "
                  f"{time.process_time() - cpu:.2f} s CPU (load {os.getloadavg()[0]:.1f})")
            if os.environ.get("BENCH_PROFILE_STATEMENTS"):
                for key, (number, seconds) in sorted(kinds.items(), key=lambda item: -item[1][1]):
                    print(f"  {number:5d} {1000 * seconds:8.1f} ms  {key}")
            if profile and not os.environ.get("BENCH_PROFILE_QUIET"):
                profile.dump_stats("/tmp/cycle_chunk.prof")
                stats = pstats.Stats(profile).sort_stats("cumulative")
                stats.print_stats(45)
                stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
