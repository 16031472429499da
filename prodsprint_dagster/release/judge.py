"""The canary judge: is the canary worse than stable, by enough to matter, with enough data?

Fixed thresholds alone cannot tell a bad canary from a bad afternoon, so the judge compares the
canary against stable serving the same traffic at the same time (the Kayenta approach) and only
then against absolute budgets. Each metric asks two questions, both one-sided: is the canary
*significantly* worse (a test at ``alpha``), and is it worse by *more than the policy allows*
(an effect size against a bound). Significant but within the allowance is ``marginal``
(or ``pass`` when the effect is under ``marginal_fraction`` of the allowance: negligible);
significant and beyond it is ``fail``. A version with too little traffic is ``no_data`` with
the action that would fix it, never a pass: an idle canary proves nothing.

Pure functions on numbers (numpy and scipy only), so sensors, jobs, the CLI and the benchmark
call the same code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import stats

from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.release.errors import ReleaseError

METRICS: tuple[str, ...] = ("error_ratio", "latency", "error_budget", "p95_budget")
OVERALL: tuple[str, ...] = ("pass", "marginal", "fail", "no_data")
MARGINAL_ACTIONS: tuple[str, ...] = ("extend_window", "manual_gate", "rollback", "continue")
_SCORES = {"pass": 100.0, "marginal": 50.0, "fail": 0.0}


@dataclass(frozen=True, eq=False)
class Samples:
    """What one version served in the analysis window: requests, 5xx errors, latencies in ms.

    ``latencies_ms`` may be a sample of the requests (routers often keep a reservoir), so its
    length need not equal ``requests``.
    """

    requests: int
    errors: int
    latencies_ms: Any = ()

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int | np.integer):
            raise ReleaseError(f"samples: requests must be an integer, got {self.requests!r}")
        if isinstance(self.errors, bool) or not isinstance(self.errors, int | np.integer):
            raise ReleaseError(f"samples: errors must be an integer, got {self.errors!r}")
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ReleaseError(
                f"samples: need 0 <= errors <= requests, got {self.errors} errors of "
                f"{self.requests} requests"
            )
        latencies = np.asarray(self.latencies_ms, dtype=np.float64).ravel()
        if latencies.size and (not np.all(np.isfinite(latencies)) or latencies.min() < 0):
            raise ReleaseError("samples: latencies must be finite, non-negative milliseconds")
        object.__setattr__(self, "latencies_ms", latencies)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Samples:
        """From ``{"requests", "errors", "latencies_ms"}`` (e.g. a deploy target's metrics)."""
        try:
            return cls(
                requests=int(doc["requests"]),
                errors=int(doc.get("errors", 0)),
                latencies_ms=doc.get("latencies_ms") or (),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReleaseError(f"samples are malformed: {exc}") from None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class JudgePolicy:
    """Thresholds of the judge; every field has a default, a pack overrides any of them."""

    min_samples: int = 200  # requests per version, below which the verdict is no_data
    min_latency_samples: int = 50  # latency samples per version, same rule
    max_window_extension: float = 4.0  # needing a longer extension than this: generate load
    error_alpha: float = 0.01
    error_max_increase: float = 0.005  # absolute error-rate increase tolerated (0.5 points)
    latency_alpha: float = 0.01
    latency_max_increase_ms: float = 50.0  # Hodges-Lehmann shift tolerated ...
    latency_max_increase_pct: float = 10.0  # ... or this % of stable's median, the larger
    p95_max_increase_ms: float = 100.0  # p95 increase tolerated ...
    p95_max_increase_pct: float = 20.0  # ... or this % of stable's p95, the larger
    budget_p95_ms: float | None = None  # absolute budgets; None: not judged
    budget_error_rate: float | None = None
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "error_ratio": 40.0,
            "latency": 40.0,
            "error_budget": 10.0,
            "p95_budget": 10.0,
        }
    )
    critical: tuple[str, ...] = METRICS  # a failing critical metric fails the verdict
    pass_score: float = 90.0
    marginal_score: float = 60.0
    on_marginal: str = "extend_window"
    # A significant difference smaller than this fraction of the allowance is negligible:
    # statistics without practical significance must not hold a release back.
    marginal_fraction: float = 0.5
    hl_max_samples: int = 500  # per version, for the O(n*m) Hodges-Lehmann estimate

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> PolicyError:
            return PolicyError(
                f"judge policy: {name} must be {expected}, got {getattr(self, name)!r}"
            )

        for name in ("min_samples", "min_latency_samples", "hl_max_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "an integer >= 1")
        for name in ("error_alpha", "latency_alpha"):
            if not _number(getattr(self, name)) or not 0 < getattr(self, name) < 0.5:
                raise bad(name, "a probability between 0 and 0.5")
        for name in (
            "error_max_increase",
            "latency_max_increase_ms",
            "latency_max_increase_pct",
            "p95_max_increase_ms",
            "p95_max_increase_pct",
        ):
            if not _number(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "a number >= 0")
        if not _number(self.max_window_extension) or self.max_window_extension < 1:
            raise bad("max_window_extension", "a number >= 1")
        if self.budget_p95_ms is not None and (
            not _number(self.budget_p95_ms) or self.budget_p95_ms <= 0
        ):
            raise bad("budget_p95_ms", "a positive number or null")
        if self.budget_error_rate is not None and (
            not _number(self.budget_error_rate) or not 0 <= self.budget_error_rate < 1
        ):
            raise bad("budget_error_rate", "a rate between 0 and 1, or null")
        if not isinstance(self.weights, Mapping) or set(self.weights) - set(METRICS):
            raise bad("weights", f"a mapping over {', '.join(METRICS)}")
        if any(not _number(w) or w < 0 for w in self.weights.values()):
            raise bad("weights", "non-negative numbers")
        if not set(self.critical) <= set(METRICS):
            raise bad("critical", f"a subset of {', '.join(METRICS)}")
        if not (_number(self.pass_score) and _number(self.marginal_score)) or not (
            0 <= self.marginal_score <= self.pass_score <= 100
        ):
            raise PolicyError(
                "judge policy: need 0 <= marginal_score <= pass_score <= 100, got "
                f"{self.marginal_score!r} and {self.pass_score!r}"
            )
        if self.on_marginal not in MARGINAL_ACTIONS:
            raise bad("on_marginal", f"one of {', '.join(MARGINAL_ACTIONS)}")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None) -> JudgePolicy:
        """From a pack's settings mapping; unknown keys are refused (a typo is not a default)."""
        if doc is None:
            return cls()
        if not isinstance(doc, Mapping):
            raise PolicyError("judge policy: expected a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise PolicyError(
                f"judge policy: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        values = dict(doc)
        if "weights" in values and isinstance(values["weights"], Mapping):
            values["weights"] = {**cls().weights, **values["weights"]}
        if "critical" in values and isinstance(values["critical"], list | tuple):
            values["critical"] = tuple(values["critical"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["weights"] = dict(self.weights)
        doc["critical"] = list(self.critical)
        return doc


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's verdict (pass, marginal, fail or skipped), why, and the numbers behind it."""

    name: str
    verdict: str
    reason: str
    numbers: dict[str, Any]
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.reason,
            "numbers": self.numbers,
            "weight": self.weight,
        }


@dataclass(frozen=True)
class Verdict:
    """The judge's answer: overall verdict, score 0..100 (None without data) and next action.

    ``action`` is ``continue`` (pass), ``rollback`` (fail), ``generate_load`` or
    ``extend_window`` (no_data), or the policy's ``on_marginal`` for a marginal verdict.
    """

    overall: str
    score: float | None
    action: str
    reason: str
    metrics: tuple[MetricVerdict, ...]
    numbers: dict[str, Any]

    def metric(self, name: str) -> MetricVerdict | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "score": self.score,
            "action": self.action,
            "reason": self.reason,
            "metrics": [m.to_dict() for m in self.metrics],
            "numbers": self.numbers,
        }


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


def _thin(values: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced order statistics: deterministic and shape-preserving."""
    ordered = np.sort(values)
    if ordered.size <= limit:
        return ordered
    return ordered[np.linspace(0, ordered.size - 1, limit).round().astype(np.int64)]


def hodges_lehmann(canary: np.ndarray, stable: np.ndarray, *, limit: int = 500) -> float:
    """Median of all pairwise differences canary - stable (on thinned samples past ``limit``)."""
    diffs = np.subtract.outer(_thin(canary, limit), _thin(stable, limit))
    return float(np.median(diffs))


def _no_data(canary: Samples, stable: Samples, policy: JudgePolicy) -> Verdict | None:
    """The no-data verdict when either version is short of samples, else None."""
    counts = {
        "canary_requests": canary.requests,
        "stable_requests": stable.requests,
        "canary_latency_samples": int(canary.latencies_ms.size),
        "stable_latency_samples": int(stable.latencies_ms.size),
        "min_samples": policy.min_samples,
        "min_latency_samples": policy.min_latency_samples,
    }
    short = []
    factor = 1.0
    for have, need, what in (
        (canary.requests, policy.min_samples, "canary requests"),
        (stable.requests, policy.min_samples, "stable requests"),
        (canary.latencies_ms.size, policy.min_latency_samples, "canary latency samples"),
        (stable.latencies_ms.size, policy.min_latency_samples, "stable latency samples"),
    ):
        if have < need:
            short.append(f"{what} {have} < {need}")
            factor = math.inf if have == 0 else max(factor, need / have)
    if not short:
        return None
    if factor <= policy.max_window_extension:
        action = "extend_window"
        hint = f"extend the analysis window {factor:.1f}x"
    else:
        action = "generate_load"
        hint = (
            "no traffic at all reached a version"
            if math.isinf(factor)
            else f"traffic would need a {factor:.1f}x longer window "
            f"(more than {policy.max_window_extension:g}x)"
        )
        hint += "; generate load"
    counts["window_factor"] = None if math.isinf(factor) else _r(factor, 3)
    return Verdict(
        overall="no_data",
        score=None,
        action=action,
        reason=f"not enough data ({'; '.join(short)}): {hint}",
        metrics=(),
        numbers=counts,
    )


def _error_ratio(canary: Samples, stable: Samples, policy: JudgePolicy) -> tuple[str, str, dict]:
    # Worse at all: Fisher's exact test, one-sided (exact with the tiny counts errors come in).
    table = [
        [canary.errors, canary.requests - canary.errors],
        [stable.errors, stable.requests - stable.errors],
    ]
    p_worse = float(stats.fisher_exact(table, alternative="greater").pvalue)
    # Worse beyond the allowance: Wald z-test against the shifted null p_c - p_s <= delta,
    # with the Agresti-Caffo adjustment (one error and one success added per version) so that
    # zero-error windows still have a variance.
    pc = (canary.errors + 1) / (canary.requests + 2)
    ps = (stable.errors + 1) / (stable.requests + 2)
    se = math.sqrt(pc * (1 - pc) / (canary.requests + 2) + ps * (1 - ps) / (stable.requests + 2))
    z = (pc - ps - policy.error_max_increase) / se
    p_beyond = float(stats.norm.sf(z))
    increase = canary.error_rate - stable.error_rate
    numbers = {
        "canary_rate": _r(canary.error_rate),
        "stable_rate": _r(stable.error_rate),
        "increase": _r(increase),
        "allowed_increase": policy.error_max_increase,
        "p_worse": _r(p_worse, 8),
        "p_beyond_allowed": _r(p_beyond, 8),
        "alpha": policy.error_alpha,
        "test": "fisher_exact(greater) + agresti_caffo_wald(margin)",
    }
    rates = f"canary {canary.error_rate:.2%} vs stable {stable.error_rate:.2%}"
    if p_worse < policy.error_alpha and p_beyond < policy.error_alpha:
        return (
            "fail",
            f"error rate {rates}: worse by more than the allowed "
            f"{policy.error_max_increase:.2%} (p={p_beyond:.2g})",
            numbers,
        )
    if p_worse < policy.error_alpha and increase > policy.marginal_fraction * (
        policy.error_max_increase
    ):
        return (
            "marginal",
            f"error rate {rates}: significantly worse (p={p_worse:.2g}) but not beyond the "
            f"allowed {policy.error_max_increase:.2%}",
            numbers,
        )
    return "pass", f"error rate {rates}: not significantly worse (p={p_worse:.2g})", numbers


def _latency(canary: Samples, stable: Samples, policy: JudgePolicy) -> tuple[str, str, dict]:
    c, s = canary.latencies_ms, stable.latencies_ms
    p_slower = float(stats.mannwhitneyu(c, s, alternative="greater").pvalue)
    shift = hodges_lehmann(c, s, limit=policy.hl_max_samples)
    stable_median = float(np.median(s))
    stable_p95, canary_p95 = float(np.percentile(s, 95)), float(np.percentile(c, 95))
    allowed_shift = max(
        policy.latency_max_increase_ms, stable_median * policy.latency_max_increase_pct / 100
    )
    allowed_p95 = max(policy.p95_max_increase_ms, stable_p95 * policy.p95_max_increase_pct / 100)
    p95_increase = canary_p95 - stable_p95
    numbers = {
        "canary_median_ms": _r(np.median(c), 3),
        "stable_median_ms": _r(stable_median, 3),
        "canary_p95_ms": _r(canary_p95, 3),
        "stable_p95_ms": _r(stable_p95, 3),
        "hodges_lehmann_shift_ms": _r(shift, 3),
        "allowed_shift_ms": _r(allowed_shift, 3),
        "p95_increase_ms": _r(p95_increase, 3),
        "allowed_p95_increase_ms": _r(allowed_p95, 3),
        "p_slower": _r(p_slower, 8),
        "alpha": policy.latency_alpha,
        "test": "mann_whitney_u(greater) + hodges_lehmann",
    }
    significant = p_slower < policy.latency_alpha
    shift_text = f"median shift {shift:+.1f} ms (allowed {allowed_shift:.1f})"
    tail_text = f"p95 {p95_increase:+.1f} ms (allowed {allowed_p95:.1f})"
    if significant and (shift > allowed_shift or p95_increase > allowed_p95):
        return (
            "fail",
            f"latency significantly higher (p={p_slower:.2g}) beyond the allowance: "
            f"{shift_text}, {tail_text}",
            numbers,
        )
    negligible = (
        shift <= policy.marginal_fraction * allowed_shift
        and p95_increase <= policy.marginal_fraction * allowed_p95
    )
    if significant and negligible:
        return (
            "pass",
            f"latency significantly higher (p={p_slower:.2g}) but negligible: {shift_text}, "
            f"{tail_text}",
            numbers,
        )
    if significant:
        return (
            "marginal",
            f"latency significantly higher (p={p_slower:.2g}) but within the allowance: "
            f"{shift_text}, {tail_text}",
            numbers,
        )
    if p95_increase > allowed_p95:
        return (
            "marginal",
            f"latency tail grew beyond the allowance though not significantly overall: {tail_text}",
            numbers,
        )
    return "pass", f"latency not significantly higher (p={p_slower:.2g}): {shift_text}", numbers


def _error_budget(canary: Samples, stable: Samples, policy: JudgePolicy) -> tuple[str, str, dict]:
    budget = float(policy.budget_error_rate)
    p_canary = float(stats.binomtest(canary.errors, canary.requests, budget, "greater").pvalue)
    p_stable = float(stats.binomtest(stable.errors, stable.requests, budget, "greater").pvalue)
    numbers = {
        "budget": budget,
        "canary_rate": _r(canary.error_rate),
        "stable_rate": _r(stable.error_rate),
        "p_canary_over": _r(p_canary, 8),
        "p_stable_over": _r(p_stable, 8),
    }
    over = f"canary error rate {canary.error_rate:.2%} over the budget {budget:.2%}"
    if p_canary < policy.error_alpha:
        if p_stable < policy.error_alpha:
            return "marginal", f"{over}, but stable is over it too", numbers
        return "fail", f"{over} (p={p_canary:.2g})", numbers
    if canary.error_rate > budget:
        return "marginal", f"{over}, not significantly (p={p_canary:.2g})", numbers
    return "pass", f"canary error rate {canary.error_rate:.2%} within {budget:.2%}", numbers


def _p95_budget(canary: Samples, stable: Samples, policy: JudgePolicy) -> tuple[str, str, dict]:
    budget = float(policy.budget_p95_ms)
    canary_p95 = float(np.percentile(canary.latencies_ms, 95))
    stable_p95 = float(np.percentile(stable.latencies_ms, 95))
    numbers = {
        "budget_ms": budget,
        "canary_p95_ms": _r(canary_p95, 3),
        "stable_p95_ms": _r(stable_p95, 3),
    }
    if canary_p95 > budget:
        if stable_p95 > budget:
            return (
                "marginal",
                f"canary p95 {canary_p95:.1f} ms over the budget {budget:g} ms, but stable "
                f"({stable_p95:.1f} ms) is over it too",
                numbers,
            )
        return "fail", f"canary p95 {canary_p95:.1f} ms over the budget {budget:g} ms", numbers
    return "pass", f"canary p95 {canary_p95:.1f} ms within {budget:g} ms", numbers


def judge(canary: Samples, stable: Samples, policy: JudgePolicy | None = None) -> Verdict:
    """Judge one analysis window of canary against stable under ``policy``."""
    policy = policy or JudgePolicy()
    missing = _no_data(canary, stable, policy)
    if missing is not None:
        return missing
    checks = [("error_ratio", _error_ratio), ("latency", _latency)]
    if policy.budget_error_rate is not None:
        checks.append(("error_budget", _error_budget))
    if policy.budget_p95_ms is not None:
        checks.append(("p95_budget", _p95_budget))
    metrics = []
    for name, check in checks:
        verdict, reason, numbers = check(canary, stable, policy)
        weight = float(policy.weights.get(name, 0.0))
        metrics.append(MetricVerdict(name, verdict, reason, numbers, weight))
    total = sum(m.weight for m in metrics)
    if total > 0:
        score = sum(_SCORES[m.verdict] * m.weight for m in metrics) / total
    else:
        score = min(_SCORES[m.verdict] for m in metrics)
    score = round(score, 2)
    critical = [m for m in metrics if m.verdict == "fail" and m.name in policy.critical]
    if critical:
        overall = "fail"
        reason = "; ".join(m.reason for m in critical)
    else:
        if score >= policy.pass_score:
            overall = "pass"
        elif score >= policy.marginal_score:
            overall = "marginal"
        else:
            overall = "fail"
        flagged = [m for m in metrics if m.verdict != "pass"]
        reason = f"score {score:g}" + (
            ": " + "; ".join(m.reason for m in flagged) if flagged else ": every metric passed"
        )
    action = {"pass": "continue", "fail": "rollback"}.get(overall, policy.on_marginal)
    numbers = {
        "canary_requests": canary.requests,
        "stable_requests": stable.requests,
        "canary_latency_samples": int(canary.latencies_ms.size),
        "stable_latency_samples": int(stable.latencies_ms.size),
        "pass_score": policy.pass_score,
        "marginal_score": policy.marginal_score,
    }
    return Verdict(overall, score, action, reason, tuple(metrics), numbers)
