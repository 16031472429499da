"""The stages of the readiness chain as plain functions, shared by the assets and the CLI.

Each stage reads its inputs from the stores, calls one engine package, and writes its
artifacts, so `prodsprint plan/readiness/approve` and the Dagster assets behave the same.
"""

from prodsprint_dagster.stages.approval import approve_release
from prodsprint_dagster.stages.context import StageContext
from prodsprint_dagster.stages.plan import build_deploy_plan, deliver_plan
from prodsprint_dagster.stages.readiness import decide_readiness

__all__ = [
    "StageContext",
    "approve_release",
    "build_deploy_plan",
    "decide_readiness",
    "deliver_plan",
]
