"""The approval stage: record waivers, decide readiness afresh, and approve or refuse.

Readiness is decided again at approval time so that the approval judges the state of the
world now (waivers just added, waivers that expired since, a freeze window that opened).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.policy import Waiver, WaiverStore, approve
from prodsprint_dagster.stages.context import StageContext
from prodsprint_dagster.stages.plan import plan_artifact
from prodsprint_dagster.stages.readiness import decide_readiness


def approve_release(
    ctx: StageContext,
    *,
    approver: str,
    reason: str,
    commit: str | None = None,
    waivers: list[dict[str, Any]] = (),
    emergency_reason: str | None = None,
) -> dict[str, Any]:
    """Approve ``commit`` (default: the latest snapshot) or raise ApprovalRefused."""
    commit = commit or ctx.latest_commit()
    plan = ctx.load(commit, plan_artifact(ctx.repo.target, "plan.json"))
    if plan is None:
        raise ProdSprintError(
            f"{ctx.repo.name}@{commit[:12]} has no {ctx.repo.target} deploy plan yet: "
            "materialize deploy_plan (or run `prodsprint plan`) first"
        )
    store = WaiverStore(ctx.history)
    now = ctx.clock()
    added = [store.add(_waiver(ctx.repo.name, approver, w), now=now) for w in waivers]
    readiness = decide_readiness(ctx, commit)
    result = approve(
        ctx.history, repo=ctx.repo.name, commit=commit, plan_hash=plan["plan_hash"],
        approver=approver, reason=reason, readiness=readiness,
        waivers=store.active(ctx.repo.name, now), now=now,
        emergency_reason=emergency_reason, pack=ctx.pack(), run_id=ctx.run_id,
    )  # fmt: skip
    return {**result, "waivers_added": [w.to_dict(now) for w in added], "readiness": readiness}


def _waiver(repo: str, owner: str, spec: dict[str, Any]) -> Waiver:
    missing = [k for k in ("gate", "reason", "ticket", "expires") if not spec.get(k)]
    if missing:
        raise ProdSprintError(f"a waiver needs {', '.join(missing)}: got {sorted(spec)}")
    expires = spec["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.fromisoformat(expires)
        except ValueError:
            raise ProdSprintError(
                f"waiver expiry {expires!r} is not an ISO date-time (e.g. 2026-12-31T18:00+01:00)"
            ) from None
    return Waiver(
        repo=repo, gate=spec["gate"], finding=spec.get("finding"), reason=spec["reason"],
        ticket=spec["ticket"], owner=spec.get("owner") or owner, expires_at=expires,
    )  # fmt: skip
