"""Software-defined assets: thin wrappers that call the engine and describe results for the UI."""

from assets.audit import audit_report
from assets.snapshot import repo_snapshot

ALL_ASSETS = [repo_snapshot, audit_report]

__all__ = ["ALL_ASSETS", "audit_report", "repo_snapshot"]
