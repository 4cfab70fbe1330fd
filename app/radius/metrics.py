"""What the RADIUS server counts for Prometheus (served on its side port, app.core.metrics.serve_side_port).

- `billing_radius_requests_total{port, nas, result}`: every packet a NAS
  sent, once: on the authentication port `accept`, `reject` or `dropped`,
  on the accounting port `acknowledged` or `dropped`, and `status` for an
  answered Status-Server on either. `nas` is the NAS's name in the NAS
  list, `unknown` for an address that is not in it (never the address: a
  flood from random sources must not grow the label set);
- `billing_radius_dropped_total{port, reason}`: why packets got no answer
  (a fixed key per reason, as app.radius.server.DROP_KEYS names them);
- `billing_radius_batch_seconds{port}`: how long a batch took from its
  first packet read to its answers (for accounting: the group commit);
- `billing_radius_cached_logins`: logins the process holds in memory (PostgreSQL's AuthCache).

A process counts its own packets; `--processes N` serves each process's
counts on its own port (RADIUS_METRICS_ADDRESS's port + 0…N-1), and
Prometheus sums them.
"""
from collections import Counter as Tally

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("billing_radius_requests", "RADIUS packets received, by port, NAS and what became of them",
                   ["port", "nas", "result"])
DROPPED = Counter("billing_radius_dropped", "RADIUS packets left unanswered, by port and reason", ["port", "reason"])
BATCH_SECONDS = Histogram("billing_radius_batch_seconds", "Time a batch took from reading to answering, by port",
                          ["port"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
CACHED_LOGINS = Gauge("billing_radius_cached_logins", "Logins held in memory by the RADIUS process (AuthCache)",
                      multiprocess_mode="livesum")

AUTH, ACCT = "auth", "acct"
UNKNOWN = "unknown"
ACCEPT, REJECT, CHALLENGE, RESPONSE = 2, 3, 11, 5  # RADIUS codes (RFC 2865, 2866)
RESULTS = {ACCEPT: "accept", REJECT: "reject", CHALLENGE: "challenge", RESPONSE: "acknowledged"}


def replied(port, replies, nas_name):
    """Counts answers sent: [(raw packet, destination)]; `nas_name(address)` names the NAS."""
    for (raw, destination), count in Tally((raw[0], destination[0]) for raw, destination in replies).items():
        REQUESTS.labels(port, nas_name(destination), RESULTS.get(raw, str(raw))).inc(count)


class Replies:
    """`replied` for the server's hot path: the labelled counters kept by (port, destination address, code), so
    that a batch's replies cost a dictionary lookup each and one increment per kind, not a label lookup (with
    its lock) each. `nas_name(address)` names the NAS; `forget()` when the NAS list changes (a name may)."""

    def __init__(self, nas_name):
        self.nas_name, self.children = nas_name, {}

    def forget(self):
        self.children = {}

    def count(self, port, replies):
        tally = {}
        for raw, destination in replies:
            key = (port, destination[0], raw[0])
            tally[key] = tally.get(key, 0) + 1
        children = self.children
        for key, number in tally.items():
            child = children.get(key)
            if child is None:
                code = key[2]
                child = children[key] = REQUESTS.labels(port, self.nas_name(key[1]), RESULTS.get(code, str(code)))
            child.inc(number)


def status_answered(port, nas_name):
    REQUESTS.labels(port, nas_name, "status").inc()


def dropped(port, nas_name, reason, count=1):
    REQUESTS.labels(port, nas_name, "dropped").inc(count)
    DROPPED.labels(port, reason).inc(count)


class CountingDrops:
    """The server's Drops (the LOG's counts) seen through one port: each drop is counted for Prometheus too."""

    def __init__(self, drops, port, nas_name, reason_key):
        self.drops, self.port, self.nas_name, self.reason_key = drops, port, nas_name, reason_key

    def count(self, reason, source, detail=""):
        self.drops.count(reason, source, detail)
        dropped(self.port, self.nas_name(source), self.reason_key(reason))
