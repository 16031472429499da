"""`audit_report`: what the repository contains and what it lacks, with evidence for each fact.

The checkout is re-derived from the snapshot's sha through the git resource (idempotent), so
the asset also works when it is materialized on its own after old work trees were pruned.
"""

from collections import Counter

import dagster as dg

from assets.metadata import artifact_link, table
from prodsprint_dagster.audit import AUDIT_SCHEMA_VERSION, audit_repository, render_markdown
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN
from prodsprint_dagster.partitions import repos_partitions
from resources import ArtifactStoreResource, GitResource

CHECK_NO_ERROR_GAPS = "audit_has_no_error_gaps"


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    kinds={"python"},
    code_version=f"audit-schema-{AUDIT_SCHEMA_VERSION}",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NO_ERROR_GAPS,
            asset="audit_report",
            blocking=False,
            description="The audit found no error-severity gap (warnings are listed, not failed).",
        )
    ],
    description="Services, ports, Dockerfiles, env vars, datastores, migrations, tests, CI, "
    "lockfiles, secrets and gaps of the snapshot's commit.",
)
def audit_report(
    context: dg.AssetExecutionContext,
    repo_snapshot: dict,
    git: GitResource,
    artifacts: ArtifactStoreResource,
):
    repo, sha = repo_snapshot["repo"], repo_snapshot["sha"]
    worktree = git.client().checkout(repo, sha)
    report = audit_repository(worktree, repo_name=repo, commit=sha, progress=context.log.debug)
    uri = artifacts.io().put_json(repo, sha, "audit.json", report)

    gaps = report["gaps"]
    by_severity = Counter(g["severity"] for g in gaps)
    yield dg.Output(
        report,
        data_version=dg.DataVersion(sha),
        metadata={
            "summary": dg.MetadataValue.md(render_markdown(report)),
            "services": table(
                report["services"],
                ["name", "role", "language", "framework", "port", "port_source", "start_command"],
            ),
            "gaps": table(gaps, ["severity", "code", "message", "remediation"]),
            "commit": dg.MetadataValue.text(sha),
            "service_count": dg.MetadataValue.int(len(report["services"])),
            "datastore_count": dg.MetadataValue.int(len(report["datastores"])),
            "env_var_count": dg.MetadataValue.int(len(report["env_vars"])),
            "secret_count": dg.MetadataValue.int(len(report["secrets"])),
            "error_gaps": dg.MetadataValue.int(by_severity["error"]),
            "warning_gaps": dg.MetadataValue.int(by_severity["warning"]),
            "files": dg.MetadataValue.int(report["repo"]["files"]),
            "report": artifact_link(uri),
        },
    )
    errors = [g for g in gaps if g["severity"] == "error"]
    yield dg.AssetCheckResult(
        check_name=CHECK_NO_ERROR_GAPS,
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "error_gaps": dg.MetadataValue.int(len(errors)),
            "codes": dg.MetadataValue.text(", ".join(sorted({g["code"] for g in errors})) or "-"),
        },
    )
