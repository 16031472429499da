"""The readiness stage: gather whatever gate inputs exist for a commit and let policy decide.

A gate whose stage has not run yet has no artifact and is passed to the policy as None, which
lists it as "not measured", never as a pass.
"""

from __future__ import annotations

from typing import Any

from prodsprint_dagster.policy import WaiverStore, evaluate_readiness, evidence_bundle
from prodsprint_dagster.stages.context import StageContext
from prodsprint_dagster.stages.plan import plan_artifact

# Readiness input -> the artifact its stage writes for the commit.
GATE_ARTIFACTS = {
    "audit": "audit.json",
    "sbom": "sbom.json",
    "vulnerabilities": "vulnerabilities.json",
    "coverage": "coverage.json",
    "tests": "tests.json",
    "perf": "perf.json",
    "risk": "risk.json",
}
READINESS = "readiness/readiness.json"
EVIDENCE = "readiness/evidence.json"


def decide_readiness(
    ctx: StageContext, commit: str | None = None, *, environment: str = "prod"
) -> dict[str, Any]:
    """The readiness decision for ``commit`` (default: latest snapshot), stored with evidence."""
    commit = commit or ctx.latest_commit()
    inputs = gather_inputs(ctx, commit, environment=environment)
    pack = ctx.pack()
    now = ctx.clock()
    waivers = WaiverStore(ctx.history).active(ctx.repo.name, now)
    readiness = evaluate_readiness(inputs, pack, waivers=waivers, now=now)
    bundle = evidence_bundle(inputs, pack, readiness=readiness, waivers=waivers, now=now)
    ctx.artifacts.put_json(ctx.repo.name, commit, READINESS, readiness)
    ctx.artifacts.put_json(ctx.repo.name, commit, EVIDENCE, bundle)
    return readiness


def gather_inputs(ctx: StageContext, commit: str, *, environment: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "repo": ctx.repo.name,
        "commit": commit,
        "environment": environment,
        "approvers": approvers_of(ctx, commit),
    }
    for gate, name in GATE_ARTIFACTS.items():
        inputs[gate] = ctx.load(commit, name)
    target = ctx.repo.target
    inputs["plan"] = ctx.load(commit, plan_artifact(target, "plan.json"))
    inputs["cost"] = ctx.load(commit, plan_artifact(target, "cost.json"))
    return inputs


def approvers_of(ctx: StageContext, commit: str) -> list[str]:
    if not ctx.history.path.exists():
        return []
    with ctx.history.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT approver FROM approvals WHERE repo = ? AND commit_sha = ?",
            [ctx.repo.name, commit],
        ).fetchall()
    return sorted(r[0] for r in rows)
