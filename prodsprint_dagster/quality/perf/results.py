"""What a load run measured: per-route counts by outcome, histograms, and the client's report.

Both types serialize to plain dicts, so generator processes can send them to their parent and
the parent can merge them (counts add, histograms merge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodsprint_dagster.quality.perf.histogram import LatencyHistogram

_COUNTERS = ("scheduled", "completed", "ok", "client_errors", "server_errors",
             "transport_errors", "timeouts", "dropped")  # fmt: skip


@dataclass
class RouteStats:
    """What one route (or all of them) got: counts by outcome and the latency histogram.

    ``errors`` are what a user would call failures: 5xx answers, transport errors, timeouts
    and requests dropped because ``max_in_flight`` were outstanding. 4xx answers are counted
    as ``client_errors`` but are not errors: the server answered, correctly or not.
    """

    route: str
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    scheduled: int = 0
    completed: int = 0
    ok: int = 0
    client_errors: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    timeouts: int = 0
    dropped: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.server_errors + self.transport_errors + self.timeouts + self.dropped

    @property
    def error_ratio(self) -> float:
        return self.errors / self.scheduled if self.scheduled else 0.0

    def record_status(self, status: int, seconds: float) -> None:
        self.completed += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.server_errors += 1
        elif status >= 400:
            self.client_errors += 1
        else:
            self.ok += 1
        self.histogram.record_us(round(seconds * 1_000_000))

    def merge(self, other: RouteStats) -> RouteStats:
        self.histogram.merge(other.histogram)
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        return self

    def summary(self, seconds: float) -> dict[str, Any]:
        h = self.histogram
        return {
            "route": self.route,
            "requests": self.scheduled,
            "completed": self.completed,
            "errors": self.errors,
            "error_ratio": round(self.error_ratio, 6),
            "client_errors": self.client_errors,
            "server_errors": self.server_errors,
            "transport_errors": self.transport_errors,
            "timeouts": self.timeouts,
            "dropped": self.dropped,
            "p50_ms": round(h.percentile(50), 3),
            "p95_ms": round(h.percentile(95), 3),
            "p99_ms": round(h.percentile(99), 3),
            "max_ms": round(h.max_us / 1000.0, 3),
            "mean_ms": round(h.mean_ms, 3),
            "rps": round(self.completed / seconds, 2) if seconds > 0 else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"route": self.route}
        doc.update({k: getattr(self, k) for k in _COUNTERS})
        doc["statuses"] = {str(k): v for k, v in self.statuses.items()}
        doc["histogram"] = self.histogram.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RouteStats:
        stats = cls(route=doc["route"], histogram=LatencyHistogram.from_dict(doc["histogram"]))
        for name in _COUNTERS:
            setattr(stats, name, int(doc.get(name) or 0))
        stats.statuses = {int(k): int(v) for k, v in (doc.get("statuses") or {}).items()}
        return stats


@dataclass
class LoadResult:
    """A finished load: per-route stats, and how well the client kept to the schedule."""

    rate: float
    duration: float
    routes: dict[str, RouteStats]
    elapsed: float = 0.0  # from the first scheduled send to the last answer
    sent: int = 0
    late: int = 0
    max_lag_ms: float = 0.0
    lag_total_ms: float = 0.0  # sum over requests of (actual send - scheduled send)
    processes: int = 1
    connections: int = 0

    @property
    def scheduled(self) -> int:
        return sum(r.scheduled for r in self.routes.values())

    def overall(self) -> RouteStats:
        total = RouteStats(route="*")
        for stats in self.routes.values():
            total.merge(stats)
        return total

    @property
    def seconds(self) -> float:
        return max(self.duration, self.elapsed)

    @property
    def mean_lag_ms(self) -> float:
        """How late, on average, a request left: the client's own share of every latency."""
        scheduled = self.scheduled
        return self.lag_total_ms / scheduled if scheduled else 0.0

    def warnings(self) -> list[str]:
        out = []
        scheduled = self.scheduled or 1
        dropped = sum(r.dropped for r in self.routes.values())
        if self.late / scheduled > 0.01:
            out.append(
                f"{self.late} of {scheduled} requests left more than the late threshold after "
                f"their scheduled time (max {self.max_lag_ms:.1f} ms): the load generator could "
                "not keep up, so latencies include its own delay"
            )
        if dropped:
            out.append(
                f"{dropped} requests dropped: the in-flight limit was reached (the server fell "
                "behind the arrival rate); they count as errors"
            )
        return out

    def summary(self) -> dict[str, Any]:
        overall = self.overall().summary(self.seconds)
        return {
            "rate": self.rate,
            "duration_seconds": self.duration,
            "elapsed_seconds": round(self.elapsed, 3),
            "scheduled": self.scheduled,
            "sent": self.sent,
            "late": self.late,
            "max_lag_ms": round(self.max_lag_ms, 3),
            "mean_lag_ms": round(self.mean_lag_ms, 4),
            "processes": self.processes,
            "connections": self.connections,
            "overall": overall,
            "routes": [s.summary(self.seconds) for s in self.routes.values()],
            "warnings": self.warnings(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "duration": self.duration,
            "elapsed": self.elapsed,
            "sent": self.sent,
            "late": self.late,
            "max_lag_ms": self.max_lag_ms,
            "lag_total_ms": self.lag_total_ms,
            "processes": self.processes,
            "connections": self.connections,
            "routes": [r.to_dict() for r in self.routes.values()],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LoadResult:
        routes = [RouteStats.from_dict(r) for r in doc["routes"]]
        return cls(
            rate=float(doc["rate"]), duration=float(doc["duration"]),
            routes={r.route: r for r in routes}, elapsed=float(doc["elapsed"]),
            sent=int(doc["sent"]), late=int(doc["late"]), max_lag_ms=float(doc["max_lag_ms"]),
            lag_total_ms=float(doc.get("lag_total_ms") or 0.0),
            processes=int(doc["processes"]), connections=int(doc["connections"]),
        )  # fmt: skip

    def merge(self, other: LoadResult) -> LoadResult:
        for route, stats in other.routes.items():
            self.routes.setdefault(route, RouteStats(route=route)).merge(stats)
        self.elapsed = max(self.elapsed, other.elapsed)
        self.sent += other.sent
        self.late += other.late
        self.max_lag_ms = max(self.max_lag_ms, other.max_lag_ms)
        self.lag_total_ms += other.lag_total_ms
        self.connections += other.connections
        return self
