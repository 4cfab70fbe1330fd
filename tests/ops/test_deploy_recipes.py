"""The deployment recipes of docs/deploy/ agree with each other, and the nginx site works.

Docker does not run here: compose.yaml is read as data and held to the systemd units — every process a unit
runs is a compose service with the same command, the same environment file and the unit's own variables,
and the same working directory (the image's). nginx does run when it is installed (Debian's nginx-light, .ci/run):
the site, templated into a temporary folder with a certificate made here, in front of a gunicorn panel."""
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

import flask_appbuilder

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
PROCESSES = ("panel", "worker", "cron", "radius", "ftp")


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def unit(path):
    """A systemd unit's [Service]: every ExecStart (in order), EnvironmentFile, Environment, WorkingDirectory."""
    lines = {}
    for raw in path.read_text().splitlines():
        if "=" in raw and not raw.lstrip().startswith(("#", "[")):
            key, value = raw.split("=", 1)
            lines.setdefault(key.strip(), []).append(value.strip())
    environment = dict(each.split("=", 1) for each in lines.get("Environment", []))
    return {"commands": [shlex.split(each) for each in lines["ExecStart"]],
            "environment_file": lines["EnvironmentFile"][0], "environment": environment,
            "working_directory": lines["WorkingDirectory"][0]}


def commands_of(service):
    """The commands a compose service runs: its command, or each of an `sh -c "a && b"`."""
    command = service.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split(" && ")]
    return [command]


def env_files(service):
    files = service.get("env_file")
    return [files] if isinstance(files, str) else list(files or [])


def test_every_process_of_the_systemd_units_is_a_compose_service_alike():
    services = compose()["services"]
    assert {"postgres", "redis", "nginx"} <= set(services)
    workdir = [line.split()[1] for line in (DEPLOY / "Dockerfile").read_text().splitlines()
               if line.startswith("WORKDIR ")]
    matched = set()
    assert len(UNITS) == 6, [path.name for path in UNITS]
    for path in UNITS:
        described = unit(path)
        same = [name for name, service in services.items()
                if "command" in service and commands_of(service) == described["commands"]]
        assert len(same) == 1, f"{path.name}: no compose service runs {described['commands']}"
        service = services[same[0]]
        matched.add(same[0])
        # The same file: systemd's /etc/billing/billing.env is compose's billing.env, from billing.env.example.
        assert [Path(each).name for each in env_files(service)] == [Path(described["environment_file"]).name]
        for name, value in described["environment"].items():
            assert str((service.get("environment") or {}).get(name)) == value, f"{same[0]}: {name}"
        assert workdir == [described["working_directory"]], path.name
    assert set(PROCESSES) | {"upgrade"} == matched
    assert services["worker"]["deploy"]["replicas"] >= 2
    # Every billing process waits for the upgrade (`flask db upgrade` before the new code serves).
    for name in PROCESSES:
        assert services[name]["depends_on"]["upgrade"]["condition"] == "service_completed_successfully"
    assert (DEPLOY / "billing.env.example").is_file()


def test_the_compose_health_checks_ask_healthz_and_readyz():
    services = compose()["services"]
    probe = {name: " ".join(services[name]["healthcheck"]["test"]) for name in ("panel", "radius", "ftp", "nginx")}
    assert "127.0.0.1:8000/readyz" in probe["panel"]
    assert "127.0.0.1:9812/readyz" in probe["radius"] and "127.0.0.1:9821/readyz" in probe["ftp"]
    assert probe["nginx"].endswith("/healthz")
    assert services["nginx"]["depends_on"]["panel"]["condition"] == "service_healthy"
    # nginx's site is the one in the repository, and the panel's port is published nowhere but to nginx.
    assert "./nginx/billing.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    assert "ports" not in services["panel"]


def test_the_site_keeps_metrics_in_and_passes_the_request_id():
    site = (DEPLOY / "nginx" / "billing.conf").read_text()
    proxy = (DEPLOY / "nginx" / "proxy.conf").read_text()
    assert "location = /metrics {\n        return 404;" in site
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-ID $request_id"):
        assert f"proxy_set_header {header}" in proxy
    assert "TRUSTED_PROXIES=1" in site
    assert "TRUSTED_PROXIES=1" in (DEPLOY / "billing.env.example").read_text()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.once
def test_nginx_serves_the_panel_over_https_and_the_static_files_itself(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx (nginx-light) is required in CI")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    certs, conf, public = tmp_path / "certs", tmp_path / "conf", tmp_path / "public" / "static"
    certs.mkdir()
    conf.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=billing.example.bg", "-addext", "subjectAltName=DNS:billing.example.bg,IP:127.0.0.1",
                    "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
                   check=True, capture_output=True)
    # The static files gathered as README "Production" says: the application's and Flask-AppBuilder's.
    shutil.copytree(ROOT / "app" / "static", public)
    shutil.copytree(Path(flask_appbuilder.__file__).parent / "static" / "appbuilder", public / "appbuilder")

    panel_port, https_port, http_port, internal_port = (free_port() for _ in range(4))
    site = (DEPLOY / "nginx" / "billing.conf").read_text()
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)  # IPv6 may be off here
    site = (site.replace("/etc/nginx/billing/", f"{conf}/").replace("/opt/billing/public", str(tmp_path / "public"))
            .replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 9800;", f"listen 127.0.0.1:{internal_port};"))
    (conf / "billing.conf").write_text(site)
    (conf / "tls.conf").write_text((DEPLOY / "nginx" / "tls.conf").read_text().replace("/etc/ssl/billing", str(certs)))
    shutil.copy(DEPLOY / "nginx" / "proxy.conf", conf / "proxy.conf")
    (conf / "upstream.conf").write_text(
        (DEPLOY / "nginx" / "upstream.conf").read_text().replace("127.0.0.1:8000", f"127.0.0.1:{panel_port}"))
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n log_format ids '$request_id $uri';\n"
        f" access_log {tmp_path}/access.log ids;\n"
        + "".join(f" {kind}_temp_path {temp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f" include {conf}/billing.conf;\n}}\n")
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr

    env = dict(os.environ, BILLING_ENV="production", SECRET_KEY="x" * 64, LOG_FORMAT="json", TRUSTED_PROXIES="1",
               METRICS_TOKEN="metrics-token-of-the-test",
               DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", INSTANCE_PATH=str(tmp_path / "instance"),
               PUBLIC_BASE_URL="https://billing.example.bg", GUNICORN_BIND=f"127.0.0.1:{panel_port}",
               GUNICORN_WORKERS="1", PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    panel_log = open(tmp_path / "panel.log", "w")
    panel = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "docs/deploy/gunicorn.conf.py",
                              "app:create_app()"], cwd=ROOT, env=env, stdout=panel_log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    server = subprocess.Popen([nginx, "-g", "daemon off;", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                               "-c", str(tmp_path / "nginx.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    tls = ssl.create_default_context(cafile=str(certs / "fullchain.pem"))

    def fetch(path, port=https_port, scheme="https", host="billing.example.bg", **headers):
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}",
                                         headers={"Host": host, **{k.replace("_", "-"): v for k, v in headers.items()}})
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls), NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    try:
        wait_for(lambda: fetch("/healthz")[0] == 200, 90, f"the panel through nginx: {server.stderr}")
        # A client's own X-Forwarded-For is to the left of nginx's entry: TRUSTED_PROXIES=1 never believes it.
        status, headers, body = fetch("/healthz", X_Forwarded_For="203.0.113.9")
        assert json.loads(body) == {"status": "alive"}
        request_id = headers["X-Request-ID"]  # nginx's $request_id, passed on and answered by the panel
        assert len(request_id) == 32

        static = public / "billing" / "forms.js"
        status, headers, body = fetch("/static/billing/forms.js")
        assert status == 200 and body == static.read_bytes() and "X-Request-ID" not in headers  # nginx's own
        status, _headers, body = fetch("/static/appbuilder/css/ab.css")
        assert status == 200 and body

        assert fetch("/metrics")[0] == 404
        assert fetch("/metrics", Authorization="Bearer metrics-token-of-the-test")[0] == 404  # nginx's own 404
        status, _headers, body = fetch("/metrics", port=internal_port, scheme="http",
                                       Authorization="Bearer metrics-token-of-the-test")
        assert status == 200 and b"billing_http_requests_total" in body
        status, _headers, body = fetch("/readyz", port=internal_port, scheme="http")
        assert status == 503 and json.loads(body)["checks"]["migrations"] == "behind"  # an empty database
        status, headers, _body = fetch("/login/", port=http_port, scheme="http")
        assert status == 301 and headers["Location"] == "https://billing.example.bg/login/"
        assert fetch("/login/", host="my.example.bg")[0] == 404  # the portal's host shows nothing of the panel

        time.sleep(0.5)
        lines = [json.loads(line) for line in (tmp_path / "panel.log").read_text().splitlines() if line.strip()]
        requests = [line for line in lines if line["logger"] == "app.request"]
        assert [line["request_id"] for line in requests if line["path"] == "/healthz"][-1] == request_id
        assert f"{request_id} /healthz" in (tmp_path / "access.log").read_text()  # the id is nginx's
        assert not [line for line in requests if line["path"].startswith("/static/")]
        assert all(line["remote_addr"] == "127.0.0.1" for line in requests)
    finally:
        server.send_signal(signal.SIGQUIT)
        os.killpg(panel.pid, signal.SIGTERM)
        server.wait(timeout=20)
        panel.wait(timeout=30)
        panel_log.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
