"""Online mode: OSV.dev's ``/v1/querybatch`` API, with a record cache, retries and rate limits.

Flow: components go out in batches of at most 1000 queries; any result carrying a
``next_page_token`` is asked again with that token until exhausted. The answer lists vulnerability
ids (with their ``modified`` time) per query; each full record is then fetched from
``/v1/vulns/{id}`` unless the on-disk cache already holds that id at that modified time.

The service is authoritative for *which* records affect a version (it also evaluates GIT
ranges we cannot), so its answers are kept even when local evaluation disagrees (with a
warning); the full records give the aliases, severity and the fix, computed locally exactly as
for the offline database.

Politeness: a token bucket limits the request rate on the client side; 429, 5xx and connection
failures are retried with exponential backoff and jitter, and a ``Retry-After`` header is
honoured (seconds or an HTTP date). Requests go sequentially through one ``requests`` session.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import orjson
import requests

from prodsprint_dagster.redact import redact_url
from prodsprint_dagster.supply.osv.advisories import (
    PackageAdvisory,
    PackageQuery,
    compile_package,
)
from prodsprint_dagster.supply.osv.records import (
    OsvError,
    OsvRecord,
    base_ecosystem,
    normalize_name,
)
from prodsprint_dagster.supply.osv.versions import supported_ecosystems

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # the API's limit on queries per querybatch call
_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_HEADERS = {"User-Agent": "prodsprint-osv", "Accept": "application/json"}
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``; thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("token bucket needs rate > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                self._sleep(wait)
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
            self._tokens = max(0.0, self._tokens - 1.0)
            return wait


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class OnlineOsv:
    """The OSV API as an advisory source (same interface as :class:`OsvDatabase`)."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        base_url: str = "https://api.osv.dev",
        session: requests.Session | None = None,
        rate: float = 20.0,
        burst: int = 20,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise OsvError(f"OSV API base URL {base_url!r} must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[str, dict[str, Any]] = {}  # records fetched by this instance
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography
        self.warnings: list[str] = []
        self._key_warnings: dict[tuple[str, str], list[str]] = {}
        self.stats = {"requests": 0, "retries": 0, "cache_hits": 0, "fetched": 0}

    # -- advisory source interface ----------------------------------------------------------

    def lookup(
        self, ecosystem: str, name: str, version: str | None = None
    ) -> list[PackageAdvisory]:
        return self.lookup_many([PackageQuery(ecosystem, name, version)])[0]

    def lookup_many(self, queries: Sequence[PackageQuery]) -> list[list[PackageAdvisory]]:
        hits = self.query_ids(queries)
        wanted: dict[str, str | None] = {}
        for found in hits:
            for vuln_id, modified in found:
                if vuln_id not in wanted or (modified or "") > (wanted[vuln_id] or ""):
                    wanted[vuln_id] = modified
        docs = {vuln_id: self.record(vuln_id, modified) for vuln_id, modified in wanted.items()}
        out = []
        for query, found in zip(queries, hits, strict=True):
            eco = base_ecosystem(query.ecosystem)
            name = normalize_name(eco, query.name)
            warnings = self._key_warnings.setdefault((eco, name), [])
            advisories = []
            for vuln_id, _modified in found:
                doc = docs[vuln_id]
                if doc is None:
                    continue
                asserted = bool(query.version)  # without a version the answer is "any"
                advisory = compile_package(doc, eco, name, warnings, asserted=asserted)
                if advisory is None and asserted:  # unreadable ranges, or another spelling
                    advisory = PackageAdvisory(OsvRecord.from_json(doc), eco, name, (), True)
                if advisory is None:
                    continue
                advisories.append(advisory)
            self.warnings.extend(w for w in warnings if w not in self.warnings)
            out.append(advisories)
        return out

    def warnings_for(self, query: PackageQuery) -> list[str]:
        eco = base_ecosystem(query.ecosystem)
        return self._key_warnings.get((eco, normalize_name(eco, query.name)), [])

    def covers(self, ecosystem: str) -> bool:
        return base_ecosystem(ecosystem) in supported_ecosystems()

    def describe(self) -> dict[str, Any]:
        return {"kind": "online", "base_url": self.base_url, **self.stats}

    # -- querybatch ---------------------------------------------------------------------------

    @staticmethod
    def _query_json(query: PackageQuery) -> dict[str, Any]:
        if query.ecosystem in supported_ecosystems() or not query.purl:
            doc: dict[str, Any] = {"package": {"name": query.name, "ecosystem": query.ecosystem}}
            if query.version:
                doc["version"] = query.version
            return doc
        return {"package": {"purl": query.purl}}

    def query_ids(self, queries: Sequence[PackageQuery]) -> list[list[tuple[str, str | None]]]:
        """(id, modified) of the vulnerabilities the service reports for each query."""
        results: list[list[tuple[str, str | None]]] = [[] for _ in queries]
        pending = [(i, self._query_json(q)) for i, q in enumerate(queries)]
        while pending:
            next_round: list[tuple[int, dict[str, Any]]] = []
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                answer = self._request(
                    "POST", "/v1/querybatch", {"queries": [doc for _i, doc in chunk]}
                )
                answers = answer.get("results") if isinstance(answer, dict) else None
                if not isinstance(answers, list) or len(answers) != len(chunk):
                    raise OsvError(
                        f"{self.base_url}/v1/querybatch: expected {len(chunk)} results, got "
                        f"{len(answers) if isinstance(answers, list) else 'none'}"
                    )
                for (index, doc), result in zip(chunk, answers, strict=True):
                    result = result if isinstance(result, dict) else {}
                    for vuln in result.get("vulns") or []:
                        if isinstance(vuln, dict) and isinstance(vuln.get("id"), str):
                            results[index].append((vuln["id"], vuln.get("modified")))
                    token = result.get("next_page_token")
                    if isinstance(token, str) and token:
                        next_round.append((index, {**doc, "page_token": token}))
            pending = next_round
        return [list(dict.fromkeys(found)) for found in results]

    # -- records --------------------------------------------------------------------------------

    def _cache_path(self, vuln_id: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / "vulns" / f"{vuln_id}.json"

    def record(self, vuln_id: str, modified: str | None) -> dict[str, Any] | None:
        """The full record, from the cache when it holds this id at this modified time
        (``cache_dir=None`` keeps records in memory only, for this instance)."""
        if not _RECORD_ID.match(vuln_id):
            self.warnings.append(f"OSV service returned an invalid record id {vuln_id!r}")
            return None
        path = self._cache_path(vuln_id)
        cached = self._memory.get(vuln_id)
        if cached is None and path is not None:
            try:
                cached = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                cached = None
        if isinstance(cached, dict) and (modified is None or cached.get("modified") == modified):
            self.stats["cache_hits"] += 1
            self._memory[vuln_id] = cached
            return cached
        doc = self._request("GET", f"/v1/vulns/{quote(vuln_id, safe='')}", None)
        if not isinstance(doc, dict) or doc.get("id") != vuln_id:
            raise OsvError(f"{self.base_url}/v1/vulns/{vuln_id}: not the record asked for")
        self.stats["fetched"] += 1
        self._memory[vuln_id] = doc
        if path is not None:
            self._store(path, doc)
        return doc

    @staticmethod
    def _store(path: Path, doc: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(doc))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- HTTP -------------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return delay / 2 + self._random.uniform(0, delay / 2)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        url = self.base_url + path
        problem = ""
        for attempt in range(self.max_attempts):
            self.bucket.acquire()
            self.stats["requests"] += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    data=orjson.dumps(payload) if payload is not None else None,
                    headers=_JSON_HEADERS if payload is not None else _HEADERS,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}"
                delay = self._backoff(attempt)
            else:
                if response.status_code == 200:
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        raise OsvError(f"{method} {url}: the answer is not JSON") from None
                if response.status_code not in _RETRY_STATUS:
                    raise OsvError(
                        f"{method} {url}: HTTP {response.status_code}: "
                        f"{response.text[:200].strip()}"
                    )
                problem = f"HTTP {response.status_code}"
                delay = self._backoff(attempt)
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if asked is not None:
                    if asked > self.max_retry_after:
                        raise OsvError(
                            f"{method} {url}: the service asks to retry after {asked:.0f} s "
                            f"(more than {self.max_retry_after:.0f} s); try again later"
                        )
                    delay = asked
            if attempt + 1 < self.max_attempts:
                self.stats["retries"] += 1
                log.info(
                    "OSV %s %s: %s; retrying in %.2f s", method, redact_url(url), problem, delay
                )
                self._sleep(delay)
        raise OsvError(f"{method} {url}: gave up after {self.max_attempts} attempts ({problem})")
