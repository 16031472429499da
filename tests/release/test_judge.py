"""The canary judge on seeded synthetic traffic: detection, false alarms, marginal, no data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prodsprint_dagster.policy import PolicyError, load_pack, rollout_plan_for
from prodsprint_dagster.release import (
    JudgePolicy,
    ReleaseError,
    Samples,
    hodges_lehmann,
    judge,
    judge_policy_for,
)

N = 2000


def traffic(rng, n=N, error_rate=0.01, shift_ms=0.0, median_ms=120.0):
    """One version's window: binomial 5xx count and log-normal latencies (+ a shift)."""
    latencies = rng.lognormal(np.log(median_ms), 0.4, n) + shift_ms
    return Samples(n, int(rng.binomial(n, error_rate)), latencies)


def test_detects_five_percent_errors_over_one_percent_baseline():
    rng = np.random.default_rng(7)
    verdict = judge(traffic(rng, error_rate=0.05), traffic(rng, error_rate=0.01), JudgePolicy())
    assert verdict.overall == "fail" and verdict.action == "rollback"
    errors = verdict.metric("error_ratio")
    assert errors.verdict == "fail"
    assert errors.numbers["p_worse"] < 1e-6
    assert errors.numbers["canary_rate"] > 0.04 and errors.numbers["stable_rate"] < 0.02
    assert verdict.metric("latency").verdict == "pass"
    json.dumps(verdict.to_dict())  # stored as the step's verdict JSON


def test_detects_five_percent_errors_in_every_seed():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        assert judge(traffic(rng, error_rate=0.05), traffic(rng)).overall == "fail", seed


def test_identical_distributions_pass_in_at_least_95_percent_of_200_trials():
    outcomes = []
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        outcomes.append(judge(traffic(rng), traffic(rng)).overall)
    pass_rate = outcomes.count("pass") / len(outcomes)
    assert pass_rate >= 0.95, f"pass rate {pass_rate:.3f}"
    assert "fail" not in outcomes  # a false alarm may be marginal, never a rollback
    print(f"identical distributions: pass rate {pass_rate:.3f} over 200 trials")


def test_detects_200_ms_latency_increase():
    rng = np.random.default_rng(11)
    verdict = judge(traffic(rng, shift_ms=200), traffic(rng))
    assert verdict.overall == "fail"
    latency = verdict.metric("latency")
    assert latency.verdict == "fail"
    assert 180 < latency.numbers["hodges_lehmann_shift_ms"] < 220
    assert latency.numbers["p_slower"] < 1e-10
    assert "beyond the allowance" in latency.reason


def test_small_significant_shift_within_allowance_is_marginal():
    rng = np.random.default_rng(3)
    verdict = judge(traffic(rng, shift_ms=35), traffic(rng))  # allowed: 50 ms or 10 %
    latency = verdict.metric("latency")
    assert latency.verdict == "marginal"
    assert 25 < latency.numbers["hodges_lehmann_shift_ms"] < 45
    assert verdict.overall == "marginal"
    assert 60 <= verdict.score < 90
    assert verdict.action == "extend_window"  # the default on_marginal
    assert (
        judge(
            traffic(rng, shift_ms=35), traffic(rng), JudgePolicy(on_marginal="manual_gate")
        ).action
        == "manual_gate"
    )


def test_a_significant_but_negligible_shift_passes():
    rng = np.random.default_rng(4)
    verdict = judge(traffic(rng, shift_ms=5), traffic(rng))  # under half the 50 ms allowance
    latency = verdict.metric("latency")
    assert latency.numbers["p_slower"] < 0.01  # the test does see it...
    assert (
        latency.verdict == "pass" and "negligible" in latency.reason
    )  # ...it just does not matter
    assert verdict.overall == "pass"


def test_error_increase_within_allowance_is_marginal():
    rng = np.random.default_rng(5)
    canary = Samples(20_000, 260, rng.lognormal(np.log(120), 0.4, N))
    stable = Samples(20_000, 140, rng.lognormal(np.log(120), 0.4, N))
    errors = judge(canary, stable, JudgePolicy(error_max_increase=0.01)).metric("error_ratio")
    assert errors.verdict == "marginal"  # 1.3 % vs 0.7 %: real, but under +1 point


def test_too_few_canary_requests_is_no_data_never_pass():
    rng = np.random.default_rng(1)
    # Perfect canary, but only 120 requests: extending the window 1.7x would collect enough.
    verdict = judge(traffic(rng, n=120, error_rate=0.0), traffic(rng))
    assert verdict.overall == "no_data" and verdict.score is None
    assert verdict.action == "extend_window"
    assert verdict.numbers["window_factor"] == pytest.approx(200 / 120, abs=0.01)
    assert "canary requests 120 < 200" in verdict.reason
    # Almost idle: waiting would take too long, so generate load.
    idle = judge(traffic(rng, n=20), traffic(rng))
    assert idle.overall == "no_data" and idle.action == "generate_load"
    # No traffic at all, on the stable side.
    empty = judge(traffic(rng), Samples(0, 0, []))
    assert empty.overall == "no_data" and empty.action == "generate_load"
    # Enough requests but no latency samples.
    blind = judge(Samples(5000, 10, []), traffic(rng))
    assert blind.overall == "no_data" and "latency samples 0 < 50" in blind.reason


def test_absolute_budgets_fail_the_canary_but_not_a_shared_problem():
    rng = np.random.default_rng(9)
    policy = JudgePolicy(budget_p95_ms=300.0, budget_error_rate=0.02)
    slow = judge(traffic(rng, shift_ms=150), traffic(rng), policy)
    assert slow.metric("p95_budget").verdict == "fail"
    # Both versions over the latency budget: the canary is not the cause.
    both = judge(traffic(rng, median_ms=400), traffic(rng, median_ms=400), policy)
    assert both.metric("p95_budget").verdict == "marginal"
    assert both.metric("latency").verdict == "pass"
    assert both.overall == "pass"  # score 95: a shared budget breach weighs 10 of 100
    over = judge(traffic(rng, error_rate=0.04), traffic(rng, error_rate=0.035), policy)
    assert over.metric("error_budget").verdict == "marginal"  # stable is over it too


def test_policy_from_pack_dict_and_band_shaping(tmp_path):
    policy = JudgePolicy.from_dict(
        {"min_samples": 500, "weights": {"latency": 60}, "critical": ["error_ratio"]}
    )
    assert policy.min_samples == 500 and policy.weights["latency"] == 60
    assert policy.weights["error_ratio"] == 40 and policy.critical == ("error_ratio",)
    with pytest.raises(PolicyError, match="unknown key"):
        JudgePolicy.from_dict({"min_sample": 10})
    with pytest.raises(PolicyError, match="error_alpha"):
        JudgePolicy.from_dict({"error_alpha": 2})
    with pytest.raises(ReleaseError):
        Samples(10, 11, [])

    pack = load_pack("default")
    high = judge_policy_for(rollout_plan_for("high", pack))
    low = judge_policy_for(rollout_plan_for("low", pack))
    medium = judge_policy_for(rollout_plan_for("medium", pack))
    assert (high.latency_max_increase_ms, medium.latency_max_increase_ms) == (25, 50)
    assert low.latency_max_increase_ms == 75
    tuned = judge_policy_for(rollout_plan_for("high", pack), {"latency_max_increase_ms": 80})
    assert tuned.latency_max_increase_ms == 40  # the pack's base, scaled by the band
    assert high.error_alpha > low.error_alpha and high.on_marginal == "manual_gate"
    assert high.min_samples == 200 and low.min_samples == 200  # the plan never lowers it
    literal = judge_policy_for(
        rollout_plan_for("high", pack), {"bands": {"high": {"latency_max_increase_ms": 10}}}
    )
    assert literal.latency_max_increase_ms == 10
    # A stricter band turns a marginal shift into a failure.
    rng = np.random.default_rng(3)
    canary, stable = traffic(rng, shift_ms=40), traffic(rng)
    assert judge(canary, stable, medium).metric("latency").verdict == "marginal"
    assert judge(canary, stable, high).metric("latency").verdict == "fail"


def test_hodges_lehmann_is_deterministic_and_thinned():
    rng = np.random.default_rng(0)
    a = rng.normal(300, 20, 5000)
    b = rng.normal(250, 20, 5000)
    shift = hodges_lehmann(a, b, limit=500)
    assert shift == hodges_lehmann(a, b, limit=500)
    assert shift == pytest.approx(50, abs=3)
    assert hodges_lehmann(np.array([3.0]), np.array([1.0, 2.0])) == 1.5
