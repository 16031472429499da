"""Risk-shaped releases: the rollout plan of a band, the judge that goes with it, deadlines.

The steps, soaks and sample floors per band are policy data and come from
:func:`prodsprint_dagster.policy.rollout.rollout_plan_for` unchanged; this module adds what the
plan does not carry: how strict the judge is for the band (riskier changes get a more sensitive
test and smaller allowances, and a marginal result goes to a person instead of being re-run) and
how long each state may take before the release counts as stuck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.policy.rollout import BANDS, rollout_plan_for
from prodsprint_dagster.release.judge import JudgePolicy

if TYPE_CHECKING:
    from prodsprint_dagster.policy.pack import PolicyPack

# How each band scales the judge: allowances (error and latency increases) are multiplied by
# ``allowance``, the tests' alphas by ``alpha`` (a larger alpha flags smaller differences).
BAND_PROFILES: dict[str, dict[str, Any]] = {
    "low": {"allowance": 1.5, "alpha": 1.0, "on_marginal": "extend_window"},
    "medium": {"allowance": 1.0, "alpha": 1.0, "on_marginal": "extend_window"},
    "high": {"allowance": 0.5, "alpha": 5.0, "on_marginal": "manual_gate"},
}
_ALLOWANCES = (
    "error_max_increase",
    "latency_max_increase_ms",
    "latency_max_increase_pct",
    "p95_max_increase_ms",
    "p95_max_increase_pct",
)
# States that machines (not people) must leave within this many seconds.
STATE_TIMEOUTS: dict[str, int] = {"approved": 3600, "applied": 3600, "staging": 3600}
STEP_SLACK_SECONDS = 600


def release_plan(band: str | None, pack: PolicyPack) -> dict[str, Any]:
    """The rollout plan for a risk band: the pack's mapping (policy.rollout), not a copy."""
    return rollout_plan_for(band, pack)


def judge_policy_for(
    plan: Mapping[str, Any], settings: Mapping[str, Any] | None = None
) -> JudgePolicy:
    """The judge policy for a rollout plan's band.

    Layers, last wins: JudgePolicy defaults, ``settings`` top-level keys (a pack's
    ``canary_judge`` mapping), the band profile (scaling allowances and alphas, choosing
    ``on_marginal``), then ``settings["bands"][band]`` taken literally. The plan's
    ``analysis.min_samples`` can raise the sample floor, never lower it.
    """
    band = plan.get("band") or "medium"
    if band not in BANDS:
        raise PolicyError(f"rollout plan band {band!r} is not one of {', '.join(BANDS)}")
    settings = dict(settings or {})
    per_band = settings.pop("bands", None) or {}
    if not isinstance(per_band, Mapping) or set(per_band) - set(BANDS):
        raise PolicyError(f"judge policy: bands must be a mapping over {', '.join(BANDS)}")
    policy = JudgePolicy.from_dict(settings)
    profile = BAND_PROFILES[band]
    scaled: dict[str, Any] = {
        name: getattr(policy, name) * profile["allowance"] for name in _ALLOWANCES
    }
    scaled["error_alpha"] = min(0.1, policy.error_alpha * profile["alpha"])
    scaled["latency_alpha"] = min(0.1, policy.latency_alpha * profile["alpha"])
    scaled["on_marginal"] = profile["on_marginal"]
    policy = replace(policy, **scaled)
    overrides = per_band.get(band) or {}
    if overrides:
        base = {f.name: getattr(policy, f.name) for f in fields(policy)}
        policy = JudgePolicy.from_dict({**base, **overrides})
    floor = (plan.get("analysis") or {}).get("min_samples")
    if isinstance(floor, int) and not isinstance(floor, bool) and floor > policy.min_samples:
        policy = replace(policy, min_samples=floor)
    return policy


def step_deadline(
    plan: Mapping[str, Any],
    step_index: int,
    started_at: datetime,
    *,
    attempts: int = 1,
    slack_seconds: int = STEP_SLACK_SECONDS,
) -> datetime:
    """When canary step ``step_index`` must have a result: its soak, its analysis window
    (times ``attempts`` for extended windows) and some slack for deploys and scheduling."""
    step = plan["steps"][step_index]
    interval = int((plan.get("analysis") or {}).get("interval_seconds", 60))
    window = interval * max(1, attempts) if step.get("analysis") else 0
    return started_at + timedelta(
        seconds=int(step.get("pause_seconds", 0)) + window + slack_seconds
    )


def deadline_for(
    plan: Mapping[str, Any], to_state: str, now: datetime, *, step_index: int | None = None
) -> datetime | None:
    """The deadline to pass to a transition into ``to_state`` at ``now`` (None: waits on people
    or is terminal)."""
    if to_state == "canary":
        return step_deadline(plan, step_index or 0, now)
    seconds = STATE_TIMEOUTS.get(to_state)
    return now + timedelta(seconds=seconds) if seconds else None
