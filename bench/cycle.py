"""The daily billing cycle at scale on PostgreSQL, with 2 RQ worker processes.

1. The demo seeds, then clients in three steps of 33,334 (~50,000, ~100,000,
   ~150,000 subscriptions), through app.demo.scale.seed_clients.
2. After each step, the subscriptions are set up for a worst day, 01.01.2027
   (every live subscription active, fixed month; by id modulo 10):
   - 0, 1 (20 %): paid until 30.11.2026, overdue beyond any tolerance: suspension;
   - 2, 3 (20 %): paid until 03.01.2027, inside the warning window: a warning e-mail;
   - 4 (10 %): paid until 31.12.2026 with a 30,00 EUR advance: the advance pays January;
   - the rest: paid until 20.01.2027, nothing to do.
   The run is started (start_run, as the schedule does) and two `worker.py
   --burst` processes take its chunks and the e-mails (to an outbox folder);
   timed until the run is done, and until the last e-mail is written.
   With BENCH_CYCLE_SMTP=1 the e-mails go through a real SMTP server instead
   (aiosmtpd on localhost, in this process), timed until it has received the
   last; with BENCH_CYCLE_SMTP=both the worst day runs twice, outbox then SMTP.
3. A quiet day (everyone paid until 31.01.2027, run for 12.01.2027): the
   selection alone.

Works in its own database, billing_bench_cycle on the server of
BENCH_DATABASE_URL (recreated each run; BENCH_CYCLE_DB names another), and on
Redis BENCH_REDIS_URL. BENCH_CYCLE_STEPS="33334" measures fewer steps (clients
added per step, comma-separated). BENCH_CYCLE_KEEP=1 keeps a database seeded
before (its migrations brought up to date) and measures it as it is, seeding nothing.

Beside the wall times: the CPU seconds of the worker processes (user + system,
both together, from the kernel's accounting of this process's children) and of
this process (the selection, and aiosmtpd when it receives the mail) — the
figures a neighbour's load changes least — and of the PostgreSQL backends serving the
workers (read from /proc every 0.2 s: a lower bound; the server must be on this machine).

BENCH_CYCLE_DIGEST=1 prints, after each worst day, a digest of what it did — subscriptions' states, effects,
allocations, charges, notifications, the outbox's messages (less Date and Message-ID) and the run's LOG entries,
ids and the run's number left out — so that two runs on the same seeded database compare: the same digest, the
same results. BENCH_CYCLE_ROOT runs the application of another checkout (e.g. /work/main, from its folder:
`cd /work/main && BENCH_CYCLE_ROOT=/work/main python /work/wt-x/bench/cycle.py`), in the bench and its workers.
BENCH_CYCLE_PROFILE=<folder> runs each worker under cProfile (worker-<day>-<n>.prof there; the CPU figures then include
the profiler's cost).
"""
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

# BENCH_CYCLE_ROOT: the checkout whose application (and bench helpers) the bench and its workers run; run it
# from that folder (the migrations are read from the working directory).
sys.path.insert(0, str(Path(os.environ.get("BENCH_CYCLE_ROOT") or Path(__file__).resolve().parents[1])))

import sqlalchemy as sa  # noqa: E402

from bench.clients import DEMO_PASSWORD, run_sql  # noqa: E402
from bench.networks import SERVER_URL, build_app, fresh_database, seed_office  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORKERS_ROOT = Path(os.environ.get("BENCH_CYCLE_ROOT") or ROOT)
DIGEST = os.environ.get("BENCH_CYCLE_DIGEST") == "1"
BENCH_CYCLE_DB = os.environ.get("BENCH_CYCLE_DB", "billing_bench_cycle")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
STEPS = tuple(int(step) for step in os.environ.get("BENCH_CYCLE_STEPS", "33334,33333,33333").split(","))
KEEP = os.environ.get("BENCH_CYCLE_KEEP") == "1"
# The worst day's e-mails: to an outbox folder ("0"), through aiosmtpd ("1"), or both, one run after the other.
MAIL_MODES = {"0": (False,), "1": (True,), "both": (False, True)}[os.environ.get("BENCH_CYCLE_SMTP", "0")]
MESSAGE_ID = re.compile(rb"^Message-ID: *(\S+)", re.M | re.I)
WORKERS = 2
WORST_DAY, QUIET_DAY = date(2027, 1, 1), date(2027, 1, 12)

SETUP_WORST = """
UPDATE service SET month_type = 'fixed', warning_days = 5, tolerance_days = 3, monthly_fee = 12.90, currency = 'EUR';
UPDATE subscription SET status = 'active', status_reason = NULL,
    paid_until = CASE WHEN id % 10 IN (0, 1) THEN DATE '2026-11-30'
                      WHEN id % 10 IN (2, 3) THEN DATE '2027-01-03'
                      WHEN id % 10 = 4 THEN DATE '2026-12-31'
                      ELSE DATE '2027-01-20' END
  WHERE status IN ('active', 'suspended');
"""
ADVANCES = """
INSERT INTO payment (client_id, dealer_id, method_id, type_id, amount, currency, amount_eur, paid_at, paid_on)
SELECT DISTINCT s.client_id, c.dealer_id, (SELECT id FROM payment_method WHERE code = 'cash'),
       (SELECT id FROM payment_type WHERE code = 'deposit'), 30.00, 'EUR', 30.00, TIMESTAMP '2026-12-15 10:00',
       DATE '2026-12-15'
  FROM subscription s JOIN client c ON c.id = s.client_id
 WHERE s.id % 10 = 4 AND s.status = 'active';
INSERT INTO payment_allocation (payment_id, kind, amount_eur, paid_on, client_id)
SELECT p.id, 'advance', p.amount_eur, p.paid_on, p.client_id FROM payment p
 WHERE NOT EXISTS (SELECT 1 FROM payment_allocation a WHERE a.payment_id = p.id);
"""
RESET = """
DELETE FROM cycle_effect; DELETE FROM notification; DELETE FROM billing_run;
DELETE FROM payment_allocation; DELETE FROM payment;
"""
SETUP_QUIET = "UPDATE subscription SET status = 'active', paid_until = DATE '2027-01-31' WHERE status IN ('active', 'suspended');"


def execute(app, script):
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as connection:
            for statement in filter(str.strip, script.split(";")):
                connection.execute(sa.text(statement))


def seed_step(app, clients, first):
    from app.demo.scale import seed_clients

    with app.app_context():
        if first:
            seed_office(DEMO_PASSWORD)
        started = time.perf_counter()
        seed_clients(clients, seed=2026 + clients + int(first))
        return time.perf_counter() - started


def count(app, sql):
    from app.extensions import db

    with app.app_context():
        return db.session.scalar(sa.text(sql))


class Mailbox:
    """The SMTP server's handler: counts what it receives and when the last message came."""

    def __init__(self):
        self.received, self.last_at, self.message_ids = 0, None, set()

    async def handle_DATA(self, server, session, envelope):
        self.message_ids.add(MESSAGE_ID.search(envelope.content).group(1))
        self.received += 1
        self.last_at = time.perf_counter()
        return "250 OK"


def smtp_server():
    """aiosmtpd on a free localhost port: (controller, mailbox, port)."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox, port


def run_day(app, database_url, day, outbox, smtp=False):
    """Starts the run for `day`, lets WORKERS burst workers drain the queue; the figures."""
    from app.billing.cycle import start_run
    from app.core.transaction import unit_of_work
    from app.extensions import db

    queue = f"bench-cycle-{uuid.uuid4().hex[:8]}"
    app.config["JOB_QUEUE_NAME"] = queue
    app.extensions["billing_queue"] = None
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    log_before = count(app, "SELECT coalesce(max(id), 0) FROM log_entry")
    started, started_wall = time.perf_counter(), time.time()
    with app.app_context():
        with unit_of_work():
            run = start_run(day, "bench", allow_future=True)
            run_id, selected = run.id, run.total
        db.session.remove()
    selected_at = time.perf_counter()
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=queue,
               SECRET_KEY="bench", MAIL_OUTBOX=str(outbox), RATELIMIT_ENABLED="0")
    env.pop("MAIL_SERVER", None)
    controller = mailbox = None
    if smtp:
        controller, mailbox, port = smtp_server()
        env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port))
    profile = os.environ.get("BENCH_CYCLE_PROFILE")  # a folder: each worker under cProfile, its profile there
    workers = [subprocess.Popen([sys.executable, *(("-m", "cProfile", "-o", f"{profile}/worker-{day:%Y%m%d}-{number}.prof")
                                                   if profile else ()), "worker.py", "--burst"],
                                cwd=WORKERS_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for number in range(WORKERS)]
    run_done, backends = None, {}
    while any(worker.poll() is None for worker in workers):
        if run_done is None and count(app, f"SELECT count(*) FROM billing_run WHERE id = {run_id} "
                                           "AND status <> 'running'"):
            run_done = time.perf_counter()
        _sample_backends(app, backends)
        time.sleep(0.2)
    drained = time.perf_counter()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    if controller is not None:
        controller.stop()
    for worker in workers:
        if worker.returncode != 0:
            raise SystemExit(worker.stderr.read()[-3000:])
    run_done = run_done or drained
    with app.app_context():
        effects = dict(db.session.execute(sa.text(
            "SELECT kind, count(*) FROM cycle_effect WHERE run_id = :run GROUP BY kind"), {"run": run_id}).all())
        status = db.session.scalar(sa.text("SELECT status FROM billing_run WHERE id = :run"), {"run": run_id})
        db.session.remove()
    if mailbox is not None:
        # Distinct Message-IDs: a message sent twice would be counted once here and twice in `received`.
        mails, last_mail = f"{mailbox.received} (distinct {len(mailbox.message_ids)}) via SMTP", mailbox.last_at
    else:
        written = list(Path(outbox).glob("*.eml"))
        mails = len(written)
        # A file's st_mtime is wall-clock time: carried over to the perf_counter's scale.
        last_mail = max((path.stat().st_mtime - started_wall + started for path in written), default=None)
    digest = results_digest(app, run_id, log_before, outbox) if DIGEST else None
    return {"digest": digest, "selected": selected, "select_s": selected_at - started, "run_s": run_done - started,
            "drained_s": drained - started, "effects": effects, "status": status, "mails": mails,
            "last_mail_s": (last_mail - started) if last_mail else None,
            "workers_cpu_s": _cpu(children_after) - _cpu(children_before),
            "postgres_cpu_s": sum(backends.values()),
            "bench_cpu_s": _cpu(own_after) - _cpu(own_before)}


DIGESTED = {
    "subscriptions": "SELECT id, status, status_reason, paid_until FROM subscription ORDER BY id",
    "effects": "SELECT subscription_id, client_id, kind, period_end, detail FROM cycle_effect WHERE run_id = :run "
               "ORDER BY subscription_id, kind, period_end",
    "allocations": "SELECT p.client_id, a.kind, a.subscription_id, a.periods, a.paid_until_before, "
                   "a.paid_until_after, a.amount_eur, a.paid_on, a.client_id FROM payment_allocation a "
                   "JOIN payment p ON p.id = a.payment_id ORDER BY 1, 2, 3, 5, 7",
    "charges": "SELECT client_id, subscription_id, description, amount, billing_key FROM charge ORDER BY billing_key, "
               "client_id, description",
    "notifications": "SELECT key, client_id, recipient, subject, body, status, attempts, error FROM notification "
                     "ORDER BY key",
    "log": "SELECT replace(username, :number, '#'), user_id, entity_type, CASE WHEN entity_type = 'BillingRun' "
           "THEN '#' ELSE entity_id::text END, replace(entity_label, :number, '#'), operation, "
           "changes::text, replace(coalesce(note, ''), :number, '#') FROM log_entry WHERE id > :log "
           "ORDER BY entity_type, entity_id, operation, changes::text",
}
HEADERS_OF_THE_MOMENT = re.compile(rb"^(Date|Message-ID): .*\r?\n", re.M | re.I)


def results_digest(app, run_id, log_before, outbox):
    """A digest per kind of result of the run (see the module's docstring), and of them all."""
    import hashlib

    digests = {}
    with app.app_context():
        from app.extensions import db

        parameters = {"run": run_id, "log": log_before, "number": f"№ {run_id}"}
        for name, sql in DIGESTED.items():
            rows = db.session.execute(sa.text(sql), parameters).all()
            digests[name] = (len(rows), hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()[:12])
        keys = dict(db.session.execute(sa.text("SELECT id, key FROM notification")).all())
        db.session.remove()
    mails = hashlib.sha256()
    written = sorted((keys.get(int(path.stem), path.stem), path) for path in Path(outbox).glob("*.eml"))
    for key, path in written:
        mails.update(key.encode() + b"\0" + HEADERS_OF_THE_MOMENT.sub(b"", path.read_bytes()) + b"\0")
    digests["outbox"] = (len(written), mails.hexdigest()[:12])
    digests["all"] = hashlib.sha256(repr(sorted(digests.items())).encode()).hexdigest()[:12]
    return digests


def _cpu(usage):
    return usage.ru_utime + usage.ru_stime


TICKS = os.sysconf("SC_CLK_TCK")


def _sample_backends(app, backends):
    """The CPU seconds so far of each PostgreSQL backend on the bench's database but this process's (the
    workers'), read from /proc: the server is on this machine. Sampled every 0.2 s, so a backend's last
    0.2 s before its worker exits may be missed (a lower bound)."""
    from app.extensions import db

    with app.app_context():
        pids = db.session.scalars(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
        db.session.remove()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        backends[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def main():
    if KEEP:
        database_url = sa.engine.make_url(SERVER_URL).set(database=BENCH_CYCLE_DB) \
            .render_as_string(hide_password=False)
    else:
        database_url = fresh_database(BENCH_CYCLE_DB)
    app = build_app(database_url)
    app.config["REDIS_URL"] = REDIS_URL
    subscriptions_total = 0
    print(f"billing cycle bench on {BENCH_CYCLE_DB}, {WORKERS} workers (worker.py --burst), Redis {REDIS_URL}, "
          f"load {os.getloadavg()}")
    for step, clients in enumerate(STEPS[:1] if KEEP else STEPS):
        if KEEP:
            seconds, clients = 0, 0
        else:
            seconds = seed_step(app, clients, first=step == 0)
        run_sql(app, "VACUUM ANALYZE")
        subscriptions_total = count(app, "SELECT count(*) FROM subscription")
        live = count(app, "SELECT count(*) FROM subscription WHERE status IN ('active', 'suspended')")
        print(f"\n== {subscriptions_total} subscriptions ({live} live), seeded +{clients} clients in {seconds:.0f} s")
        for smtp in MAIL_MODES:
            execute(app, RESET)
            execute(app, SETUP_WORST)
            execute(app, ADVANCES)
            run_sql(app, "ANALYZE")
            with tempfile.TemporaryDirectory() as outbox:
                worst = run_day(app, database_url, WORST_DAY, outbox, smtp)
            total_effects = sum(worst["effects"].values())
            print(f"worst day {WORST_DAY:%d.%m.%Y}, mail {'through aiosmtpd' if smtp else 'to the outbox'} "
                  f"(load {os.getloadavg()[0]:.1f}): {worst['selected']} selected in {worst['select_s']:.2f} s; "
                  f"run done in {worst['run_s']:.1f} s ({worst['status']}), last e-mail written at "
                  f"{worst['last_mail_s'] or 0:.1f} s, workers done at {worst['drained_s']:.1f} s; CPU: workers "
                  f"{worst['workers_cpu_s']:.1f} s, their PostgreSQL backends {worst['postgres_cpu_s']:.1f} s, "
                  f"this process {worst['bench_cpu_s']:.1f} s")
            print(f"  effects {total_effects}: {worst['effects']}; {worst['mails']} e-mails; "
                  f"{1000 * worst['run_s'] / max(total_effects, 1):.2f} ms per effect (run), "
                  f"{1000 * worst['drained_s'] / max(total_effects, 1):.2f} ms per effect (with mail)")
            if worst["digest"]:
                print(f"  digest {worst['digest']}")
        execute(app, RESET)
        execute(app, SETUP_QUIET)
        run_sql(app, "ANALYZE")
        with tempfile.TemporaryDirectory() as outbox:
            quiet = run_day(app, database_url, QUIET_DAY, outbox)
        print(f"quiet day {QUIET_DAY:%d.%m.%Y}: {quiet['selected']} selected; run done in {quiet['run_s']:.2f} s, "
              f"queue drained in {quiet['drained_s']:.2f} s (includes starting {WORKERS} worker processes); CPU: "
              f"workers {quiet['workers_cpu_s']:.1f} s")


if __name__ == "__main__":
    main()
