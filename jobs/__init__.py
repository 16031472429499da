"""Jobs select assets by group or key; they never import assets/ (see ARCHITECTURE.md)."""

import dagster as dg

from jobs.approval import approve_release_job
from jobs.release import RELEASE_JOBS, start_release_job
from jobs.risk import risk_model_job, risk_model_schedule
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN, READINESS_CHAIN_JOB

readiness_chain_job = dg.define_asset_job(
    READINESS_CHAIN_JOB,
    selection=dg.AssetSelection.groups(GROUP_READINESS_CHAIN),
    description="Everything a commit needs before release, for one repository partition.",
)

ALL_JOBS = [
    readiness_chain_job,
    approve_release_job,
    start_release_job,
    risk_model_job,
    *RELEASE_JOBS,
]
ALL_SCHEDULES = [risk_model_schedule]

__all__ = ["ALL_JOBS", "ALL_SCHEDULES", "approve_release_job", "readiness_chain_job"]
