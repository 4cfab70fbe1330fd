"""A real `flask radius serve`, N requests from pyrad (from several NAS threads at once, so that they meet in
the server's batches): its metrics count each exactly once — accepts, rejects, acknowledged accounting."""
import threading

from pyrad import packet as radius_packet

from tests.ops.test_health import metric_value
from tests.ops.test_radius_metrics import free_tcp_port, get
from tests.radius.test_radius import access, accounting, client, nas, start_server, stop_server, subscriber

THREADS, EACH = 5, 8  # N = 40 of each kind


def test_the_metrics_count_each_of_n_requests_once(app):
    with app.app_context():
        nas(vendor="mikrotik")
        subscriber()
    metrics_port = free_tcp_port()
    server = start_server(app, RADIUS_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    answers, errors = [], []

    def nas_thread(number):
        radius_client = client(server)
        try:
            for each in range(EACH):
                answers.append(access(server, "ivan", "parola-123").code)
                answers.append(access(server, "ivan", "wrong-password").code)
                # Another user's sessions: ivan's own would count against his Simultaneous-Use.
                answers.append(accounting(server, "Interim-Update", session_id=f"n-{number}-{each}", username="gost",
                                          radius_client=radius_client).code)
        except Exception as error:  # noqa: BLE001 - said by the assertion below
            errors.append(error)

    try:
        before = get(metrics_port, "/metrics")[1]
        threads = [threading.Thread(target=nas_thread, args=(number,)) for number in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        n = THREADS * EACH
        assert sorted(answers) == sorted([radius_packet.AccessAccept] * n + [radius_packet.AccessReject] * n
                                         + [radius_packet.AccountingResponse] * n)
        code, after = get(metrics_port, "/metrics")
        assert code == 200

        def counted(port, result):
            labels = {"port": port, "nas": "NAS mikrotik", "result": result}
            return (metric_value(after, "billing_radius_requests_total", **labels)
                    - metric_value(before, "billing_radius_requests_total", **labels))

        assert (counted("auth", "accept"), counted("auth", "reject"), counted("acct", "acknowledged")) == (n, n, n)
        assert counted("auth", "dropped") == counted("acct", "dropped") == 0
    finally:
        stop_server(server)
