"""The weighted proxy of the local target, driven with real processes and real HTTP traffic.

Backends are a stdlib http.server script written here: it answers with its version and can be
told (per request) to return a status or to add latency. Every test stops what it started.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prodsprint_dagster.release.local import LocalTarget
from prodsprint_dagster.release.local.procs import http_get

BACKEND = r"""
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

VERSION = os.environ.get("VERSION", "?")
PORT = int(os.environ["PORT"])
print(f"booting {VERSION} on {PORT}", flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/health":
            return self.reply(200, {"ok": True})
        delay = float(query.get("delay_ms", ["0"])[0])
        if delay:
            time.sleep(delay / 1000)
        self.reply(int(query.get("status", ["200"])[0]), {"version": VERSION})

    def reply(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "server.py").write_text(BACKEND)
    return app


@pytest.fixture
def target(tmp_path: Path):
    tgt = LocalTarget(tmp_path / "home", "staging", health_timeout=15, stop_grace=3)
    yield tgt
    tgt.stop()


def deploy(target: LocalTarget, app: Path, version: str):
    return target.deploy(
        "shop",
        version,
        env={"VERSION": version},
        command=[sys.executable, "server.py"],
        cwd=str(app),
    )


def hammer(url: str, total: int, threads: int = 8, path: str = "/", stop=None):
    """``total`` GETs over ``threads`` keep-alive connections (or until ``stop`` is set)."""
    host, port = url.removeprefix("http://").split(":")
    versions: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    left = [total]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        while True:
            with lock:
                if (stop is None and left[0] <= 0) or (stop is not None and stop.is_set()):
                    break
                left[0] -= 1
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                with lock:
                    statuses[resp.status] += 1
                    if resp.status == 200:
                        versions[json.loads(body)["version"]] += 1
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=20)
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    return pool, versions, statuses, errors


def run_load(url: str, total: int, threads: int = 8, path: str = "/"):
    pool, versions, statuses, errors = hammer(url, total, threads, path)
    for t in pool:
        t.join()
    return versions, statuses, errors


def test_weights_are_respected_over_1000_requests(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    deploy(target, app_dir, "v2")
    target.set_weights("shop", {"v1": 90, "v2": 10})
    versions, statuses, errors = run_load(target.url("shop"), 1000)
    assert errors == [] and statuses == {200: 1000}
    # Stated tolerance: 10 % +- 3 % (smooth weighted round robin is in fact exact here).
    assert 70 <= versions["v2"] <= 130, versions
    assert versions["v1"] + versions["v2"] == 1000
    metrics = target.metrics("shop")
    assert metrics["v2"]["requests"] == versions["v2"]
    assert metrics["v1"]["requests"] == versions["v1"]
    assert len(metrics["v2"]["latencies_ms"]) == versions["v2"]


def test_per_version_metrics_errors_latency_and_since(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    deploy(target, app_dir, "v2")
    target.set_weights("shop", {"v1": 50, "v2": 50})
    url = target.url("shop")
    run_load(url, 40, threads=4)
    mark = time.time()
    _, statuses, errors = run_load(url, 20, threads=2, path="/?status=500")
    _, _, errors2 = run_load(url, 20, threads=2, path="/?delay_ms=200")
    assert errors == errors2 == [] and statuses == {500: 20}

    since = target.metrics("shop", since=mark)
    assert {v: s["requests"] for v, s in since.items()} == {"v1": 20, "v2": 20}
    assert {v: s["errors_5xx"] for v, s in since.items()} == {"v1": 10, "v2": 10}
    assert since["v1"]["errors"] == 10  # the key the canary judge reads
    assert sum(lat >= 200 for lat in since["v2"]["latencies_ms"]) >= 10
    assert since["v1"]["status_classes"]["5xx"] == 10 and not since["v1"]["truncated"]
    total = target.metrics("shop")
    assert total["v1"]["requests"] == 40 and total["v2"]["requests"] == 40


def test_prometheus_metrics_parse(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    run_load(target.url("shop"), 30, threads=3)
    run_load(target.url("shop"), 5, threads=1, path="/?status=503")
    admin = target.describe()["proxy"]["admin_url"]
    status, body = http_get(f"{admin}/metrics", timeout=5)
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    requests = {
        s.labels["code"]: s.value
        for s in families["prodsprint_proxy_requests"].samples
        if s.name == "prodsprint_proxy_requests_total" and s.labels["version"] == "v1"
    }
    assert requests["2xx"] == 30 and requests["5xx"] == 5
    hist = families["prodsprint_proxy_request_duration_seconds"]
    count = next(s for s in hist.samples if s.name.endswith("_count"))
    inf = next(s for s in hist.samples if s.labels.get("le") == "+Inf")
    assert count.value == inf.value == 35
    assert count.labels == {"environment": "staging", "service": "shop", "version": "v1"}
    weights = families["prodsprint_proxy_backend_weight"].samples
    assert [(s.labels["version"], s.value) for s in weights] == [("v1", 100.0)]


def test_rollback_under_concurrent_load_drops_nothing(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    deploy(target, app_dir, "v2")
    target.set_weights("shop", {"v1": 50, "v2": 50})
    stop = threading.Event()
    # 10 ms per request: requests are in flight on both versions at the moment of the switch.
    pool, versions, statuses, errors = hammer(
        target.url("shop"), 0, threads=12, path="/?delay_ms=10", stop=stop
    )
    time.sleep(1.0)
    before = dict(versions)
    target.rollback("shop")
    after_rollback = sum(versions.values())
    time.sleep(1.0)
    stop.set()
    for t in pool:
        t.join()
    assert errors == [], errors[:5]
    assert set(statuses) == {200}, statuses
    assert before.get("v2", 0) > 20 and sum(versions.values()) > after_rollback + 50
    state = target.describe()["services"]["shop"]
    assert state["stable"] == "v1" and list(state["versions"]) == ["v1"]
    # After the rollback every request goes to v1.
    tail_versions, _, tail_errors = run_load(target.url("shop"), 50, threads=4)
    assert tail_versions == {"v1": 50} and tail_errors == []


def test_weight_change_keeps_requests_in_flight(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    deploy(target, app_dir, "v2")
    target.set_weights("shop", {"v2": 100})
    pool, versions, statuses, errors = hammer(target.url("shop"), 4, 4, path="/?delay_ms=1500")
    deadline = time.monotonic() + 5
    while target.metrics("shop")["v2"]["inflight"] < 4:  # all four are waiting on v2
        assert time.monotonic() < deadline, "requests never reached v2"
        time.sleep(0.02)
    target.set_weights("shop", {"v1": 100})
    fresh, _, _ = run_load(target.url("shop"), 10, threads=2)
    for t in pool:
        t.join()
    assert errors == [] and versions == {"v2": 4} and statuses == {200: 4}
    assert fresh == {"v1": 10}


def test_admin_api_requires_the_token(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    admin = target.describe()["proxy"]["admin_url"]
    assert admin.startswith("http://127.0.0.1:")
    status, _ = http_get(f"{admin}/services", timeout=5)
    assert status == 401
    conn = http.client.HTTPConnection(admin.removeprefix("http://"), timeout=5)
    conn.request("PUT", "/services/shop", body=b"{}", headers={"Authorization": "Bearer nope"})
    assert conn.getresponse().status == 401
    conn.close()
    assert http_get(f"{admin}/healthz", timeout=5)[0] == 200
