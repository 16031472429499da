"""OnlineOsv against a real HTTP server on loopback that speaks the OSV API (and misbehaves)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from osv_fixtures import GHSA_LODASH, GHSA_PYYAML, PYSEC_PYYAML, clone, component

from prodsprint_dagster.supply.osv import OnlineOsv, OsvError, TokenBucket, match_components
from prodsprint_dagster.supply.osv.online import retry_after_seconds


@dataclass
class FakeOsv:
    """The OSV API: querybatch answers from ``hits``, records from ``records``; ``faults`` is
    a queue of (method, path prefix, status, headers) served instead of the real answer."""

    records: dict[str, dict[str, Any]]
    hits: dict[tuple[str, str, str], list[str]]
    pages: dict[tuple[str, str, str], int] = field(default_factory=dict)  # ids per page
    faults: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    log: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, method: str, path: str) -> tuple[int, dict[str, str]] | None:
        with self.lock:
            for i, (m, prefix, status, headers) in enumerate(self.faults):
                if m == method and path.startswith(prefix):
                    del self.faults[i]
                    return status, headers
        return None

    def answer_query(self, query: dict[str, Any]) -> dict[str, Any]:
        package = query["package"]
        key = (package["ecosystem"], package["name"].lower(), query.get("version"))
        ids = self.hits.get(key, [])
        size = self.pages.get(key, len(ids) or 1)
        start = int(query.get("page_token") or 0)
        page = ids[start : start + size]
        result: dict[str, Any] = {
            "vulns": [{"id": i, "modified": self.records[i]["modified"]} for i in page]
        }
        if start + size < len(ids):
            result["next_page_token"] = str(start + size)
        return result


@pytest.fixture
def fake_osv() -> Iterator[tuple[FakeOsv, str]]:
    state = FakeOsv(records={}, hits={})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.log.append(("POST", self.path, body))
            fault = state.fault("POST", self.path)
            if fault:
                return self._send(fault[0], {"code": fault[0]}, fault[1])
            if self.path != "/v1/querybatch":
                return self._send(404, {"message": "not found"})
            self._send(200, {"results": [state.answer_query(q) for q in body["queries"]]})

        def do_GET(self) -> None:
            state.log.append(("GET", self.path, None))
            fault = state.fault("GET", self.path)
            if fault:
                return self._send(fault[0], {"code": fault[0]}, fault[1])
            vuln_id = self.path.removeprefix("/v1/vulns/")
            if vuln_id not in state.records:
                return self._send(404, {"message": "Bug not found."})
            self._send(200, state.records[vuln_id])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(cache: Path, url: str, sleeps: list[float], **kw: Any) -> OnlineOsv:
    return OnlineOsv(cache, base_url=url, rate=1000, burst=1000, sleep=sleeps.append, **kw)


def _seed(state: FakeOsv) -> None:
    for doc in (PYSEC_PYYAML, GHSA_PYYAML, GHSA_LODASH):
        state.records[doc["id"]] = json.loads(json.dumps(doc))
    state.hits[("PyPI", "pyyaml", "5.3.1")] = ["PYSEC-2021-142", "GHSA-8q59-q68h-6hv4"]
    state.pages[("PyPI", "pyyaml", "5.3.1")] = 1  # one id per page: two pages
    state.hits[("npm", "lodash", "4.17.20")] = ["GHSA-35jh-r3h4-6jhm"]


COMPONENTS = [
    component("PyPI", "PyYAML", "5.3.1"),
    component("npm", "lodash", "4.17.20"),
    component("PyPI", "flask", "3.0.3"),
]


def test_querybatch_pages_retries_and_record_cache(fake_osv, tmp_path):
    state, url = fake_osv
    _seed(state)
    state.faults = [("POST", "/v1/querybatch", 429, {"Retry-After": "2"}),
                    ("GET", "/v1/vulns/GHSA-8q59", 500, {})]  # fmt: skip
    sleeps: list[float] = []
    report = match_components(COMPONENTS, _client(tmp_path, url, sleeps))

    assert [(f.id, f.package, f.fixed_version) for f in report.findings] == [
        ("CVE-2020-14343", "PyYAML", "5.4"),
        ("CVE-2021-23337", "lodash", "4.17.21"),
    ]
    assert report.findings[0].sources == ["GHSA-8q59-q68h-6hv4", "PYSEC-2021-142"]
    calls = [(method, path) for method, path, _body in state.log]
    assert calls == [
        ("POST", "/v1/querybatch"),  # 429, Retry-After: 2
        ("POST", "/v1/querybatch"),
        ("POST", "/v1/querybatch"),  # the second page of PyYAML
        ("GET", "/v1/vulns/PYSEC-2021-142"),
        ("GET", "/v1/vulns/GHSA-8q59-q68h-6hv4"),  # 500
        ("GET", "/v1/vulns/GHSA-8q59-q68h-6hv4"),
        ("GET", "/v1/vulns/GHSA-35jh-r3h4-6jhm"),
    ]
    first_query = state.log[1][2]["queries"]
    assert first_query == [
        {"package": {"name": "PyYAML", "ecosystem": "PyPI"}, "version": "5.3.1"},
        {"package": {"name": "lodash", "ecosystem": "npm"}, "version": "4.17.20"},
        {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "3.0.3"},
    ]
    assert state.log[2][2]["queries"] == [{**first_query[0], "page_token": "1"}]
    assert sleeps[0] == 2.0  # Retry-After honoured
    assert 0.25 <= sleeps[1] <= 0.5  # first backoff step (0.5 s with equal jitter)
    assert report.source["kind"] == "online" and report.source["retries"] == 2

    # A second client on the same cache asks the API again but fetches no record.
    state.log.clear()
    again = match_components(COMPONENTS, _client(tmp_path, url, []))
    assert [f.id for f in again.findings] == [f.id for f in report.findings]
    assert [m for m, _p, _b in state.log] == ["POST", "POST"]
    assert again.source["cache_hits"] == 3

    # A record modified upstream is fetched again; the others still come from the cache.
    updated = clone(GHSA_LODASH, modified="2025-02-02T00:00:00Z")
    updated["affected"][0]["ranges"][0]["events"][1] = {"fixed": "4.17.22"}
    state.records[updated["id"]] = updated
    state.log.clear()
    third = match_components(COMPONENTS, _client(tmp_path, url, []))
    assert [p for m, p, _b in state.log if m == "GET"] == ["/v1/vulns/GHSA-35jh-r3h4-6jhm"]
    assert third.findings[1].fixed_version == "4.17.22"


def test_batches_hold_at_most_1000_queries(fake_osv, tmp_path):
    state, url = fake_osv
    comps = [component("npm", f"pkg-{i}", "1.0.0") for i in range(1001)]
    report = match_components(comps, _client(tmp_path, url, []))
    assert report.findings == []
    sizes = [len(body["queries"]) for method, _p, body in state.log if method == "POST"]
    assert sizes == [1000, 1]


def test_service_verdict_is_kept_when_local_ranges_disagree(fake_osv, tmp_path):
    state, url = fake_osv
    _seed(state)
    state.hits[("npm", "lodash", "4.17.21")] = ["GHSA-35jh-r3h4-6jhm"]
    report = match_components([component("npm", "lodash", "4.17.21")], _client(tmp_path, url, []))
    assert [f.id for f in report.findings] == ["CVE-2021-23337"]
    assert report.findings[0].fixed_version is None
    assert any("reports lodash 4.17.21 as affected" in w for w in report.warnings)


def test_gives_up_after_max_attempts(fake_osv, tmp_path):
    state, url = fake_osv
    state.faults = [("POST", "/v1/querybatch", 503, {})] * 3
    sleeps: list[float] = []
    client = _client(tmp_path, url, sleeps, max_attempts=3, backoff_base=1.0)
    with pytest.raises(OsvError, match=r"gave up after 3 attempts \(HTTP 503\)"):
        client.lookup("PyPI", "pyyaml", "5.3.1")
    assert len(state.log) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_client_errors_are_not_retried(fake_osv, tmp_path):
    state, url = fake_osv
    state.faults = [("POST", "/v1/querybatch", 400, {})]
    with pytest.raises(OsvError, match="HTTP 400"):
        _client(tmp_path, url, []).lookup("PyPI", "pyyaml", "5.3.1")
    assert len(state.log) == 1


def test_retry_after_beyond_the_limit_is_an_error(fake_osv, tmp_path):
    state, url = fake_osv
    state.faults = [("POST", "/v1/querybatch", 429, {"Retry-After": "3600"})]
    with pytest.raises(OsvError, match="retry after 3600 s"):
        _client(tmp_path, url, []).lookup("PyPI", "pyyaml", "5.3.1")


def test_connection_errors_are_retried(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    client = _client(tmp_path, f"http://127.0.0.1:{port}", sleeps, max_attempts=2)
    with pytest.raises(OsvError, match="ConnectionError"):
        client.lookup("PyPI", "pyyaml", "5.3.1")
    assert len(sleeps) == 1 and client.stats["requests"] == 2


def test_token_bucket_limits_the_rate():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0], sleep=sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert bucket.acquire() == pytest.approx(0.5)  # then 2 per second
    assert bucket.acquire() == pytest.approx(0.5)
    now[0] += 10  # idle time refills up to the burst, not beyond
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)
    assert waits == pytest.approx([0.5, 0.5, 0.5])


def test_retry_after_header_forms():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


def test_invalid_base_url_is_refused(tmp_path):
    with pytest.raises(OsvError, match="http"):
        OnlineOsv(tmp_path, base_url="file:///etc")


def test_without_a_cache_directory_records_are_fetched_once_per_client(fake_osv):
    state, url = fake_osv
    _seed(state)
    client = OnlineOsv(None, base_url=url, rate=1000, burst=1000, sleep=lambda s: None)
    first = match_components(COMPONENTS, client)
    second = match_components(COMPONENTS, client)
    assert [f.id for f in first.findings] == [f.id for f in second.findings]
    gets = [p for m, p, _b in state.log if m == "GET"]
    assert sorted(gets) == sorted(set(gets)) and len(gets) == 3
