"""The RADIUS server at scale, side by side with FreeRADIUS + its SQL module on PostgreSQL, in the same run.

1. Our database (billing_bench_radius): the demo seeds and ~100,000 subscriptions (app.demo.scale), of which
   100,000 get a RADIUS service, the username user<N> and the password pw<N>; a NAS 127.0.0.1 with the
   yardstick's secret (testing123) and no Message-Authenticator required (the yardstick's radclient loads
   carry none). FreeRADIUS's database (radius, role radius/radpass) with the same 100,000 users, built as
   ../shared/yardsticks/freeradius/setup_db.sh does.
2. FreeRADIUS 3.2 (Debian freeradius, freeradius-postgresql) configured by the yardstick's configure_fr.sh
   (sql module on PostgreSQL, auth 18120, accounting 18130); ours `flask radius serve` with 1 process reading
   the database per batch (RADIUS_AUTH_CACHE=0, 18220/18230), with 1 process answering from its cache
   (18320/18330), the same with pyrad reading every Access- and Accounting-Request (RADIUS_LEAN=0,
   18420/18430: what the lean path of app/radius/lean.py gains), and with 2 processes sharing the ports (SO_REUSEPORT, 18520/18530).
3. Loads (the yardstick's gen_loads.py and split_loads.py, run in a scratch folder): 20,000 Access-Requests
   for random users, 10,000 Accounting Start + 10,000 Interim-Update, in files of 2,000 packets; and 20,000
   MS-CHAPv2 Access-Requests for random users, precomputed here (MS-CHAP-Challenge and MS-CHAP2-Response as
   a NAS relays them), answered by FreeRADIUS's rlm_mschap (enabled in the yardstick's configuration, which
   leaves it out) and by ours, both with MS-CHAP2-Success and the MPPE keys.
4. radclient -q -s -r 3 -t 3 -p P -f <file> for P = 32 and 200: packets per second over the files (wall
   time), the replies the kernel dropped at radclient's socket meanwhile (Udp RcvbufErrors of /proc/net/snmp:
   each costs its request a retransmit after 3 s, which radclient's summary does not show), and the p99
   latency from a pyrad probe sending PROBES (300) Access-Requests one at a time while the PAP/CHAP load
   runs. Targets and servers alternate, ROUNDS (3) rounds; the medians are printed. A radclient that fails
   (exits non-zero, or reports fewer answers than the file's requests, or a reject: every request is for a
   known user with the right password) ends the bench with what it said: no figure is printed from it.
   radclient runs with a receive buffer of 4 MB (bench/radclient_rcvbuf.c, preloaded; every target alike):
   with Linux's default 208 KB, 200 MS-CHAPv2 Accepts in flight do not fit (~1,280 bytes each on loopback),
   and a server answering faster than radclient reads lost 34 replies a file to the kernel, each a 3 s
   retransmit: FreeRADIUS, slower than radclient, never filled it; ours fell to ~500/s (RADCLIENT_RCVBUF=0
   measures with the default buffer).
5. Our servers' own counts (each process's metrics side port, RADIUS_METRICS_ADDRESS = the auth port + 1000, +i
   for process i), scraped before and after each radclient file, are held to radclient's (ScrapedCounts): the
   accepts and rejects (accounting: acknowledged) the server counted are the ones radclient and the probe got
   — more only by a retransmit whose first reply the kernel dropped at the client; any other difference ends
   the bench.

6. BENCH_RADIUS_NEIGHBOUR=N: N neighbour processes load the machine for the whole measurement, each a busy
   Python loop at normal priority (`while True: pass`: one core's worth each, of this machine's 2) — the
   "second bench process" beside which accounting must hold; both servers share the machine with them alike.
   BENCH_RADIUS_TARGETS=freeradius,ours,… measures only those targets (keys: freeradius, nocache, pyrad, ours,
   ours2) and BENCH_RADIUS_ROUNDS the rounds (3).

Needs root (apt packages, FreeRADIUS as its own user) and the yardstick folder; takes about 10 minutes.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.clients import DEMO_PASSWORD, run_sql  # noqa: E402
from bench.networks import SERVER_URL, build_app, fresh_database, seed_office  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
YARDSTICK = ROOT.parent / "shared" / "yardsticks" / "freeradius"
BENCH_DB = os.environ.get("BENCH_RADIUS_DB", "billing_bench_radius")
REUSE = os.environ.get("BENCH_RADIUS_REUSE") == "1"  # the seeded databases of an earlier run (reuse_seeded)
SECRET = "testing123"
USERS = 100_000
ROUNDS = int(os.environ.get("BENCH_RADIUS_ROUNDS", "3"))
NEIGHBOURS = int(os.environ.get("BENCH_RADIUS_NEIGHBOUR", "0"))
TARGETS = os.environ.get("BENCH_RADIUS_TARGETS")
IN_FLIGHT = (32, 200)
PROBES = 300

MSCHAP_LOGINS = 20_000
# radclient's socket receive buffer (bytes; bench/radclient_rcvbuf.c), "0": Linux's default.
RADCLIENT_RCVBUF = os.environ.get("RADCLIENT_RCVBUF", "4194304")
_radclient_env = None
CHUNK = 2_000

SETUP_RADIUS_SUBSCRIPTIONS = f"""
-- simultaneous_use 0 (any number): the yardstick's FreeRADIUS checks no Simultaneous-Use, and the accounting
-- load opens sessions for random users, whose next login one session per user would reject.
UPDATE service SET username_type = 'radius', download_kbps = COALESCE(download_kbps, 50000),
       upload_kbps = COALESCE(upload_kbps, 10000), simultaneous_use = 0;
WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM subscription)
UPDATE subscription s SET username = 'user' || numbered.n, password = 'pw' || numbered.n, status = 'active',
       status_reason = NULL
  FROM numbered WHERE numbered.id = s.id AND numbered.n <= {USERS};
UPDATE subscription SET username = NULL WHERE username NOT LIKE 'user%';
INSERT INTO nas (name, ip_address, secret, vendor, coa_port, require_message_authenticator)
  VALUES ('bench', '127.0.0.1', '{SECRET}', 'mikrotik', 3799, false);
"""
FREERADIUS_DB = """
DROP DATABASE IF EXISTS radius;
DROP ROLE IF EXISTS radius;
CREATE ROLE radius LOGIN PASSWORD 'radpass';
CREATE DATABASE radius OWNER radius;
"""
FREERADIUS_USERS = f"""
INSERT INTO radcheck (username, attribute, op, value)
  SELECT 'user' || g, 'Cleartext-Password', ':=', 'pw' || g FROM generate_series(1, {USERS}) g;
INSERT INTO radreply (username, attribute, op, value)
  SELECT 'user' || g, 'Framed-IP-Address', ':=',
         '10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255)
  FROM generate_series(1, {USERS}) g;
ANALYZE radcheck; ANALYZE radreply;
"""


def psql(database, script, user="postgres", password=None):
    server = sa.engine.make_url(SERVER_URL)
    env = dict(os.environ, PGPASSWORD=password or "")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.host or "127.0.0.1", "-p",
                    str(server.port or 5432), "-U", user, database], input=script, text=True, check=True, env=env,
                   stdout=subprocess.DEVNULL)


def seed_ours():
    database_url = fresh_database(BENCH_DB)
    app = build_app(database_url)
    from app.demo.scale import seed_clients
    from app.extensions import db

    with app.app_context():
        seed_office(DEMO_PASSWORD)
        started = time.perf_counter()
        seed_clients(67_000, seed=2026)
        seconds = time.perf_counter() - started
        with db.engine.begin() as connection:
            for statement in filter(str.strip, SETUP_RADIUS_SUBSCRIPTIONS.split(";")):
                connection.execute(sa.text(statement))
        users = db.session.scalar(sa.text("SELECT count(*) FROM subscription WHERE username LIKE 'user%'"))
    run_sql(app, "VACUUM ANALYZE")
    print(f"ours: {users} RADIUS subscriptions (clients seeded in {seconds:.0f} s)")
    return database_url


def reuse_seeded():
    """BENCH_RADIUS_REUSE=1: the databases a previous run seeded (BENCH_RADIUS_DB, `radius`), their sessions and
    radacct emptied, so the run starts as a fresh one would (the seeding takes 5–10 minutes); None when
    they are not there."""
    server = sa.engine.make_url(SERVER_URL)
    engine = sa.create_engine(server.set(database=BENCH_DB))
    try:
        with engine.begin() as connection:
            users = connection.scalar(sa.text("SELECT count(*) FROM subscription WHERE username LIKE 'user%'"))
            connection.execute(sa.text("DELETE FROM radius_session"))
        psql("radius", "TRUNCATE radacct; TRUNCATE radpostauth;", user="radius", password="radpass")
    except (sa.exc.DBAPIError, subprocess.CalledProcessError):
        return None
    finally:
        engine.dispose()
    if users != USERS:
        return None
    print(f"ours: {users} RADIUS subscriptions (reused: BENCH_RADIUS_REUSE)")
    return server.set(database=BENCH_DB).render_as_string(hide_password=False)


def seed_freeradius():
    psql("postgres", FREERADIUS_DB)
    schema = Path("/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql").read_text()
    psql("radius", schema, user="radius", password="radpass")
    psql("radius", FREERADIUS_USERS, user="radius", password="radpass")


def start_freeradius(scratch):
    env = dict(os.environ, ANCHOR_DIR=str(scratch))
    subprocess.run(["bash", str(YARDSTICK / "configure_fr.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    enable_mschap(scratch / "raddb")
    process = subprocess.Popen(["freeradius", "-f", "-d", str(scratch / "raddb")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    if process.poll() is not None:
        raise SystemExit("FreeRADIUS did not start: " + process.stderr.read()[-2000:])
    return process


def enable_mschap(raddb):
    """The yardstick's site answers PAP only: rlm_mschap back in (its packaged settings: MPPE keys on), as
    FreeRADIUS's default site has it."""
    (raddb / "mods-enabled" / "mschap").unlink(missing_ok=True)
    (raddb / "mods-enabled" / "mschap").symlink_to("../mods-available/mschap")
    site = raddb / "sites-available" / "bench"
    text = site.read_text()
    text = text.replace("\tsql\n\tpap\n", "\tsql\n\tmschap\n\tpap\n", 1)
    text = text.replace("\tAuth-Type PAP {\n\t\tpap\n\t}\n",
                        "\tAuth-Type PAP {\n\t\tpap\n\t}\n\tAuth-Type MS-CHAP {\n\t\tmschap\n\t}\n", 1)
    if "mschap" not in text.split("authenticate", 1)[1]:
        raise SystemExit("the yardstick's site changed: MS-CHAP could not be enabled in FreeRADIUS")
    site.write_text(text)


def make_mschap_loads(scratch):
    """MS-CHAPv2 Access-Requests for random users, in files of CHUNK, computed once (radclient only sends)."""
    import random

    from app.radius import mschap

    rng = random.Random(2759)
    folder = scratch / "loads" / "mschap"
    folder.mkdir(parents=True, exist_ok=True)
    packets = []
    for _number in range(MSCHAP_LOGINS):
        user = rng.randint(1, USERS)
        challenge, peer = rng.randbytes(16), rng.randbytes(16)
        response = mschap.PasswordKeys(f"pw{user}").challenge_response(
            mschap.challenge_hash(peer, challenge, f"user{user}".encode()))
        packets.append(f'User-Name = "user{user}"\nMS-CHAP-Challenge = 0x{challenge.hex()}\n'
                       f"MS-CHAP2-Response = 0x{(bytes((1, 0)) + peer + bytes(8) + response).hex()}\n")
    files = []
    for start in range(0, len(packets), CHUNK):
        path = folder / f"mschap_{start // CHUNK:03d}.txt"
        path.write_text("\n".join(packets[start:start + CHUNK]) + "\n")
        files.append(path)
    return files


def start_ours(database_url, auth_port, acct_port, processes, cache, lean=True):
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="bench", PYTHONUNBUFFERED="1",
               CYCLE_SCHEDULE="0", RADIUS_AUTH_CACHE="1" if cache else "0", RADIUS_LEAN="1" if lean else "0",
               RADIUS_METRICS_ADDRESS=f"127.0.0.1:{metrics_port(auth_port)}")
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "radius", "serve", "--host", "127.0.0.1", "--auth-port",
         str(auth_port), "--acct-port", str(acct_port), "--processes", str(processes)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = process.stdout.readline()
    if "RADIUS on" not in line:
        raise SystemExit("our server did not start: " + process.stderr.read()[-2000:])
    answers(auth_port)
    return process


def answers(port, seconds=30):
    """Waits until the server on `port` accepts user1 (every process of it started and loaded)."""
    from pyrad import packet as radius_packet
    from pyrad.client import Client, Timeout

    from app.radius import load_dictionary

    client = Client(server="127.0.0.1", authport=port, secret=SECRET.encode(), dict=load_dictionary())
    client.timeout, client.retries = 1, 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request = client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name="user1")
        request["User-Password"] = request.PwCrypt("pw1")
        try:
            if client.SendPacket(request).code == radius_packet.AccessAccept:
                return
        except Timeout:
            continue
    raise SystemExit(f"the server on {port} does not accept user1")


def make_loads(scratch):
    for script in ("gen_loads.py", "split_loads.py"):
        shutil.copy(YARDSTICK / script, scratch / script)
    subprocess.run([sys.executable, str(scratch / "gen_loads.py"), "bench"], check=True)
    subprocess.run([sys.executable, str(scratch / "split_loads.py"), "2000", "auth_bench", "acct_bench"], check=True)
    chunks = scratch / "loads" / "chunks2000"
    return sorted(chunks.glob("auth_bench_*.txt")), sorted(chunks.glob("acct_bench_*.txt"))


class RadclientFailed(SystemExit):
    pass


def metrics_port(auth_port):
    """The side port (/metrics) of our server on `auth_port`: process i of it serves on this + i."""
    return auth_port + 1000


class CountsDiffer(SystemExit):
    pass


class ScrapedCounts:
    """What our server counted (billing_radius_requests_total, summed over its processes' side ports and every
    NAS), scraped before and after each radclient file, held to what radclient's summary and the latency probe
    got in between.

    The server counts every packet it answered, radclient each request once: a request retransmitted after its
    reply was lost (the kernel dropped it at the client: Udp RcvbufErrors) is counted twice by the server, once
    by radclient; so is a probe's request answered after the probe gave up. Those (counted, not told apart)
    are the only excess allowed; fewer counts, or more than that, end the bench (CountsDiffer). The probe is
    held between two of its requests while a scrape runs, so its counts are exact (its latencies untouched).
    """

    def __init__(self, name, auth_port, processes):
        self.name = name
        self.ports = [metrics_port(auth_port) + number for number in range(processes)]
        self.turn = threading.Condition()
        self.scraping = self.probing = False
        self.probe = Counter()  # the probe's answers by result, and its timeouts

    def probe_turn(self):
        """The probe, before each request: waits while a scrape runs."""
        with self.turn:
            while self.scraping:
                self.turn.wait()
            self.probing = True

    def probe_done(self, code):
        """The probe, after each request: its answer's code, or None when it timed out."""
        with self.turn:
            self.probe[{2: "accept", 3: "reject", None: "timeout"}.get(code, str(code))] += 1
            self.probing = False
            self.turn.notify_all()

    def snapshot(self):
        """(server counts by (port, result), the probe's counts, client socket drops), the probe held meanwhile."""
        with self.turn:
            self.scraping = True
            while self.probing:
                self.turn.wait()
        try:
            return self._scrape(), Counter(self.probe), client_drops()
        finally:
            with self.turn:
                self.scraping = False
                self.turn.notify_all()

    def _scrape(self):
        from prometheus_client.parser import text_string_to_metric_families

        counts = Counter()
        for port in self.ports:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
            if os.environ.get("METRICS_TOKEN"):
                request.add_header("Authorization", f"Bearer {os.environ['METRICS_TOKEN']}")
            with urllib.request.urlopen(request, timeout=10) as answer:
                text = answer.read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "billing_radius_requests_total":
                        counts[sample.labels["port"], sample.labels["result"]] += sample.value
        return counts

    def check(self, before, path, kind, summary):
        """Fails the bench unless the server's counts over one radclient file are what the client side got."""
        (server_before, probe_before, drops_before), (server_after, probe_after, drops_after) = before, self.snapshot()
        probe = probe_after - probe_before
        slack = (drops_after - drops_before) + probe["timeout"]
        if kind == "acct":
            expected = {("acct", "acknowledged"): summary.get("Accepted", 0)}
        else:
            expected = {("auth", "accept"): summary.get("Accepted", 0) + probe["accept"],
                        ("auth", "reject"): summary.get("Rejected", 0) + probe["reject"]}
        for key, want in expected.items():
            counted = server_after[key] - server_before[key]
            if not want <= counted <= want + slack:
                raise CountsDiffer(
                    f"{self.name}: the server's metrics (ports {self.ports}) counted {counted:.0f} {key[0]} "
                    f"{key[1]} over {path.name}, the client side got {want} (radclient {summary}, probe "
                    f"{dict(probe)}; {slack} retransmits at most)")


def radclient(files, port, kind, in_flight, counts=None):
    """(packets per second over the files, replies dropped at the client's socket); raises RadclientFailed when
    radclient fails or a request of the files was not accepted (answered, for accounting); with `counts`
    (ScrapedCounts: our servers), CountsDiffer when the server's metrics differ from radclient's counts."""
    sent = 0
    dropped_before = client_drops()
    started = time.perf_counter()
    for path in files:
        scraped = counts.snapshot() if counts else None
        result = subprocess.run(["radclient", "-q", "-s", "-r", "3", "-t", "3", "-p", str(in_flight), "-f", str(path),
                                 f"127.0.0.1:{port}", kind, SECRET], capture_output=True, text=True,
                                env=radclient_env())
        packets = open(path).read().strip().count("\n\n") + 1
        summary = _summary(result.stdout + result.stderr)
        answered = summary.get("Accepted", 0) + summary.get("Rejected", 0)
        if result.returncode != 0 or answered < packets or summary.get("Rejected", 0) or summary.get("Lost", 0):
            raise RadclientFailed(
                f"radclient failed on {path.name} ({kind}, port {port}, {in_flight} in flight): exit "
                f"{result.returncode}, {answered} answers to {packets} requests, summary {summary}\n"
                f"{(result.stdout + result.stderr)[-1500:]}")
        if counts:
            counts.check(scraped, path, kind, summary)
        sent += packets
    return sent / (time.perf_counter() - started), client_drops() - dropped_before


def radclient_env():
    """radclient's environment: bench/radclient_rcvbuf.c built and preloaded (its receive buffer
    RADCLIENT_RCVBUF), unless RADCLIENT_RCVBUF is 0."""
    global _radclient_env
    if _radclient_env is None:
        _radclient_env = dict(os.environ)
        if RADCLIENT_RCVBUF != "0":
            library = Path(tempfile.mkdtemp(prefix="bench-rcvbuf-")) / "radclient_rcvbuf.so"
            subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library),
                            str(ROOT / "bench" / "radclient_rcvbuf.c"), "-ldl"], check=True)
            _radclient_env.update(LD_PRELOAD=str(library), RCVBUF=RADCLIENT_RCVBUF)
    return _radclient_env


def _summary(output):
    """radclient -s's "Packet summary" counts: {"Accepted": n, "Rejected": n, "Lost": n, …}."""
    counts = {}
    for line in output.splitlines():
        name, colon, value = line.partition(":")
        if colon and value.strip().isdigit():
            counts[name.strip()] = int(value.strip())
    return counts


def client_drops():
    """Datagrams the kernel dropped for a full socket receive buffer, all sockets (Linux: Udp RcvbufErrors)."""
    try:
        lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
        return int(lines[1][lines[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return 0


def probe_latencies(port, stop, counts=None):
    """One Access-Request at a time while the load runs: the latencies (ms); its answers told to `counts`."""
    from pyrad import packet as radius_packet
    from pyrad.client import Client, Timeout

    from app.radius import load_dictionary

    client = Client(server="127.0.0.1", authport=port, secret=SECRET.encode(), dict=load_dictionary())
    client.timeout, client.retries = 3, 1
    latencies = []
    number = 0
    while not stop.is_set() and number < PROBES:
        number += 1
        user = 1 + (number * 7919) % USERS
        request = client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=f"user{user}")
        request["User-Password"] = request.PwCrypt(f"pw{user}")
        if counts:
            counts.probe_turn()
        started = time.perf_counter()
        try:
            reply = client.SendPacket(request)
        except Timeout:
            if counts:
                counts.probe_done(None)
            latencies.append(6000.0)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        if counts:
            counts.probe_done(reply.code)
    return latencies


def measure(name, auth_port, acct_port, auth_files, acct_files, mschap_files, in_flight, processes=None):
    """One target's figures; `processes` (ours: how many) has its metrics held to radclient's counts."""
    counts = ScrapedCounts(name, auth_port, processes) if processes else None
    stop = threading.Event()
    latencies = []
    probe = threading.Thread(target=lambda: latencies.extend(probe_latencies(auth_port, stop, counts)))
    probe.start()
    try:
        auth_rate, auth_lost = radclient(auth_files, auth_port, "auth", in_flight, counts)
    finally:
        stop.set()
        probe.join()
    acct_rate, acct_lost = radclient(acct_files, acct_port, "acct", in_flight, counts)
    mschap_rate, mschap_lost = radclient(mschap_files, auth_port, "auth", in_flight, counts)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies or [0])
    return {"name": name, "p": in_flight, "auth": auth_rate, "auth_lost": auth_lost, "acct": acct_rate,
            "acct_lost": acct_lost, "mschap": mschap_rate, "mschap_lost": mschap_lost, "p99_ms": p99}


def main():
    for tool in ("radclient", "freeradius", "psql", "cc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install freeradius freeradius-postgresql freeradius-utils "
                             "postgresql-client")
    print(f"load average at the start: {' / '.join(f'{load:.1f}' for load in os.getloadavg())}", flush=True)
    database_url = reuse_seeded() if REUSE else None
    if database_url is None:
        database_url = seed_ours()
        seed_freeradius()
    scratch = Path(tempfile.mkdtemp(prefix="bench-radius-"))
    os.chmod(scratch, 0o755)
    auth_files, acct_files = make_loads(scratch)
    mschap_files = make_mschap_loads(scratch)
    # key: (name, auth port, accounting port, processes, auth cache, lean Access-Request path)
    every_target = {"freeradius": ("FreeRADIUS + sql", 18120, 18130, None, None, None),
                    "nocache": ("ours, 1 process, no cache", 18220, 18230, 1, False, True),
                    "pyrad": ("ours, 1 process, pyrad only", 18420, 18430, 1, True, False),
                    "ours": ("ours, 1 process", 18320, 18330, 1, True, True),
                    "ours2": ("ours, 2 processes", 18520, 18530, 2, True, True)}
    # FreeRADIUS first, always: the ratios are to it.
    chosen = ["freeradius"] + [key for key in (TARGETS.split(",") if TARGETS else every_target)
                               if key != "freeradius"]
    targets = [every_target[key] for key in chosen]
    results = []
    freeradius = start_freeradius(scratch)
    answers(18120)
    ours = [start_ours(database_url, auth, acct, processes, cache, lean)
            for _name, auth, acct, processes, cache, lean in targets if processes]
    neighbours = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(NEIGHBOURS)]
    if neighbours:
        print(f"{NEIGHBOURS} neighbour process(es) loading the machine: a busy Python loop each", flush=True)
    try:
        for round_number in range(ROUNDS):
            for in_flight in IN_FLIGHT:
                for name, auth, acct, processes, *_settings in targets:
                    result = measure(name, auth, acct, auth_files, acct_files, mschap_files, in_flight, processes)
                    result["round"] = round_number
                    results.append(result)
                    print(f"round {round_number + 1}, {in_flight} in flight, {name}: auth {result['auth']:.0f}/s "
                          f"(replies dropped at the client {result['auth_lost']}), acct {result['acct']:.0f}/s "
                          f"(dropped {result['acct_lost']}), MS-CHAPv2 {result['mschap']:.0f}/s "
                          f"(dropped {result['mschap_lost']}), "
                          f"auth p99 {result['p99_ms']:.1f} ms", flush=True)
    finally:
        for neighbour in neighbours:
            neighbour.kill()
        freeradius.terminate()
        for process in ours:
            os.killpg(process.pid, 15)
    print(f"\nload average at the end: {' / '.join(f'{load:.1f}' for load in os.getloadavg())}")
    print("medians of", ROUNDS, "rounds:")
    for in_flight in IN_FLIGHT:
        base = {}
        for name, *_rest in targets:
            rows = [r for r in results if r["name"] == name and r["p"] == in_flight]
            auth = statistics.median(r["auth"] for r in rows)
            acct = statistics.median(r["acct"] for r in rows)
            ms = statistics.median(r["mschap"] for r in rows)
            p99 = statistics.median(r["p99_ms"] for r in rows)
            lost = sum(r["auth_lost"] + r["acct_lost"] + r["mschap_lost"] for r in rows)
            base.setdefault("auth", auth)
            base.setdefault("acct", acct)
            base.setdefault("mschap", ms)
            print(f"  {in_flight:>3} in flight  {name:<28} auth {auth:7.0f}/s ({auth / base['auth']:.2f}×)  "
                  f"acct {acct:7.0f}/s ({acct / base['acct']:.2f}×)  MS-CHAPv2 {ms:7.0f}/s "
                  f"({ms / base['mschap']:.2f}×)  auth p99 {p99:6.1f} ms  replies dropped at the client {lost}")


if __name__ == "__main__":
    main()
