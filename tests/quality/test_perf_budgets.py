"""Budgets and baseline comparisons on histograms with known differences."""

import numpy as np
import pytest

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.quality.perf import LatencyHistogram, Measured, PerfSettings, compare_runs
from prodsprint_dagster.quality.perf.budgets import compare_errors, compare_latency, over_budget

SETTINGS = PerfSettings()


def _measured(latencies_ms, errors=0) -> Measured:
    hist = LatencyHistogram()
    hist.record_many_ms(latencies_ms)
    return Measured(hist, len(latencies_ms), errors)


def _lognormal(seed, n=1500, median_ms=40.0, sigma=0.3):
    return np.random.default_rng(seed).lognormal(np.log(median_ms), sigma, n)


def test_the_same_distribution_twice_is_not_a_regression():
    for seed in range(20):
        entry = compare_latency(_measured(_lognormal(seed)), _measured(_lognormal(seed + 100)),
                                SETTINGS)  # fmt: skip
        assert entry["verdict"] in ("not_significant", "negligible", "within_bounds"), entry


def test_a_shift_of_the_whole_distribution_is_a_regression():
    entry = compare_latency(_measured(_lognormal(1) * 1.4), _measured(_lognormal(2)), SETTINGS)
    assert entry["verdict"] == "regression"
    assert entry["p_value"] < 1e-6 and entry["effect"] > 0.3
    assert entry["value"] > entry["baseline"] * 1.2
    assert "Cliff's delta" in entry["reason"]


def test_a_fattened_tail_is_a_regression_though_the_median_holds():
    base = _lognormal(3, n=3000)
    cur = _lognormal(4, n=3000)
    cur[: int(0.08 * cur.size)] += 400  # 8 % of requests 400 ms slower
    entry = compare_latency(_measured(cur), _measured(base), SETTINGS)
    assert entry["verdict"] == "regression", entry
    assert entry["effect"] < SETTINGS.min_effect <= entry["tail_effect"]


def test_a_significant_shift_under_the_practical_bound_is_not_a_regression():
    # 10 % slower on a 2 ms service: significant with this many samples, but 0.2 ms is noise.
    entry = compare_latency(_measured(_lognormal(5, median_ms=2.2)),
                            _measured(_lognormal(6, median_ms=2.0)), SETTINGS)  # fmt: skip
    assert entry["p_value"] < SETTINGS.alpha
    assert entry["verdict"] in ("within_bounds", "negligible")


def test_too_few_samples_are_insufficient_not_passed_or_failed():
    entry = compare_latency(_measured([500.0] * 10), _measured([10.0] * 10), SETTINGS)
    assert entry["verdict"] == "insufficient_data" and entry["p_value"] is None


def test_error_ratio_regression_needs_significance_and_size():
    base = _measured(_lognormal(7, n=1000), errors=2)
    assert compare_errors(_measured(_lognormal(8, n=1000), errors=60), base, SETTINGS)[
        "verdict"] == "regression"  # fmt: skip
    assert compare_errors(_measured(_lognormal(9, n=1000), errors=4), base, SETTINGS)[
        "verdict"] == "not_significant"  # fmt: skip


def test_compare_runs_covers_common_routes_overall_first():
    cur = {("*", "*"): _measured(_lognormal(1)), ("web", "/a"): _measured(_lognormal(2)),
           ("web", "/new"): _measured(_lognormal(3))}  # fmt: skip
    base = {("*", "*"): _measured(_lognormal(4)), ("web", "/a"): _measured(_lognormal(5)),
            ("web", "/gone"): _measured(_lognormal(6))}  # fmt: skip
    entries = compare_runs(cur, base, SETTINGS)
    assert [(e["route"], e["metric"]) for e in entries] == [
        ("*", "p95_ms"),
        ("*", "error_ratio"),
        ("/a", "p95_ms"),
        ("/a", "error_ratio"),
    ]


def test_absolute_budgets_and_settings_from_the_pack():
    settings = PerfSettings.from_pack({"perf_budgets": {"p95_ms": 100, "error_ratio": 0.01},
                                       "perf_max_regression_pct": 10, "perf_rate": 25})  # fmt: skip
    assert settings.max_regression_pct == 10 and settings.rate == 25
    assert over_budget({"p95_ms": 120.0, "error_ratio": 0.0}, settings.budgets) == [
        {"metric": "p95_ms", "value": 120.0, "budget": 100.0}
    ]
    with pytest.raises(ProdSprintError, match="perf_min_effect"):
        PerfSettings.from_pack({"perf_min_effect": "big"})
    with pytest.raises(ProdSprintError, match="perf_budgets"):
        PerfSettings.from_pack({"perf_budgets": {"p95_ms": "fast"}})
