"""The RADIUS server's CPU per request, not its wall-clock ratio: what a shared, loaded machine can still measure.

    .venv/bin/python bench/radius_cpu.py [TREE:LABEL[:SETTING=VALUE…] ...]      (default: this tree, "here")
    e.g. freeradius:FR /work/main:main .:branch .:nocache:RADIUS_AUTH_CACHE=0

Seeds `billing_bench_radius_cpu` on the server of BENCH_DATABASE_URL (the demo catalog, ~3,000 subscriptions
user<N>/pw<N> with a RADIUS service, a NAS 127.0.0.1 with the secret testing123), then, for each TREE (a
checkout of this project, e.g. a `git worktree` of an older commit, with its .venv), starts its
`flask radius serve` (1 process, the login cache on) on that database and sends radclient loads at 32 and 200
in flight: FILES files of 2,000 PAP Access-Requests (with NAS-Port and Calling-Station-Id) and as many
Accounting-Request files (Start, then Interim-Update of the same sessions). The server process's CPU time
(utime + stime of it and its children, /proc/<pid>/stat) before and after each load gives µs per request.
The trees alternate ROUNDS times; the lowest and the median are printed with the load average. The
database's server is not counted (PostgreSQL's own CPU): accounting's figure is our process's share.

radclient's own CPU time per request (RUSAGE_CHILDREN) and the load's rate (requests per second of wall
time) are printed beside it: when radclient spends as much CPU per request as the server, the client, not
the server, sets the rate (2 cores: the two run side by side). RADIUS_AUTH_CACHE=0 measures the path without
the login cache (every login read from the database; also per target, as a SETTING); BENCH_RADIUS_CPU_REUSE=1
reuses the seeded database. The target `freeradius` is bench/radius.py's FreeRADIUS + sql (its `radius`
database, seeded by that bench, holds these users too), measured alike (its process's CPU): side by side.
"""
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATABASE = os.environ.get("BENCH_RADIUS_CPU_DB", "billing_bench_radius_cpu")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
FILES = int(os.environ.get("FILES", "4"))
PORT = int(os.environ.get("PORT", "19220"))
USERS, PER_FILE, SECRET = 3_000, 2_000, "testing123"
TICK = os.sysconf("SC_CLK_TCK")


def seed():
    from bench.clients import DEMO_PASSWORD
    from bench.networks import build_app, fresh_database, seed_office
    from bench.radius import SETUP_RADIUS_SUBSCRIPTIONS

    url = fresh_database(DATABASE)
    app = build_app(url)
    from app.demo.scale import seed_clients
    from app.extensions import db

    with app.app_context():
        seed_office(DEMO_PASSWORD)
        seed_clients(2_000, seed=2026)
        with db.engine.begin() as connection:
            for statement in filter(str.strip, SETUP_RADIUS_SUBSCRIPTIONS.split(";")):
                connection.execute(sa.text(statement))
        users = db.session.scalar(sa.text("SELECT count(*) FROM subscription WHERE username LIKE 'user%'"))
        db.engine.dispose()
    return url, users


def auth_files(folder, users):
    chosen = random.Random(7)
    files = []
    for number in range(FILES):
        path = folder / f"auth_{number}.txt"
        with path.open("w") as out:
            for _ in range(PER_FILE):
                user = chosen.randint(1, users)
                out.write(f'User-Name = "user{user}"\nUser-Password = "pw{user}"\nNAS-Port = {user}\n'
                          f'Calling-Station-Id = "AA:BB:CC:00:{user // 256:02X}:{user % 256:02X}"\n\n')
        files.append(path)
    return files


def acct_files(folder, tag, users):
    """Starts, then Interim-Updates of the same sessions (new session ids per tag: each load opens its own)."""
    chosen = random.Random(tag)
    files = []
    for number in range(FILES // 2 or 1):
        picked = [chosen.randint(1, users) for _ in range(PER_FILE)]
        for kind in ("Start", "Interim-Update"):
            path = folder / f"acct_{tag}_{number}_{kind}.txt"
            with path.open("w") as out:
                for index, user in enumerate(picked):
                    out.write(f'User-Name = "user{user}"\nAcct-Status-Type = {kind}\n'
                              f'Acct-Session-Id = "{tag}-{number}-{index:06d}"\nNAS-IP-Address = 127.0.0.1\n'
                              f'Framed-IP-Address = 10.0.{user >> 8 & 255}.{user & 255}\n'
                              f'Acct-Interim-Interval = 300\n')
                    if kind != "Start":
                        out.write(f"Acct-Input-Octets = {chosen.randint(0, 2**32 - 1)}\n"
                                  f"Acct-Output-Octets = {chosen.randint(0, 2**32 - 1)}\n"
                                  "Acct-Input-Gigawords = 1\nAcct-Output-Gigawords = 0\n")
                    out.write("\n")
            files.append(path)
    return files


def process_tree(pid):
    pids, grown = {pid}, True
    while grown:
        grown = False
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in pids:
                try:
                    parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                if parent in pids:
                    pids.add(int(entry))
                    grown = True
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def children_cpu():
    """CPU seconds of the children waited for so far (radclient's, as each file ends)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def radclient(path, port, kind, in_flight):
    """radclient's CPU seconds and wall seconds for one file."""
    started = time.monotonic()
    process = subprocess.Popen(["radclient", "-q", "-s", "-r", "3", "-t", "3", "-p", str(in_flight), "-f",
                                str(path), f"127.0.0.1:{port}", kind, SECRET],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"radclient failed on {path}: {stdout[-500:]}{stderr[-500:]}")
    return time.monotonic() - started


def start_ours(tree, label, url, settings):
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", PYTHONUNBUFFERED="1", CYCLE_SCHEDULE="0",
               RADIUS_AUTH_CACHE=os.environ.get("RADIUS_AUTH_CACHE", "1"), RADIUS_LEAN="1",
               RADIUS_METRICS_ADDRESS=f"127.0.0.1:{PORT + 1000}")
    env.update(settings)
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [f"{tree}/.venv/bin/python", "-m", "flask", "--app", "app", "radius", "serve", "--host", "127.0.0.1",
         "--auth-port", str(PORT), "--acct-port", str(PORT + 1), "--processes", "1"],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    if "RADIUS on" not in server.stdout.readline():
        raise SystemExit(f"{label}: the server did not start: {server.stderr.read()[-2000:]}")
    return server, PORT, PORT + 1


def start_freeradius(folder):
    """bench/radius.py's FreeRADIUS + sql (its database `radius` seeded by that bench: users user1…user100000)."""
    from bench.radius import start_freeradius as start

    (folder / "freeradius").mkdir(exist_ok=True)
    server = start(folder / "freeradius")
    return server, 18120, 18130


def measure(tree, label, url, users, folder, round_number, logins, settings):
    if tree == "freeradius":
        server, auth_port, acct_port = start_freeradius(folder)
    else:
        # Each target's accounting opens 4,000+ sessions: emptied first, so that none pays for the ones before
        # (a session opened or ended makes the login cache re-read that subscription's open sessions).
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM radius_session"))
        engine.dispose()
        server, auth_port, acct_port = start_ours(tree, label, url, settings)
    results = {}
    try:
        time.sleep(1)
        pids = process_tree(server.pid)
        radclient(logins[0], auth_port, "auth", 32)  # warm: every user's Accept encoded once, as in a long run
        for in_flight in (32, 200):
            for kind, port, files in (("auth", auth_port, logins),
                                      ("acct", acct_port, acct_files(folder, f"{label}{round_number}p{in_flight}",
                                                                    users))):
                before, client_before = cpu_seconds(pids), children_cpu()
                wall = 0
                for path in files:
                    wall += radclient(path, port, kind, in_flight)
                count = PER_FILE * len(files)
                results[(kind, in_flight)] = ((cpu_seconds(pids) - before) / count * 1e6,
                                              (children_cpu() - client_before) / count * 1e6, count / wall)
    finally:
        if tree == "freeradius":
            server.terminate()
        else:
            os.killpg(server.pid, 15)
        server.wait(timeout=30)
    return results


def main():
    trees = [argument.split(":") for argument in sys.argv[1:]] or [(str(ROOT), "here")]
    if os.environ.get("BENCH_RADIUS_CPU_REUSE") == "1":
        from bench.networks import SERVER_URL
        url, users = str(sa.engine.make_url(SERVER_URL).set(database=DATABASE)), USERS
    else:
        url, users = seed()
    folder = Path(os.environ.get("BENCH_RADIUS_CPU_FOLDER", "/tmp/bench_radius_cpu"))
    folder.mkdir(parents=True, exist_ok=True)
    logins = auth_files(folder, users)
    found = {}
    for round_number in range(ROUNDS):
        for tree, label, *settings in trees:
            settings = dict(setting.split("=", 1) for setting in settings)
            for key, value in measure(tree, label, url, users, folder, round_number, logins, settings).items():
                found.setdefault((label, *key), []).append(value)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"CPU µs per request of the server process, of radclient, and the rate ({users} users, {ROUNDS} rounds, "
          f"load average {load}):")
    for (label, kind, in_flight), values in sorted(found.items(), key=lambda item: (item[0][1], item[0][2])):
        server, client, rate = zip(*values)
        print(f"  {kind:4} {in_flight:3} in flight  {label:10} server lowest {min(server):6.1f} "
              f"median {statistics.median(server):6.1f}  radclient median {statistics.median(client):6.1f}  "
              f"rate median {statistics.median(rate):8.0f}/s")


if __name__ == "__main__":
    main()
