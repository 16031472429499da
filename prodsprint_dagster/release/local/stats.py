"""Per-version request statistics kept by the proxy: counters, a histogram, recent samples.

The canary judge wants individual latencies (Mann-Whitney U compares distributions) for a
time window, and Prometheus wants cumulative counters and a histogram. Both come from one
``record`` call per request: counters never reset while the proxy runs; samples live in a
fixed-size ring buffer of (timestamp, latency, status) so memory is bounded and
``window(since=t)`` can tell the judge when older samples were already overwritten.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

# Seconds; the upper bounds of the Prometheus histogram (``+Inf`` is implied).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class VersionStats:
    """Statistics of one backend version; not thread-safe (the proxy is one event loop)."""

    __slots__ = (
        "_idx",
        "_lat",
        "_status",
        "_ts",
        "buckets",
        "capacity",
        "classes",
        "filled",
        "inflight",
        "latency_sum",
        "requests",
    )

    def __init__(self, capacity: int = 50_000):
        self.capacity = capacity
        self.requests = 0
        self.inflight = 0
        self.classes = [0] * 6  # index = status // 100; 0 collects anything outside 1xx-5xx
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # non-cumulative; last is +Inf
        self.latency_sum = 0.0
        self._ts = array("d", [0.0]) * capacity
        self._lat = array("f", [0.0]) * capacity
        self._status = array("H", [0]) * capacity
        self._idx = 0
        self.filled = 0

    def record(self, status: int, latency_s: float, now: float) -> None:
        self.requests += 1
        cls = status // 100
        self.classes[cls if 1 <= cls <= 5 else 0] += 1
        self.buckets[bisect_left(LATENCY_BUCKETS, latency_s)] += 1
        self.latency_sum += latency_s
        i = self._idx
        self._ts[i] = now
        self._lat[i] = latency_s * 1000.0
        self._status[i] = status
        self._idx = (i + 1) % self.capacity
        if self.filled < self.capacity:
            self.filled += 1

    def _order(self) -> Iterator[int]:
        """Ring indices from oldest to newest."""
        start = self._idx if self.filled == self.capacity else 0
        for k in range(self.filled):
            yield (start + k) % self.capacity

    def window(self, since: float | None = None) -> dict[str, Any]:
        """Samples for the judge: counts and latencies of requests finished at or after ``since``.

        With ``since=None`` the counts are the lifetime counters and the latencies whatever the
        ring still holds. ``truncated`` is true when requests of the window were overwritten.
        """
        if since is None:
            lat = [round(self._lat[i], 3) for i in self._order()]
            classes = {name: self.classes[k + 1] for k, name in enumerate(STATUS_CLASSES)}
            return {
                "requests": self.requests,
                "errors_5xx": self.classes[5],
                "errors": self.classes[5],
                "latencies_ms": lat,
                "status_classes": classes,
                "truncated": self.requests > self.filled,
            }
        lat: list[float] = []
        counts = [0] * 6
        oldest: float | None = None
        for i in self._order():
            ts = self._ts[i]
            if oldest is None:
                oldest = ts
            if ts >= since:
                lat.append(round(self._lat[i], 3))
                cls = self._status[i] // 100
                counts[cls if 1 <= cls <= 5 else 0] += 1
        truncated = self.filled == self.capacity and oldest is not None and oldest > since
        return {
            "requests": len(lat),
            "errors_5xx": counts[5],
            "errors": counts[5],
            "latencies_ms": lat,
            "status_classes": {name: counts[k + 1] for k, name in enumerate(STATUS_CLASSES)},
            "truncated": truncated,
        }


# (service, version, stats, weight, active) for every version the proxy knows.
StatsRow = tuple[str, str, VersionStats, int, bool]


class ProxyCollector:
    """prometheus_client collector over the proxy's live statistics (read at scrape time)."""

    def __init__(self, environment: str, rows: Callable[[], Iterable[StatsRow]]):
        self.environment = environment
        self.rows = rows

    def collect(self) -> Iterator[Any]:
        labels = ["environment", "service", "version"]
        requests = CounterMetricFamily(
            "prodsprint_proxy_requests",
            "Requests proxied to a version, by status class (5xx includes proxy errors).",
            labels=[*labels, "code"],
        )
        duration = HistogramMetricFamily(
            "prodsprint_proxy_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response.",
            labels=labels,
        )
        inflight = GaugeMetricFamily(
            "prodsprint_proxy_inflight_requests", "Requests being proxied now.", labels=labels
        )
        weight = GaugeMetricFamily(
            "prodsprint_proxy_backend_weight",
            "Traffic weight of a version (0 when it is no longer routed).",
            labels=labels,
        )
        for service, version, st, w, active in self.rows():
            values = [self.environment, service, version]
            for k, name in enumerate(STATUS_CLASSES):
                requests.add_metric([*values, name], st.classes[k + 1])
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), st.buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            duration.add_metric(values, buckets, st.latency_sum)
            inflight.add_metric(values, st.inflight)
            weight.add_metric(values, w if active else 0)
        yield requests
        yield duration
        yield inflight
        yield weight
