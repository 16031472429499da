"""Software-defined assets: thin wrappers that call the engine and describe results for the UI."""

from assets.audit import audit_report
from assets.plan import deploy_plan
from assets.readiness import readiness
from assets.snapshot import repo_snapshot

ALL_ASSETS = [repo_snapshot, audit_report, deploy_plan, readiness]

__all__ = ["ALL_ASSETS", "audit_report", "deploy_plan", "readiness", "repo_snapshot"]
