"""Software-defined assets: thin wrappers that call the engine and describe results for the UI."""

from assets.audit import audit_report
from assets.coverage import coverage_report
from assets.perf import perf_baseline
from assets.plan import deploy_plan
from assets.readiness import readiness
from assets.risk import commit_history, risk_model, risk_score
from assets.snapshot import repo_snapshot
from assets.supply_chain import no_plaintext_secrets, sbom, vulnerability_report

ALL_ASSETS = [
    repo_snapshot,
    audit_report,
    sbom,
    vulnerability_report,
    coverage_report,
    perf_baseline,
    commit_history,
    risk_model,
    risk_score,
    deploy_plan,
    readiness,
]
ALL_ASSET_CHECKS = [no_plaintext_secrets]

__all__ = [
    "ALL_ASSETS",
    "ALL_ASSET_CHECKS",
    "audit_report",
    "commit_history",
    "coverage_report",
    "deploy_plan",
    "perf_baseline",
    "readiness",
    "repo_snapshot",
    "risk_model",
    "risk_score",
    "sbom",
    "vulnerability_report",
]
