"""The readiness gates, in checklist order, and the inputs each one needs to be measured.

The order is part of the output contract: a checklist must read the same way every time, so
items follow :data:`GATES` and never the order in which a policy happened to deny.
"""

from __future__ import annotations

GATES: tuple[str, ...] = (
    "tests",
    "coverage",
    "vulnerabilities",
    "sbom",
    "secrets",
    "perf",
    "cost",
    "risk",
    "freeze_window",
    "audit",
    "encryption_at_rest",
    "audit_log_retention",
    "two_approvers_prod",
    "backup_retention",
    "data_classification",
)

# Readiness input keys a gate reads. A gate whose inputs are all present is measured; one with
# a missing input is "not_measured" (never passed). Gates with no inputs (the freeze window)
# are always measured: their fact is the clock.
GATE_INPUTS: dict[str, tuple[str, ...]] = {
    "tests": ("tests",),
    "coverage": ("coverage",),
    "vulnerabilities": ("vulnerabilities",),
    "sbom": ("sbom",),
    "secrets": ("audit",),
    "perf": ("perf",),
    "cost": ("cost",),
    "risk": ("risk",),
    "freeze_window": (),
    "audit": ("audit",),
    "encryption_at_rest": ("plan",),
    "audit_log_retention": ("plan",),
    "two_approvers_prod": ("environment",),
    "backup_retention": ("plan",),
    "data_classification": ("plan",),
}

# Which asset produces each input, for the "not measured" detail.
INPUT_ASSETS: dict[str, str] = {
    "tests": "the test results (coverage_report)",
    "coverage": "coverage_report",
    "vulnerabilities": "vulnerability_report",
    "sbom": "sbom",
    "audit": "audit_report",
    "perf": "perf_baseline",
    "cost": "the deploy plan's cost estimate (deploy_plan)",
    "risk": "risk_score",
    "plan": "deploy_plan",
    "environment": "the target environment (prod or staging)",
}


def runbook(gate: str) -> str:
    """The remediation link of a gate: one runbook per gate under docs/runbooks."""
    return f"docs/runbooks/{gate}.md"


def gate_order(gate: str) -> tuple[int, str]:
    """Sort key: known gates in GATES order, gates a custom pack invents after them by name."""
    try:
        return (GATES.index(gate), "")
    except ValueError:
        return (len(GATES), gate)
