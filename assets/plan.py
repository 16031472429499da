"""`deploy_plan`: infrastructure, Kubernetes objects, CI/CD, cost and diff for the commit.

Rendered for the repository's deploy target, priced, diffed against the last approved plan,
stored as artifacts and committed on a `prodsprint/plan-<sha>` branch for review.
"""

import dagster as dg

from prodsprint_dagster.constants import GROUP_READINESS_CHAIN
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.stages import build_deploy_plan, deliver_plan
from prodsprint_dagster.stages.plan import plan_summary_markdown
from resources import StagesResource

_MAX_DIFF_CHARS = 20_000


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    deps=["risk_score"],  # the rollout is shaped by the commit's risk band
    kinds={"terraform", "kubernetes", "github"},
    description="Terraform, Helm + Argo Rollouts and CI/CD rendered from the audit, with the "
    "monthly cost, its change and a diff against the last approved plan.",
)
def deploy_plan(
    context: dg.AssetExecutionContext,
    audit_report: dict,
    stages: StagesResource,
) -> dg.Output[dict]:
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = audit_report["repo"]["commit"]
    doc = build_deploy_plan(ctx, audit_report, commit)
    delivery = deliver_plan(ctx, doc)
    doc["delivery"] = delivery
    unified = doc.pop("unified_diff")
    if len(unified) > _MAX_DIFF_CHARS:
        unified = unified[:_MAX_DIFF_CHARS] + "\n... (truncated; full diff in the artifacts)\n"
    summary, cost = doc["diff"]["summary"], doc["cost"]
    return dg.Output(
        doc,
        data_version=dg.DataVersion(doc["plan_hash"]),
        metadata={
            "plan": dg.MetadataValue.md(plan_summary_markdown(doc)),
            "diff": dg.MetadataValue.md(f"```diff\n{unified or '(no changes)'}\n```"),
            "target": dg.MetadataValue.text(doc["target"]),
            "commit": dg.MetadataValue.text(commit),
            "plan_hash": dg.MetadataValue.text(doc["plan_hash"]),
            "branch": dg.MetadataValue.text(delivery["branch"]),
            "pull_request": dg.MetadataValue.text(delivery["pull_request"] or "-"),
            "monthly_cost_usd": dg.MetadataValue.float(float(cost["monthly_total"])),
            "unknown_cost_resources": dg.MetadataValue.int(len(cost["unknown"])),
            "resources": dg.MetadataValue.int(len(doc["plan"]["resources"])),
            "added": dg.MetadataValue.int(len(summary["added"])),
            "changed": dg.MetadataValue.int(len(summary["changed"])),
            "destroyed": dg.MetadataValue.int(len(summary["destroyed"])),
            "risk_notes": dg.MetadataValue.int(len(doc["diff"]["risk_notes"])),
        },
    )
