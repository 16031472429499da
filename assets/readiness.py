"""`readiness`: the deterministic checklist of policy gates for the commit.

Gates whose stage has not run are "not measured", never passed. A blocked verdict is a
result, not a failure: the check shows it in red, and approval refuses it until every
blocker is fixed or waived.
"""

import dagster as dg

from prodsprint_dagster.constants import GROUP_READINESS_CHAIN, POOL_HISTORY_DB
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.policy import checklist_markdown
from prodsprint_dagster.stages import decide_readiness
from prodsprint_dagster.stages.readiness import EVIDENCE
from resources import StagesResource

CHECK_NO_BLOCKERS = "readiness_has_no_unwaived_blockers"


# The gates' inputs are read from the artifacts each stage wrote; these edges make the order
# (and staleness) visible in the UI. A gate whose asset has not run is "not measured".
GATE_ASSETS = [
    "sbom",
    "vulnerability_report",
    "coverage_report",
    "perf_baseline",
    "risk_score",
]


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    pool=POOL_HISTORY_DB,
    deps=GATE_ASSETS,
    kinds={"rego"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NO_BLOCKERS,
            asset="readiness",
            blocking=False,
            description="Every blocking gate of the policy pack passes or is validly waived.",
        )
    ],
    description="Policy-as-code checklist: gates, blockers, remediation, rollout plan.",
)
def readiness(
    context: dg.AssetExecutionContext,
    deploy_plan: dict,
    stages: StagesResource,
):
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = deploy_plan["commit"]
    decision = decide_readiness(ctx, commit)
    counts = {status: 0 for status in ("pass", "fail", "waived", "warn", "not_measured")}
    for item in decision["items"]:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    yield dg.Output(
        decision,
        data_version=dg.DataVersion(f"{commit}:{decision['pack']['digest'][:12]}"),
        metadata={
            "checklist": dg.MetadataValue.md(checklist_markdown(decision)),
            "verdict": dg.MetadataValue.text(decision["verdict"]),
            "blockers": dg.MetadataValue.int(len(decision["blockers"])),
            "commit": dg.MetadataValue.text(commit),
            "pack": dg.MetadataValue.text(
                f"{decision['pack']['name']} {decision['pack']['version']}"
            ),
            "evidence": dg.MetadataValue.text(
                ctx.artifacts.store.uri(ctx.repo.name, commit, EVIDENCE)
            ),
            **{f"gates_{k}": dg.MetadataValue.int(v) for k, v in counts.items()},
        },
    )
    yield dg.AssetCheckResult(
        check_name=CHECK_NO_BLOCKERS,
        passed=not decision["blockers"],
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"blockers": dg.MetadataValue.text(", ".join(decision["blockers"]) or "-")},
    )
