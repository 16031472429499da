"""The deploy plan: Terraform, a Helm chart with Argo Rollouts, CI/CD, cost and plan diff.

Plain Python (never dagster): the ``deploy_plan`` asset and ``prodsprint plan`` both call
:func:`render_plan` on an audit report. See docs/plan.md.
"""

from __future__ import annotations

from prodsprint_dagster.plan.cost import cost_diff, estimate_cost, load_catalogue
from prodsprint_dagster.plan.diff import diff_plans
from prodsprint_dagster.plan.helm import render_chart
from prodsprint_dagster.plan.model import TARGETS, PlanError
from prodsprint_dagster.plan.render import plan_hash, render_plan
from prodsprint_dagster.plan.rollout import check_rollout, default_rollout_plan
from prodsprint_dagster.plan.workflows import render_workflows

__all__ = [
    "TARGETS",
    "PlanError",
    "check_rollout",
    "cost_diff",
    "default_rollout_plan",
    "diff_plans",
    "estimate_cost",
    "load_catalogue",
    "plan_hash",
    "render_chart",
    "render_plan",
    "render_workflows",
]
