"""What the FTP server counts for Prometheus (served on its side port, FREEFTP_METRICS_ADDRESS).

- `billing_ftp_sessions`: the logged-in sessions this process holds now;
- `billing_ftp_logins_total{outcome}`: logins `accepted`, `refused` (unknown name or wrong password) and
  `limited` (the account's sessions at once all taken, on any FTP process).

Each process counts its own; Prometheus sums the FTP processes.
"""
from prometheus_client import Counter, Gauge

SESSIONS = Gauge("billing_ftp_sessions", "Logged-in FTP sessions of this process", multiprocess_mode="livesum")
LOGINS = Counter("billing_ftp_logins", "FTP logins by outcome", ["outcome"])
ACCEPTED, REFUSED, LIMITED = "accepted", "refused", "limited"
