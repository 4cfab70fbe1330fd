"""The FTP server's readiness and metrics on its side port, as a load balancer or Prometheus reads them."""
import ftplib
import os
import subprocess
import sys

from tests.ops.test_radius_metrics import free_tcp_port, get
from tests.radius.test_radius import ROOT


def test_the_ftp_server_answers_readiness_beside_ftp(app):
    ftp_port, metrics_port = free_tcp_port(), free_tcp_port()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="ftp-side-port",
               PYTHONUNBUFFERED="1", CYCLE_SCHEDULE="0", METRICS_TOKEN="ftp-scrape")
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "freeftp", "serve", "--host", "127.0.0.1",
         "--port", str(ftp_port), "--metrics", f"127.0.0.1:{metrics_port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "FTP on 127.0.0.1" in line, process.stderr.read()
        with ftplib.FTP() as ftp:
            assert ftp.connect("127.0.0.1", ftp_port, timeout=10).startswith("220")
        code, body = get(metrics_port, "/readyz")
        assert code == 200 and '"status": "ready"' in body
        assert get(metrics_port, "/healthz") == (200, '{"status": "alive"}')
        assert get(metrics_port, "/metrics")[0] == 401
        code, scraped = get(metrics_port, "/metrics", token="ftp-scrape")
        assert code == 200 and "process_cpu_seconds_total" in scraped
        assert get(metrics_port, "/anything-else")[0] == 404
    finally:
        process.terminate()
        process.wait(timeout=20)
