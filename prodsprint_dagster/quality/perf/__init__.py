"""Perf baselines: open-model load, HDR-style histograms, budgets and baseline regressions.

Entry points: :func:`measure_checkout` / :func:`measure_url` (start services, find routes,
drive them), :func:`compare_runs` and :class:`PerfSettings` (the pack's budgets, Mann-Whitney U
with effect sizes), :func:`record_run` / :func:`accepted_baseline` / :func:`accept_baseline`
(history), :func:`render_k6_script`, and the building blocks :class:`LoadPlan` /
:func:`run_load` and :class:`LatencyHistogram`. See docs/perf.md.

Names are resolved on first use (PEP 562): the load generator's worker processes import only
``loadgen`` and ``histogram``, not the service runner and the statistics behind it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LatencyHistogram": "histogram",
    "LoadError": "loadgen",
    "LoadPlan": "loadgen",
    "LoadResult": "results",
    "RouteStats": "results",
    "drive": "loadgen",
    "run_closed": "loadgen",
    "run_load": "loadgen",
    "Discovery": "routes",
    "Route": "routes",
    "code_routes": "routes",
    "discover_routes": "routes",
    "openapi_routes": "routes",
    "RunningService": "service",
    "ServiceError": "service",
    "ServiceSpec": "service",
    "running_service": "service",
    "spec_from_audit": "service",
    "start_service": "service",
    "Measured": "budgets",
    "PerfSettings": "budgets",
    "compare_runs": "budgets",
    "over_budget": "budgets",
    "regressions_only": "budgets",
    "render_k6_script": "k6",
    "script_name": "k6",
    "Baseline": "history",
    "PerfRun": "history",
    "accept_baseline": "history",
    "accepted_baseline": "history",
    "get_run": "history",
    "measurements": "history",
    "record_run": "history",
    "route_results": "history",
    "runs": "history",
    "Measurement": "runner",
    "http_services": "runner",
    "measure_checkout": "runner",
    "measure_url": "runner",
    "perf_document": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
