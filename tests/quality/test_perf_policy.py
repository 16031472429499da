"""perf.rego: budgets per route and overall, and regressions judged by their verdicts."""

from prodsprint_dagster.policy import load_pack
from prodsprint_dagster.policy.facts import sanitize


def _entry(verdict, route="*", service="*", metric="p95_ms"):
    return {"metric": metric, "service": service, "route": route, "baseline": 40.0,
            "value": 90.0, "p_value": 1e-12, "effect": 0.8, "verdict": verdict,
            "reason": "p95 40.0 -> 90.0 ms (+125 %, allowed +8.0 ms; p=1e-12)"}  # fmt: skip


def _evaluate(perf):
    facts = sanitize({"perf": perf, "malformed": {}})
    result = load_pack("default").rego.evaluate(facts)
    deny = {d["finding"]: d["msg"] for d in result["deny"] if d["gate"] == "perf"}
    warn = {w["finding"] for w in result["warn"] if w["gate"] == "perf"}
    return deny, warn


def test_only_the_regression_verdict_blocks_and_the_raw_rule_steps_aside():
    # Twice the baseline's p95: the raw % rule would block, the verdicts say it is noise.
    perf = {"metrics": {"p95_ms": 80.0, "error_ratio": 0.0}, "baseline": {"p95_ms": 40.0},
            "regressions": [_entry("not_significant"), _entry("negligible", "/a", "web"),
                            _entry("within_bounds", "/b", "web")]}  # fmt: skip
    deny, warn = _evaluate(perf)
    assert deny == {}
    assert warn == {"p95_ms_change:web /b"}

    perf["regressions"] += [_entry("regression"), _entry("regression", "/c", "web"),
                            _entry("regression", "/c", "web", metric="error_ratio")]  # fmt: skip
    deny, _ = _evaluate(perf)
    assert set(deny) == {"p95_ms_regression", "p95_ms_regression:web /c",
                         "error_ratio_regression:web /c"}  # fmt: skip
    assert deny["p95_ms_regression:web /c"].startswith("p95_ms regressed on web /c: p95 40.0")


def test_without_verdicts_the_raw_relative_rule_applies():
    deny, _ = _evaluate({"metrics": {"p95_ms": 80.0}, "baseline": {"p95_ms": 40.0}})
    assert "p95_ms_regression" in deny and "100.0%" in deny["p95_ms_regression"]


def test_budgets_apply_to_every_route_as_well_as_overall():
    perf = {"metrics": {"p95_ms": 120.0, "error_ratio": 0.004},
            "routes": [{"service": "web", "route": "/slow", "p95_ms": 900.0, "error_ratio": 0.0},
                       {"service": "web", "route": "/boom", "p95_ms": 3.0, "error_ratio": 1.0},
                       {"service": "web", "route": "/ok", "p95_ms": 3.0, "error_ratio": 0.0}],
            "regressions": []}  # fmt: skip
    deny, _ = _evaluate(perf)
    assert set(deny) == {"p95_ms:web /slow", "error_ratio:web /boom"}
    assert deny["p95_ms:web /slow"] == "p95_ms on web /slow is 900, over the budget of 500"
    deny, _ = _evaluate({**perf, "metrics": {"p95_ms": 501.0, "error_ratio": 0.0}})
    assert "p95_ms" in deny
