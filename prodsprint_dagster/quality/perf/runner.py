"""One perf measurement from start to document: start services, find routes, drive, summarize.

Shared by the perf stage (the ``perf_baseline`` asset) and ``prodsprint perf``, so that both
measure the same way. Services are measured one after the other, each at the full rate, so one
service's load never disturbs another's numbers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodsprint_dagster.quality.perf.budgets import Measured, PerfSettings, over_budget
from prodsprint_dagster.quality.perf.history import OVERALL, RouteRecord
from prodsprint_dagster.quality.perf.loadgen import LoadPlan, run_load
from prodsprint_dagster.quality.perf.results import LoadResult, RouteStats
from prodsprint_dagster.quality.perf.routes import Discovery, discover_routes, explicit_routes
from prodsprint_dagster.quality.perf.service import ServiceSpec, running_service, spec_from_audit

Progress = Callable[[str], None]
Tick = Callable[[str, float, float], None]  # service, elapsed seconds, duration
_NON_HTTP_ROLES = ("worker", "job")
METRIC_KEYS = ("p95_ms", "error_ratio", "p50_ms", "p99_ms", "rps")


@dataclass
class ServiceRun:
    """One service's measurement: where it ran, which routes, and what the load saw."""

    name: str
    url: str
    discovery: Discovery
    result: LoadResult
    spec: ServiceSpec | None = None
    log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "started": self.spec is not None,
            "spec": self.spec.to_dict() if self.spec else None,
            "log": self.log,
            "routes_source": self.discovery.source,
            "routes": [r.to_dict() for r in self.discovery.routes],
            "load": {k: v for k, v in self.result.summary().items() if k not in ("routes",)},
        }


@dataclass
class Skipped:
    name: str
    reason: str


@dataclass
class Measurement:
    """Everything measured in one perf run (all services)."""

    rate: float
    duration: float
    services: list[ServiceRun] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def overall(self) -> RouteStats:
        total = RouteStats(route="*")
        for run in self.services:
            for stats in run.result.routes.values():
                total.merge(stats)
        return total

    @property
    def seconds(self) -> float:
        return sum(run.result.seconds for run in self.services)

    def metrics(self) -> dict[str, float]:
        """The run's gate metrics: p50/p95/p99 ms, error ratio and achieved requests/s."""
        summary = self.overall().summary(self.seconds)
        return {key: summary[key] for key in METRIC_KEYS}

    def route_rows(self) -> list[dict[str, Any]]:
        rows = []
        for run in self.services:
            for stats in run.result.routes.values():
                rows.append({"service": run.name, **stats.summary(run.result.seconds)})
        return rows

    def records(self) -> list[RouteRecord]:
        """What the history store keeps: every route and the whole run, with histograms."""
        overall = self.overall()
        out = [RouteRecord(*OVERALL, overall.summary(self.seconds), overall.histogram)]
        for run in self.services:
            for stats in run.result.routes.values():
                out.append(RouteRecord(run.name, stats.route, stats.summary(run.result.seconds),
                                       stats.histogram))  # fmt: skip
        return out

    def measured(self) -> dict[tuple[str, str], Measured]:
        return {
            (r.service, r.route): Measured(
                r.histogram, int(r.summary["requests"]), int(r.summary["errors"])
            )
            for r in self.records()
        }

    def client(self) -> dict[str, Any]:
        """How well the generator kept to the schedule, over all services."""
        results = [run.result for run in self.services]
        return {
            "late": sum(r.late for r in results),
            "dropped": sum(s.dropped for r in results for s in r.routes.values()),
            "max_lag_ms": round(max((r.max_lag_ms for r in results), default=0.0), 3),
            "processes": max((r.processes for r in results), default=1),
            "connections": sum(r.connections for r in results),
            "warnings": [w for r in results for w in r.warnings()],
        }


def http_services(audit: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The audit's services that listen on a port (workers and jobs do not)."""
    return [
        s for s in audit.get("services", [])
        if s.get("port") and s.get("role") not in _NON_HTTP_ROLES
    ]  # fmt: skip


def _drive(
    name: str, url: str, discovery: Discovery, rate: float, duration: float, tick: Tick | None,
    max_in_flight: int,
) -> LoadResult:  # fmt: skip
    plan = LoadPlan(url, tuple(discovery.driven), rate=rate, duration=duration,
                    max_in_flight=max_in_flight)  # fmt: skip
    on_tick = (lambda elapsed: tick(name, elapsed, duration)) if tick else None
    return run_load(plan, on_tick=on_tick)


def measure_url(
    url: str,
    *,
    rate: float,
    duration: float,
    routes: Sequence[str] = (),
    name: str = "service",
    progress: Progress | None = None,
    tick: Tick | None = None,
    max_in_flight: int = 512,
) -> Measurement:
    """Drive a service that already runs at ``url`` (routes: given, else OpenAPI, else '/')."""
    say = progress or (lambda _: None)
    discovery = explicit_routes(routes) if routes else discover_routes(base_url=url)
    say(f"{name}: {len(discovery.driven)} route(s) from {discovery.source} at {rate:g}/s")
    result = _drive(name, url, discovery, rate, duration, tick, max_in_flight)
    return Measurement(rate, duration, [ServiceRun(name, url, discovery, result)])


def measure_checkout(
    audit: Mapping[str, Any],
    checkout: Path,
    *,
    rate: float,
    duration: float,
    routes: Sequence[str] = (),
    configured: Sequence[str] = (),
    home: Path | None = None,
    log_dir: Path | None = None,
    health_timeout: float = 60.0,
    progress: Progress | None = None,
    tick: Tick | None = None,
    max_in_flight: int = 512,
) -> Measurement:
    """Start each HTTP service of ``audit`` from ``checkout``, drive it, stop it."""
    say = progress or (lambda _: None)
    logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="prodsprint-perf-"))
    measurement = Measurement(rate, duration)
    for service in http_services(audit):
        name = str(service.get("name") or "service")
        if not service.get("start_command"):
            measurement.skipped.append(Skipped(name, "the audit found no start command"))
            continue
        spec = spec_from_audit(audit, service, checkout, home=home)
        say(f"{name}: starting `{' '.join(spec.display_command())}`")
        log = logs / f"{_file_name(name)}.log"
        with running_service(spec, log, health_timeout=health_timeout) as svc:
            if routes:
                discovery = explicit_routes(routes)
            else:
                discovery = discover_routes(base_url=svc.url, root=spec.cwd,
                                            configured=configured,
                                            health_path=spec.health_path)  # fmt: skip
            say(f"{name}: {len(discovery.driven)} route(s) from {discovery.source} at "
                f"{rate:g}/s for {duration:g}s")  # fmt: skip
            result = _drive(name, svc.url, discovery, rate, duration, tick, max_in_flight)
        measurement.services.append(ServiceRun(name, svc.url, discovery, result, spec, str(log)))
    return measurement


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:80] or "service"


def perf_document(
    measurement: Measurement,
    settings: PerfSettings,
    *,
    baseline: Mapping[str, Any] | None = None,
    baseline_run: Mapping[str, Any] | None = None,
    comparisons: list[dict[str, Any]] | None = None,
    k6: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The perf.json the readiness gate reads (numbers only under metrics and baseline)."""
    metrics = measurement.metrics()
    routes = measurement.route_rows()
    breaches = [{"service": "*", "route": "*", **b} for b in over_budget(metrics, settings.budgets)]
    for row in routes:
        breaches += [{"service": row["service"], "route": row["route"], **b}
                     for b in over_budget(row, settings.budgets)]  # fmt: skip
    return {
        "metrics": metrics,
        "baseline": {k: baseline[k] for k in METRIC_KEYS if k in baseline} if baseline else None,
        "baseline_run": dict(baseline_run) if baseline_run else None,
        "regressions": list(comparisons or []),
        "over_budget": breaches,
        "routes": routes,
        "services": [run.to_dict() for run in measurement.services],
        "skipped": [{"name": s.name, "reason": s.reason} for s in measurement.skipped],
        "k6": dict(k6 or {}),
        "client": measurement.client(),
        "load": {"rate": measurement.rate, "duration_seconds": measurement.duration},
        "settings": settings.to_dict(),
    }
