"""The rollout plan: how traffic moves to a new version, shared with the policy engine.

The policy/readiness side chooses the plan from the risk band; the renderers only turn it into
Argo Rollouts steps, ALB weights or local router weights. The shape is fixed (see
``default_rollout_plan``) and checked here, so a malformed plan fails before anything renders.
"""

from __future__ import annotations

import copy
from typing import Any

from prodsprint_dagster.plan.model import PlanError

STRATEGIES = ("canary", "bluegreen")
BANDS = ("low", "medium", "high")


def default_rollout_plan() -> dict[str, Any]:
    """The medium-risk plan: 1 -> 5 -> 25 -> 100 %, five-minute soaks judged by analysis."""
    return {
        "strategy": "canary",
        "band": "medium",
        "steps": [
            {"weight": 1, "pause_seconds": 300, "analysis": True, "manual": False},
            {"weight": 5, "pause_seconds": 300, "analysis": True, "manual": False},
            {"weight": 25, "pause_seconds": 300, "analysis": True, "manual": False},
            {"weight": 100, "pause_seconds": 0, "analysis": False, "manual": False},
        ],
        "analysis": {"interval_seconds": 60, "min_samples": 5},
    }


def _int(value: Any, where: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(f"rollout plan: {where} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise PlanError(f"rollout plan: {where} must be {bound}, got {value}")
    return value


def check_rollout(plan: Any) -> dict[str, Any]:
    """Return a validated deep copy of ``plan`` (None -> the default plan), else raise."""
    if plan is None:
        return default_rollout_plan()
    if not isinstance(plan, dict):
        raise PlanError(f"rollout plan must be an object, got {type(plan).__name__}")
    plan = copy.deepcopy(plan)
    if plan.get("strategy") not in STRATEGIES:
        raise PlanError(f"rollout plan: strategy must be one of {STRATEGIES}")
    if plan.get("band") not in BANDS:
        raise PlanError(f"rollout plan: band must be one of {BANDS}")
    steps = plan.get("steps")
    if not isinstance(steps, list) or not steps:
        raise PlanError("rollout plan: steps must be a non-empty list")
    last = 0
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise PlanError(f"rollout plan: steps[{i}] must be an object")
        weight = _int(step.get("weight"), f"steps[{i}].weight", 1, 100)
        if weight < last:
            raise PlanError(f"rollout plan: steps[{i}].weight {weight} is below the previous")
        last = weight
        _int(step.get("pause_seconds"), f"steps[{i}].pause_seconds", 0)
        for flag in ("analysis", "manual"):
            if not isinstance(step.get(flag), bool):
                raise PlanError(f"rollout plan: steps[{i}].{flag} must be true or false")
    analysis = plan.get("analysis")
    if not isinstance(analysis, dict):
        raise PlanError("rollout plan: analysis must be an object")
    _int(analysis.get("interval_seconds"), "analysis.interval_seconds", 1)
    _int(analysis.get("min_samples"), "analysis.min_samples", 1)
    return plan
