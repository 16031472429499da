"""A k6 script per service with the same load and the same absolute budgets, for users' own CI.

The script uses k6's ``constant-arrival-rate`` executor (the same open model as ours) and turns
the pack's budgets into k6 thresholds: ``p95_ms`` -> ``http_req_duration: p(95)<N`` and
``error_ratio`` -> ``http_req_failed: rate<N``, overall and per route (tagged by name), with
``abortOnFail`` off so the run reports every breach. Like ours, only 5xx answers and transport
errors are failures (``http.setResponseCallback``), not 4xx. k6 has no baseline comparison;
the relative budgets stay with ProdSprint.

Every string that comes from the repository (service name, routes) enters the script as a
JSON literal, which is a valid JavaScript string literal: nothing in it can end the string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

_THRESHOLD_METRICS = {"p95_ms": "http_req_duration", "p99_ms": "http_req_duration",
                      "p50_ms": "http_req_duration", "error_ratio": "http_req_failed"}  # fmt: skip
_AGGREGATE = {"p95_ms": "p(95)", "p99_ms": "p(99)", "p50_ms": "med", "error_ratio": "rate"}


def _js(value: object) -> str:
    text = json.dumps(value, sort_keys=True)
    # JSON allows these two line terminators inside strings; old JS engines do not.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("</", "<\\/")


def thresholds(budgets: Mapping[str, float], routes: Sequence[str]) -> dict[str, list[str]]:
    """k6 thresholds for the budgets k6 can express, overall and per route."""
    out: dict[str, list[str]] = {}
    for metric, budget in sorted(budgets.items()):
        if metric not in _THRESHOLD_METRICS:
            continue
        k6_metric, agg = _THRESHOLD_METRICS[metric], _AGGREGATE[metric]
        rule = f"{agg}<{budget:g}"
        out.setdefault(k6_metric, []).append(rule)
        for route in routes:
            out.setdefault(f"{k6_metric}{{name:{route}}}", []).append(rule)
    return out


def render_k6_script(
    service: str,
    routes: Sequence[str],
    *,
    rate: float,
    duration_seconds: float,
    budgets: Mapping[str, float],
    base_url: str = "http://127.0.0.1:8000",
) -> str:
    """The k6 script (JavaScript) for ``service``; BASE_URL overrides the URL at run time."""
    per_second = max(1, math.ceil(rate))
    options = {
        "scenarios": {
            "open_model": {
                "executor": "constant-arrival-rate",
                "rate": per_second,
                "timeUnit": "1s",
                "duration": f"{max(1, math.ceil(duration_seconds))}s",
                "preAllocatedVUs": max(2, min(per_second, 50)),
                "maxVUs": max(10, per_second * 4),
            }
        },
        "thresholds": thresholds(budgets, routes),
        "summaryTrendStats": ["avg", "med", "p(95)", "p(99)", "max"],
    }
    return f"""// k6 load test for {_js(service)}, rendered by ProdSprint from its perf baseline.
// Run: k6 run -e BASE_URL=http://127.0.0.1:8000 {_slug(service)}.k6.js
// Open model: {per_second} requests/s whatever the latency, like `prodsprint perf`.
import exec from "k6/execution";
import http from "k6/http";

export const options = {_js(options)};

// 5xx and transport errors fail; a 4xx is an answer (same rule as ProdSprint's perf gate).
http.setResponseCallback(http.expectedStatuses({{ min: 200, max: 499 }}));

const BASE_URL = (__ENV.BASE_URL || {_js(base_url)}).replace(/\\/+$/, "");
const ROUTES = {_js(list(routes))};

export default function () {{
  const route = ROUTES[exec.scenario.iterationInTest % ROUTES.length];
  http.get(BASE_URL + route, {{ tags: {{ name: route }} }});
}}
"""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:80] or "service"


def script_name(service: str) -> str:
    """The artifact name of a service's script."""
    return f"perf/k6/{_slug(service)}.k6.js"
