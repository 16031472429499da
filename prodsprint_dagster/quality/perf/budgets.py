"""Perf budgets: absolute limits from the policy pack, and regressions against a baseline.

Absolute budgets (``perf_budgets``: ``p95_ms``, ``error_ratio``, any other reported metric)
apply to the whole run and to every route, so one slow route cannot hide behind fast ones.

A *regression* needs three things, so that two runs of the same build never fail a release on
noise and a real slowdown always does:

1. **Significance.** Latency: Mann-Whitney U, one-sided (is the current run's distribution
   shifted up?), and for the tail a one-sided Fisher exact test on the share of requests above
   the baseline's p95 (5 % by definition in the baseline); each at ``alpha / 2`` (Bonferroni),
   so a shift of the whole distribution and a fattened tail are both caught. Errors: one-sided
   Fisher exact test on the error counts.
2. **Effect size.** Cliff's delta (from U: ``2U / nm - 1``, the probability that a current
   request is slower minus that it is faster) or Cohen's h of the tail share (``2 asin √p1 -
   2 asin √p2``) must reach ``perf_min_effect`` (default 0.1: below "small" on both scales,
   0.147 and 0.2). With thousands of samples any difference is significant; this says it is
   large enough to matter.
3. **A practical bound.** The p95 grew by more than ``perf_max_regression_pct`` percent *and*
   more than ``perf_min_shift_ms`` (sub-millisecond jitter of a fast service is never a
   regression); the error ratio grew by more than ``perf_max_error_increase``.

Every comparison is reported with its verdict: ``regression``, ``within_bounds`` (significant
and sizeable, but inside the allowance), ``negligible`` (significant, tiny effect),
``not_significant``, or ``insufficient_data``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.quality.perf.histogram import LatencyHistogram

MAX_TEST_SAMPLES = 20_000  # per side: evenly spaced order statistics beyond this
VERDICTS = ("regression", "within_bounds", "negligible", "not_significant", "insufficient_data")


@dataclass(frozen=True)
class PerfSettings:
    """The perf keys of a pack's settings, with the defaults of the default pack."""

    budgets: Mapping[str, float] = field(
        default_factory=lambda: {"p95_ms": 500.0, "error_ratio": 0.01}
    )
    max_regression_pct: float = 20.0
    min_effect: float = 0.1
    min_shift_ms: float = 5.0
    alpha: float = 0.01
    max_error_increase: float = 0.005
    min_samples: int = 50
    rate: float = 50.0
    duration_seconds: float = 10.0

    _KEYS = {
        "perf_budgets": "budgets",
        "perf_max_regression_pct": "max_regression_pct",
        "perf_min_effect": "min_effect",
        "perf_min_shift_ms": "min_shift_ms",
        "perf_alpha": "alpha",
        "perf_max_error_increase": "max_error_increase",
        "perf_min_samples": "min_samples",
        "perf_rate": "rate",
        "perf_duration_seconds": "duration_seconds",
    }

    @classmethod
    def from_pack(cls, settings: Mapping[str, Any]) -> PerfSettings:
        """From a pack's merged settings; a wrong type names the setting."""
        values: dict[str, Any] = {}
        for key, attr in cls._KEYS.items():
            if key not in settings:
                continue
            value = settings[key]
            if attr == "budgets":
                if not isinstance(value, Mapping) or not all(
                    _number(v) and v >= 0 for v in value.values()
                ):
                    raise ProdSprintError(f"policy setting {key}: expected metric: number >= 0")
                value = {str(k): float(v) for k, v in value.items()}
            elif not _number(value) or value < 0:
                raise ProdSprintError(
                    f"policy setting {key}: expected a number >= 0, got {value!r}"
                )
            values[attr] = value
        made = cls(**values)
        if not 0 < made.alpha < 0.5:
            raise ProdSprintError("policy setting perf_alpha: expected a probability in (0, 0.5)")
        if made.rate <= 0 or made.duration_seconds <= 0:
            raise ProdSprintError("policy settings perf_rate and perf_duration_seconds must be > 0")
        return made

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["budgets"] = dict(self.budgets)
        return doc


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


@dataclass
class Measured:
    """One route's (or a whole run's) measurements as the comparison needs them."""

    histogram: LatencyHistogram
    requests: int
    errors: int

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


# -- absolute budgets ------------------------------------------------------------------------


def over_budget(metrics: Mapping[str, Any], budgets: Mapping[str, float]) -> list[dict[str, Any]]:
    """The budgeted metrics of one summary that exceed their budget."""
    out = []
    for metric, budget in sorted(budgets.items()):
        value = metrics.get(metric)
        if _number(value) and value > budget:
            out.append({"metric": metric, "value": value, "budget": budget})
    return out


# -- regressions -----------------------------------------------------------------------------


def _r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


def compare_latency(
    current: Measured, baseline: Measured, settings: PerfSettings
) -> dict[str, Any]:
    """The p95 latency of ``current`` against ``baseline`` (see the module docstring)."""
    from scipy import stats

    cur = current.histogram.values_ms(limit=MAX_TEST_SAMPLES)
    base = baseline.histogram.values_ms(limit=MAX_TEST_SAMPLES)
    base_p95 = baseline.histogram.percentile(95)
    cur_p95 = current.histogram.percentile(95)
    entry: dict[str, Any] = {
        "metric": "p95_ms",
        "baseline": _r(base_p95, 3),
        "value": _r(cur_p95, 3),
        "samples": [int(cur.size), int(base.size)],
    }
    if min(cur.size, base.size) < settings.min_samples:
        return {
            **entry, "p_value": None, "effect": None, "verdict": "insufficient_data",
            "reason": f"fewer than {settings.min_samples} latency samples on a side",
        }  # fmt: skip
    mwu = stats.mannwhitneyu(cur, base, alternative="greater")
    delta = 2.0 * float(mwu.statistic) / (cur.size * base.size) - 1.0
    # The tail: how many requests are slower than the baseline's p95, here and there.
    cur_tail = int((cur > base_p95).sum())
    base_tail = int((base > base_p95).sum())
    tail = stats.fisher_exact(
        [[cur_tail, cur.size - cur_tail], [base_tail, base.size - base_tail]],
        alternative="greater",
    )
    cur_share, base_share = cur_tail / cur.size, base_tail / base.size
    # Cohen's h: the effect size of a difference of proportions (arcsine-transformed).
    tail_effect = 2 * math.asin(math.sqrt(cur_share)) - 2 * math.asin(math.sqrt(base_share))
    p_value = min(1.0, 2.0 * min(float(mwu.pvalue), float(tail.pvalue)))
    shift = cur_p95 - base_p95
    allowed = max(base_p95 * settings.max_regression_pct / 100.0, settings.min_shift_ms)
    sizeable = delta >= settings.min_effect or tail_effect >= settings.min_effect
    significant = p_value < settings.alpha
    pct = shift * 100.0 / base_p95 if base_p95 > 0 else math.inf
    if significant and sizeable and shift > allowed:
        verdict = "regression"
        reason = (
            f"p95 {base_p95:.1f} -> {cur_p95:.1f} ms (+{pct:.0f} %, allowed +{allowed:.1f} ms; "
            f"p={p_value:.2g}, Cliff's delta {delta:.2f}, above the old p95 {base_share:.1%} -> "
            f"{cur_share:.1%})"
        )
    elif significant and sizeable:
        verdict = "within_bounds"
        reason = f"slower (p={p_value:.2g}) but p95 +{shift:.1f} ms is within +{allowed:.1f} ms"
    elif significant:
        verdict = "negligible"
        reason = f"significant (p={p_value:.2g}) but the effect is below {settings.min_effect:g}"
    else:
        verdict = "not_significant"
        reason = f"no significant slowdown (p={p_value:.2g})"
    return {
        **entry,
        "p_value": _r(p_value, 8),
        "effect": _r(delta, 4),
        "tail_effect": _r(tail_effect, 4),
        "tail_share": [_r(cur_share, 4), _r(base_share, 4)],
        "shift_pct": None if math.isinf(pct) else _r(pct, 2),
        "allowed_shift_ms": _r(allowed, 3),
        "test": "mann_whitney_u(greater) + fisher_exact(tail above baseline p95), bonferroni",
        "verdict": verdict,
        "reason": reason,
    }


def compare_errors(current: Measured, baseline: Measured, settings: PerfSettings) -> dict[str, Any]:
    """The error ratio of ``current`` against ``baseline``: Fisher exact + an allowed increase."""
    from scipy import stats

    entry: dict[str, Any] = {
        "metric": "error_ratio",
        "baseline": _r(baseline.error_ratio),
        "value": _r(current.error_ratio),
        "samples": [current.requests, baseline.requests],
    }
    if min(current.requests, baseline.requests) < settings.min_samples:
        return {
            **entry, "p_value": None, "effect": None, "verdict": "insufficient_data",
            "reason": f"fewer than {settings.min_samples} requests on a side",
        }  # fmt: skip
    if current.errors == 0:
        p_value = 1.0
    else:
        p_value = float(
            stats.fisher_exact(
                [
                    [current.errors, current.requests - current.errors],
                    [baseline.errors, baseline.requests - baseline.errors],
                ],
                alternative="greater",
            ).pvalue
        )
    increase = current.error_ratio - baseline.error_ratio
    significant = p_value < settings.alpha
    if significant and increase > settings.max_error_increase:
        verdict = "regression"
        reason = (
            f"error ratio {baseline.error_ratio:.2%} -> {current.error_ratio:.2%} "
            f"(allowed +{settings.max_error_increase:.2%}; p={p_value:.2g})"
        )
    elif significant:
        verdict = "within_bounds"
        reason = f"more errors (p={p_value:.2g}) but within +{settings.max_error_increase:.2%}"
    else:
        verdict = "not_significant"
        reason = f"no significant increase of errors (p={p_value:.2g})"
    return {
        **entry,
        "p_value": _r(p_value, 8),
        "effect": _r(increase),
        "test": "fisher_exact(greater)",
        "verdict": verdict,
        "reason": reason,
    }


def compare_runs(
    current: Mapping[tuple[str, str], Measured],
    baseline: Mapping[tuple[str, str], Measured],
    settings: PerfSettings,
) -> list[dict[str, Any]]:
    """Every (service, route) present in both runs, latency and errors, overall first.

    Keys are ``(service, route)``; the whole run is ``("*", "*")``.
    """
    out = []
    keys = sorted(set(current) & set(baseline), key=lambda k: (k != ("*", "*"), k))
    for key in keys:
        service, route = key
        for compare in (compare_latency, compare_errors):
            entry = compare(current[key], baseline[key], settings)
            out.append({"service": service, "route": route, **entry})
    return out


def regressions_only(comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in comparisons if c["verdict"] == "regression"]
