"""The open-model load generator against real local servers."""

import http.server
import threading
import time

import pytest
from perf_helpers import app_server

from prodsprint_dagster.quality.perf import LoadError, LoadPlan, run_load


@pytest.fixture(scope="module")
def app():
    with app_server(SLOW_MS="80") as url:
        yield url


def test_slow_and_erroring_routes_are_told_apart(app):
    plan = LoadPlan(app, ("/fast", "/slow", "/boom", "/nowhere"), rate=200, duration=1.5)
    result = run_load(plan)
    routes = {r["route"]: r for r in result.summary()["routes"]}
    assert result.scheduled == 300 and {r["requests"] for r in routes.values()} == {75}
    fast, slow, boom, missing = (routes[p] for p in ("/fast", "/slow", "/boom", "/nowhere"))
    assert slow["p50_ms"] >= 80 and slow["p50_ms"] > 5 * fast["p50_ms"]
    assert boom["error_ratio"] == 1.0 and boom["server_errors"] == 75
    assert fast["error_ratio"] == 0.0 and fast["statuses"] == {"200": 75}
    # A 404 is an answer, not a server failure.
    assert missing["client_errors"] == 75 and missing["error_ratio"] == 0.0
    overall = result.summary()["overall"]
    assert overall["errors"] == 75 and overall["error_ratio"] == pytest.approx(0.25)
    assert overall["rps"] == pytest.approx(200, rel=0.15)


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Single-threaded: the 20th request stalls the whole server for one second."""

    seen = 0

    def do_GET(self):
        type(self).seen += 1
        if type(self).seen == 20:
            time.sleep(1.0)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stalling_server():
    _StallingHandler.seen = 0
    server = http.server.HTTPServer(("127.0.0.1", 0), _StallingHandler)
    server.request_queue_size = 256
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_stall_shows_on_every_request_scheduled_during_it(stalling_server):
    """No coordinated omission: a closed-model client would record one slow request."""
    result = run_load(LoadPlan(stalling_server, ("/",), rate=100, duration=2.0, timeout=5))
    overall = result.overall()
    assert overall.errors == 0 and overall.completed == 200
    slow = sum(count for index, count in enumerate(overall.histogram.counts)
               if count and index > 0 and _ms(index) > 300)  # fmt: skip
    assert slow >= 40, f"only {slow} requests saw the 1 s stall"
    assert overall.histogram.percentile(50) < 1000 <= overall.histogram.max_us / 1000 + 50


def _ms(index: int) -> float:
    from prodsprint_dagster.quality.perf.histogram import bucket_value_ms

    return bucket_value_ms(index)


def test_requests_over_the_in_flight_limit_are_dropped_and_count_as_errors(stalling_server):
    result = run_load(
        LoadPlan(stalling_server, ("/",), rate=100, duration=1.0, max_in_flight=3, timeout=5)
    )
    overall = result.overall()
    assert overall.dropped > 10
    assert overall.errors == overall.dropped and overall.completed + overall.dropped == 100
    assert any("dropped" in w for w in result.warnings())


def test_several_processes_share_one_schedule(app):
    result = run_load(LoadPlan(app, ("/fast", "/health"), rate=300, duration=1.0, processes=2))
    assert result.processes == 2 and result.scheduled == 300
    assert [r.scheduled for r in result.routes.values()] == [150, 150]
    assert result.overall().completed == 300 and result.overall().errors == 0


def test_refused_connections_are_transport_errors():
    from perf_helpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LoadError, match="cannot connect"):
        run_load(LoadPlan(url, ("/",), rate=10, duration=0.2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://x/"}, "http"),
        ({"routes": ("/a\r\nX-Injected: 1",)}, "control characters"),
        ({"routes": ("relative",)}, "starting with '/'"),
        ({"rate": 0}, "rate"),
        ({"duration": float("nan")}, "duration"),
        ({"headers": {"Bad Header": "x"}}, "header"),
    ],
)
def test_bad_plans_are_refused(kwargs, message):
    plan = {"base_url": "http://127.0.0.1:1", "routes": ("/",), "rate": 1, "duration": 1,
            **kwargs}  # fmt: skip
    with pytest.raises(LoadError, match=message):
        LoadPlan(**plan)


def test_routes_are_percent_encoded_on_the_request_line():
    plan = LoadPlan("http://127.0.0.1:1", ("/caf\u00e9 menu?q=a b",), rate=1, duration=1)
    assert plan.routes == ("/caf%C3%A9%20menu?q=a%20b",)


def test_the_closed_model_keeps_its_connections_busy(app):
    from prodsprint_dagster.quality.perf.loadgen import run_closed

    result = run_closed(LoadPlan(app, ("/fast", "/slow"), rate=1, duration=1.0), connections=4)
    fast, slow = result.routes["/fast"], result.routes["/slow"]
    assert fast.errors == slow.errors == 0
    assert abs(fast.scheduled - slow.scheduled) <= 4  # round-robin over the routes
    # Four connections over one second, every other request 80 ms: about 4 / 0.04 per second.
    assert 20 <= fast.completed + slow.completed <= 200
    assert slow.histogram.percentile(50) >= 80
