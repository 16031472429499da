"""Policy engine: Rego packs (regopy), the readiness checklist, waivers, approval, freezes.

Plain Python (never dagster): the readiness asset, its asset checks, the approve job and the
``prodsprint readiness`` / ``prodsprint approve`` commands all call these functions. Packs live
in ``policies/packs`` (default, soc2, hipaa) and are documented in docs/policies.md.
"""

from __future__ import annotations

from prodsprint_dagster.policy.approval import approve
from prodsprint_dagster.policy.errors import ApprovalRefused, PolicyError
from prodsprint_dagster.policy.freeze import freeze_status
from prodsprint_dagster.policy.gates import GATES
from prodsprint_dagster.policy.pack import BUILTIN_PACKS, PolicyPack, load_pack
from prodsprint_dagster.policy.readiness import (
    checklist_markdown,
    evaluate_readiness,
    evidence_bundle,
)
from prodsprint_dagster.policy.rollout import rollout_plan_for
from prodsprint_dagster.policy.waivers import Waiver, WaiverStore

__all__ = [
    "BUILTIN_PACKS",
    "GATES",
    "ApprovalRefused",
    "PolicyError",
    "PolicyPack",
    "Waiver",
    "WaiverStore",
    "approve",
    "checklist_markdown",
    "evaluate_readiness",
    "evidence_bundle",
    "freeze_status",
    "load_pack",
    "rollout_plan_for",
]
