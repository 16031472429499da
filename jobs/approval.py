"""`approve_release_job`: a person approves a commit's plan from the Launchpad.

Refused while unwaived blockers stand; waivers given in the config need a reason, a ticket
and an expiry, and are recorded (and audit-logged) before readiness is decided again.
"""

import dagster as dg

from prodsprint_dagster.constants import POOL_HISTORY_DB
from prodsprint_dagster.policy import ApprovalRefused
from prodsprint_dagster.stages import approve_release
from resources import StagesResource


class WaiverConfig(dg.Config):
    gate: str
    reason: str
    ticket: str
    expires: str  # ISO 8601 date-time with offset, e.g. 2026-12-31T18:00:00+01:00
    finding: str | None = None


class ApproveReleaseConfig(dg.Config):
    repo: str
    approver: str
    reason: str
    commit: str | None = None  # default: the repository's latest snapshot
    waivers: list[WaiverConfig] = []
    emergency_reason: str | None = None  # needed to approve inside a freeze window


@dg.op(pool=POOL_HISTORY_DB, tags={"prodsprint/stage": "approve"})
def approve_release_op(
    context: dg.OpExecutionContext,
    config: ApproveReleaseConfig,
    stages: StagesResource,
) -> dg.Output[dict]:
    ctx = stages.context(config.repo, run_id=context.run.run_id)
    try:
        result = approve_release(
            ctx, approver=config.approver, reason=config.reason, commit=config.commit,
            waivers=[w.model_dump() for w in config.waivers],
            emergency_reason=config.emergency_reason,
        )  # fmt: skip
    except ApprovalRefused as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"blockers": dg.MetadataValue.text(", ".join(exc.blockers) or "-")},
            allow_retries=False,
        ) from None
    readiness = result.pop("readiness")
    return dg.Output(
        result,
        metadata={
            "repo": dg.MetadataValue.text(config.repo),
            "commit": dg.MetadataValue.text(readiness["commit"]),
            "approver": dg.MetadataValue.text(config.approver),
            "verdict": dg.MetadataValue.text(readiness["verdict"]),
            "waivers_added": dg.MetadataValue.int(len(result["waivers_added"])),
        },
    )


@dg.job(description="Approve a repository's commit for release (refused while blockers stand).")
def approve_release_job():
    approve_release_op()
