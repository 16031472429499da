"""The Prometheus metrics source, end to end: real proxy, real backends, real Prometheus.

The local target's proxy runs two versions (v2 slower and failing every fifth request);
a real Prometheus (Debian package ``prometheus``) scrapes the proxy's ``/metrics`` every
second, and the source's PromQL answers are compared with the proxy's own exact counts.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.release.judge import Samples, judge
from prodsprint_dagster.release.local import LocalTarget
from prodsprint_dagster.release.local.stats import LATENCY_BUCKETS
from prodsprint_dagster.release.prometheus import (
    MetricsReading,
    PrometheusMetrics,
    PrometheusQueryError,
    reconstruct_latencies,
)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

BACKEND = r"""
import itertools, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ["VERSION"]
PORT = int(os.environ["PORT"])
DELAY = float(os.environ.get("DELAY_MS", "0")) / 1000
FAIL_EVERY = int(os.environ.get("FAIL_EVERY", "0"))
counter = itertools.count(1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200)
        with lock:
            n = next(counter)
        time.sleep(DELAY)
        self.reply(500 if FAIL_EVERY and n % FAIL_EVERY == 0 else 200)

    def reply(self, code):
        body = VERSION.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).exists(),
    reason="the prometheus binary is not installed (apt-get install -y prometheus)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def load(url: str, total: int, threads: int = 6) -> int:
    """``total`` GETs over keep-alive connections; returns how many got an HTTP answer."""
    host, port = url.removeprefix("http://").split(":")
    left, done, lock = [total], [0], threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            conn.request("GET", "/")
            conn.getresponse().read()
            with lock:
                done[0] += 1
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0]


class Stack:
    def __init__(self, target: LocalTarget, prom_url: str, t0: float, t1: float):
        self.target, self.prom_url, self.since, self.until = target, prom_url, t0, t1


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("prom")
    app = tmp / "app"
    app.mkdir()
    (app / "server.py").write_text(BACKEND)
    target = LocalTarget(tmp / "home", "staging", health_timeout=15, stop_grace=3)
    proc = None
    try:
        for version, env in (
            ("v1", {"DELAY_MS": "2"}),
            ("v2", {"DELAY_MS": "30", "FAIL_EVERY": "5"}),
        ):
            target.deploy(
                "shop",
                version,
                env={"VERSION": version, **env},
                command=[sys.executable, "server.py"],
                cwd=str(app),
            )
        target.set_weights("shop", {"v1": 50, "v2": 50})
        admin = target.describe()["proxy"]["admin_url"].removeprefix("http://")
        port = free_port()
        (tmp / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: proxy\n    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: ['{admin}']\n"
        )
        log = (tmp / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        prom_url = f"http://127.0.0.1:{port}"

        def series_seen() -> bool:
            try:
                doc = requests.get(
                    f"{prom_url}/api/v1/query",
                    params={"query": 'count(prodsprint_proxy_requests_total{code="2xx"})'},
                    timeout=2,
                ).json()
            except (requests.RequestException, ValueError):
                return False
            result = doc.get("data", {}).get("result") or []
            return bool(result) and float(result[0]["value"][1]) == 2

        wait_until(series_seen, 20, "Prometheus to scrape both versions")
        since = time.time()
        time.sleep(0.5)
        sent = load(target.url("shop"), 700)
        assert sent == 700
        # One more full scrape after the traffic, then the window closes.
        until = time.time() + 2.5
        time.sleep(until - time.time() + 0.3)
        yield Stack(target, prom_url, since, until)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        target.stop()


def test_per_version_counts_errors_and_latency_match_the_proxy(stack: Stack) -> None:
    source = PrometheusMetrics(stack.prom_url, selector_labels={"environment": "staging"})
    reading = source.metrics("shop", stack.since, stack.until)
    assert isinstance(reading, MetricsReading) and reading.no_data is None, reading.no_data
    truth = stack.target.metrics("shop", since=stack.since)
    assert set(reading) == {"v1", "v2"}
    # increase() extrapolates to the window's end when the last scrape is within 1.1 scrape
    # intervals of it (1 s here) and never below the counter's zero: the count lies between
    # the exact one and exact * window / (window - 1.1 s).
    window = stack.until - stack.since
    inflation = window / (window - 1.1)
    for version in ("v1", "v2"):
        got, exact = reading[version], truth[version]
        for key in ("requests", "errors"):
            low, high = 0.97 * exact[key] - 3, inflation * exact[key] + 3
            assert low <= got[key] <= high, (version, key, got[key], exact[key], inflation)
        assert got["errors"] == got["errors_5xx"] == got["status_classes"]["5xx"]
        assert abs(len(got["latencies_ms"]) - got["requests"]) <= 0.05 * got["requests"] + 3
    assert reading["v1"]["errors"] == 0
    ratio = reading["v2"]["errors"] / reading["v2"]["requests"]
    assert 0.15 <= ratio <= 0.25, ratio  # every fifth request fails
    q1, q2 = reading["v1"]["latency_quantiles_ms"], reading["v2"]["latency_quantiles_ms"]
    assert q2["p95"] > q1["p95"] and q2["p50"] > q1["p50"]
    assert q1["p50"] <= q1["p90"] <= q1["p95"] <= q1["p99"]
    bounds_ms = [b * 1000 for b in LATENCY_BUCKETS]
    for version, quantiles in (("v1", q1), ("v2", q2)):
        # histogram_quantile is exact to the bucket: the true p95 lies in the same or the
        # neighbouring bucket (the window edges differ by a scrape interval).
        exact = float(np.percentile(truth[version]["latencies_ms"], 95))
        seen = bisect_left(bounds_ms, quantiles["p95"])
        assert abs(bisect_left(bounds_ms, exact) - seen) <= 1, (version, exact, quantiles)
    # The reconstructed sample reproduces histogram_quantile's p95 (same interpolation).
    for version, quantiles in (("v1", q1), ("v2", q2)):
        p95 = float(np.percentile(reading[version]["latencies_ms"], 95))
        assert abs(p95 - quantiles["p95"]) <= 0.1 * quantiles["p95"] + 1, (version, p95)
    # The judge runs unchanged on the reading and catches the failing canary.
    verdict = judge(Samples.from_dict(reading["v2"]), Samples.from_dict(reading["v1"]))
    assert verdict.overall == "fail", verdict.reason
    assert verdict.metric("error_ratio").verdict == "fail"
    assert verdict.metric("latency").numbers["canary_p95_ms"] > q1["p95"]
    assert "increase(prodsprint_proxy_requests_total{" in reading.queries["requests"]


def test_a_selector_matching_nothing_is_no_data(stack: Stack) -> None:
    source = PrometheusMetrics(stack.prom_url, selector_labels={"environment": "prod"})
    reading = source.metrics("shop", stack.since, stack.until)
    assert dict(reading) == {} and "no series" in reading.no_data
    assert 'environment="prod"' in reading.no_data
    verdict = judge(Samples.from_dict({"requests": 0}), Samples.from_dict({"requests": 0}))
    assert verdict.overall == "no_data"
    # A service Prometheus has never seen.
    quiet = PrometheusMetrics(stack.prom_url).metrics("nosuch", stack.since, stack.until)
    assert quiet.no_data and dict(quiet) == {}


def test_prometheus_down_is_no_data_with_the_reason() -> None:
    port = free_port()  # nothing listens there
    source = PrometheusMetrics(
        f"http://user:s3cret@127.0.0.1:{port}", retries=1, retry_delay=0.05, timeout=1
    )
    now = time.time()
    reading = source.metrics("shop", now - 60, now)
    assert dict(reading) == {}
    assert "unreachable" in reading.no_data and f"127.0.0.1:{port}" in reading.no_data
    assert "after 2 attempts" in reading.no_data and "s3cret" not in reading.no_data


def test_api_errors_are_no_data_not_retried_when_the_query_is_bad(stack: Stack) -> None:
    source = PrometheusMetrics(stack.prom_url, retries=3, retry_delay=5)
    started = time.monotonic()
    with pytest.raises(PrometheusQueryError) as caught:
        source.query("sum(", time.time())
    assert "bad_data" in str(caught.value)
    assert time.monotonic() - started < 4  # a bad query is not retried


def test_untrusted_names_are_quoted_and_bad_settings_refused() -> None:
    source = PrometheusMetrics("http://127.0.0.1:9", selector_labels={"job": 'a"b\\c'})
    assert source.selector('x"}) or vector(1) #') == (
        '{job="a\\"b\\\\c",service="x\\"}) or vector(1) #"}'
    )
    with pytest.raises(ProdSprintError, match="base_url"):
        PrometheusMetrics("file:///etc/passwd")
    with pytest.raises(ProdSprintError, match="may not set"):
        PrometheusMetrics("http://127.0.0.1:9", selector_labels={"service": "x"})
    with pytest.raises(ProdSprintError, match="not a label"):
        PrometheusMetrics("http://127.0.0.1:9", selector_labels={"bad-name": "x"})
    with pytest.raises(ProdSprintError, match="since"):
        source.metrics("shop", None)


def test_reconstruction_spreads_buckets_and_scales_down() -> None:
    buckets = [(0.01, 10.0), (0.05, 30.0), (float("inf"), 32.0)]
    sample = reconstruct_latencies(buckets)
    assert len(sample) == 32
    assert all(0 < x < 10 for x in sample[:10]) and all(10 < x < 50 for x in sample[10:30])
    assert sample[30:] == [50.0, 50.0]  # +Inf lands on the top finite bound
    small = reconstruct_latencies(buckets, limit=16)
    assert len(small) == 16 and sum(1 for x in small if x < 10) == 5
    assert reconstruct_latencies([(0.1, 0.0), (float("inf"), 0.0)]) == []
