"""RADIUS metrics as Prometheus scrapes them from a real `flask radius serve`: the counts the NAS's side saw."""
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from pyrad import packet as radius_packet

from tests.ops.test_health import metric_value
from tests.radius.test_radius import (SECRET, access, accounting, client, nas, start_server, stop_server,
                                      subscriber)


def free_tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path, token=None, wait=20):
    """(status, body) of a GET on the side port; waits up to `wait` seconds for the port to open."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _get(port, path, token)
        except urllib.error.URLError as error:
            if isinstance(error, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _get(port, path, token):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def radclient(port, kind, packets):
    """What radclient printed for the packets (blank-line separated), each sent once."""
    result = subprocess.run(["radclient", "-x", "-r", "1", "-t", "3", f"127.0.0.1:{port}", kind, SECRET.decode()],
                            input=packets, capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def test_the_scraped_counts_are_what_the_nas_saw(app):
    if shutil.which("radclient") is None:
        pytest.fail("radclient (Debian freeradius-utils) is needed") if os.environ.get("CI") else pytest.skip(
            "no radclient")
    with app.app_context():
        nas(vendor="mikrotik")
        subscriber()
    metrics_port = free_tcp_port()
    server = start_server(app, RADIUS_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}", METRICS_TOKEN="radius-scrape")
    try:
        # Garbage first, from an address that is no NAS and from the NAS with a wrong secret: no answers.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.2", 0))
            for _ in range(3):
                stranger.sendto(os.urandom(40), ("127.0.0.1", server.auth_port))
            stranger.sendto(os.urandom(40), ("127.0.0.1", server.acct_port))
        forged = client(server, b"wrong-secret-9").CreateAuthPacket(code=radius_packet.AccessRequest,
                                                                    User_Name="ivan")
        forged["User-Password"] = forged.PwCrypt("parola-123")
        forged.add_message_authenticator()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(forged.RequestPacket(), ("127.0.0.1", server.auth_port))

        good = 'User-Name = "ivan", User-Password = "parola-123", Message-Authenticator = 0x00\n'
        bad = 'User-Name = "ivan", User-Password = "wrong", Message-Authenticator = 0x00\n'
        said = radclient(server.auth_port, "auth", "\n".join([good] * 7 + [bad] * 4))
        seen_accepts, seen_rejects = said.count("Received Access-Accept"), said.count("Received Access-Reject")
        assert (seen_accepts, seen_rejects) == (7, 4), said
        assert access(server, "ivan", "parola-123", chap=True).code == radius_packet.AccessAccept
        acknowledged = 0
        for status in ("Start", "Interim-Update", "Interim-Update", "Stop"):
            assert accounting(server, status).code == radius_packet.AccountingResponse
            acknowledged += 1
        status = radclient(server.auth_port, "status", "Message-Authenticator = 0x00\n")
        assert "Received Access-Accept" in status, status

        assert get(metrics_port, "/metrics")[0] == 401  # METRICS_TOKEN set: the side port wants it too
        code, scraped = get(metrics_port, "/metrics", token="radius-scrape")
        assert code == 200

        def count(name="billing_radius_requests_total", **labels):
            return metric_value(scraped, name, **labels)

        assert count(port="auth", nas="NAS mikrotik", result="accept") == seen_accepts + 1
        assert count(port="auth", nas="NAS mikrotik", result="reject") == seen_rejects
        assert count(port="acct", nas="NAS mikrotik", result="acknowledged") == acknowledged
        assert count(port="auth", nas="NAS mikrotik", result="status") == 1
        assert count(port="auth", nas="unknown", result="dropped") == 3
        assert count(port="acct", nas="unknown", result="dropped") == 1
        assert count(port="auth", nas="NAS mikrotik", result="dropped") == 1
        assert count("billing_radius_dropped_total", port="auth", reason="unknown_nas") == 3
        assert count("billing_radius_dropped_total", port="auth", reason="bad_message_authenticator") == 1
        assert "127.0.0.2" not in scraped  # a stranger's address never becomes a label
        assert count("billing_radius_batch_seconds_count", port="acct") == acknowledged

        code, ready = get(metrics_port, "/readyz")
        assert code == 200 and '"status": "ready"' in ready
        assert get(metrics_port, "/healthz") == (200, '{"status": "alive"}')
    finally:
        stop_server(server)


def two_free_tcp_ports():
    """A port whose next one is free too."""
    for _ in range(50):
        first = free_tcp_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first
    pytest.fail("no two free ports in a row")


def test_each_of_several_processes_serves_its_own_counts_on_the_next_port(app):
    with app.app_context():
        nas()
        subscriber()
    base = two_free_tcp_ports()
    server = start_server(app, processes=2, RADIUS_METRICS_ADDRESS=f"127.0.0.1:{base}")
    try:
        for _ in range(6):
            assert access(server, "ivan", "parola-123").code == radius_packet.AccessAccept
        accepts = 0
        for port in (base, base + 1):
            code, scraped = get(port, "/metrics")  # no METRICS_TOKEN: loopback only, open
            assert code == 200
            accepts += metric_value(scraped, "billing_radius_requests_total", port="auth", nas="NAS mikrotik",
                                    result="accept")
            assert get(port, "/readyz")[0] == 200
        assert accepts == 6  # Prometheus sums the two
    finally:
        stop_server(server)
