"""`sbom` and `vulnerability_report`: what the commit ships, what is known to be wrong with it,
and whether its licences are acceptable; plus the plaintext-secret gate on the audit.

The checks are blocking: a run that would build on an invalid SBOM, an unwaived HIGH or
CRITICAL vulnerability, a denied licence or a committed secret stops there, and the check
says which finding and how to waive it.
"""

from collections import Counter
from datetime import UTC, datetime

import dagster as dg

from assets.audit import audit_report
from assets.metadata import artifact_link, table
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.policy import WaiverStore
from prodsprint_dagster.policy.waivers import covering_waiver
from prodsprint_dagster.stages.supply import build_sbom, build_vulnerability_report
from resources import StagesResource

CHECK_SBOM_VALID = "sbom_is_present_and_valid"
CHECK_NO_HIGH_VULNS = "no_unwaived_high_or_critical_vulnerabilities"
CHECK_LICENCES = "licences_are_allowed"
CHECK_NO_SECRETS = "no_plaintext_secrets"
BLOCKING_SEVERITIES = ("CRITICAL", "HIGH")


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    kinds={"cyclonedx"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_SBOM_VALID,
            asset="sbom",
            blocking=True,
            description="A CycloneDX 1.6 SBOM exists and validates against the schema.",
        )
    ],
    description="CycloneDX 1.6 SBOM from the commit's lockfiles (nothing installed or run).",
)
def sbom(context: dg.AssetExecutionContext, audit_report: dict, stages: StagesResource):
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = audit_report["repo"]["commit"]
    summary = build_sbom(ctx, audit_report, commit)
    yield dg.Output(
        summary,
        data_version=dg.DataVersion(commit),
        metadata={
            "components": dg.MetadataValue.int(summary["components"]),
            "by_ecosystem": table(
                [{"ecosystem": k, "components": v} for k, v in summary["by_ecosystem"].items()],
                ["ecosystem", "components"],
            ),
            "by_scope": dg.MetadataValue.json(summary["by_scope"]),
            "lockfiles": dg.MetadataValue.text(", ".join(summary["lockfiles"]) or "-"),
            "gaps": table(summary["gaps"], ["code", "file", "line", "message"]),
            "sbom": artifact_link(summary["document"]),
            "commit": dg.MetadataValue.text(commit),
        },
    )
    yield dg.AssetCheckResult(
        check_name=CHECK_SBOM_VALID,
        # How many components a service must have is policy (sbom_min_components, judged by
        # readiness); this check is about the document itself.
        passed=bool(summary.get("valid")),
        metadata={
            "components": dg.MetadataValue.int(summary["components"]),
            "error": dg.MetadataValue.text(summary.get("error") or "-"),
        },
    )


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    kinds={"osv"},
    deps=[sbom],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NO_HIGH_VULNS,
            asset="vulnerability_report",
            blocking=True,
            description="No HIGH or CRITICAL vulnerability stays unwaived.",
        ),
        dg.AssetCheckSpec(
            CHECK_LICENCES,
            asset="vulnerability_report",
            blocking=True,
            description="No component's licence is denied by the policy pack.",
        ),
    ],
    description="OSV advisories matched to the SBOM's components with per-ecosystem version "
    "rules, waivers applied; and the licence verdict.",
)
def vulnerability_report(
    context: dg.AssetExecutionContext, audit_report: dict, stages: StagesResource
):
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = audit_report["repo"]["commit"]
    report = build_vulnerability_report(ctx, commit)
    findings, licences = report["findings"], report["licences"]
    by_severity = Counter(f["severity"] for f in findings)
    blocking = [f for f in findings if f["severity"] in BLOCKING_SEVERITIES and not f.get("waived")]
    denied = [c for c in licences["components"] if c["verdict"] == "denied"]
    yield dg.Output(
        report,
        data_version=dg.DataVersion(commit),
        metadata={
            "measured": dg.MetadataValue.bool(report["measured"]),
            "findings": table(
                findings,
                ["id", "severity", "package", "version", "fixed_version", "waived", "summary"],
            ),
            "licences": dg.MetadataValue.json(licences.get("summary") or {}),
            "licence_verdict": dg.MetadataValue.text(str(licences.get("verdict"))),
            "components": dg.MetadataValue.int(report["components"]),
            "unwaived_blocking": dg.MetadataValue.int(len(blocking)),
            **{
                f"severity_{s.lower()}": dg.MetadataValue.int(by_severity[s])
                for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW")
            },
            "note": dg.MetadataValue.text(report.get("reason") or report.get("database") or "-"),
        },
    )
    # Not measured (no advisory source configured) is a warning, not a pass: it does not
    # block the run, and readiness lists the gate as not measured.
    yield dg.AssetCheckResult(
        check_name=CHECK_NO_HIGH_VULNS,
        passed=report["measured"] and not blocking,
        severity=dg.AssetCheckSeverity.ERROR if report["measured"] else dg.AssetCheckSeverity.WARN,
        metadata={
            "blocking": dg.MetadataValue.text(
                ", ".join(f"{f['id']} ({f['package']} {f['version']})" for f in blocking)
                or ("-" if report["measured"] else "not measured: " + report["reason"])
            ),
            "waive_with": dg.MetadataValue.text(
                "prodsprint waive REPO --gate vulnerabilities --finding ID --reason ... "
                "--ticket ... --expires YYYY-MM-DD"
            ),
        },
    )
    yield dg.AssetCheckResult(
        check_name=CHECK_LICENCES,
        passed=licences.get("verdict") == "pass",
        metadata={
            "denied": dg.MetadataValue.text(
                ", ".join(f"{c['package']} ({c.get('spdx') or c.get('declared')})" for c in denied)
                or "-"
            )
        },
    )


@dg.asset_check(
    asset=audit_report,
    name=CHECK_NO_SECRETS,
    blocking=True,
    description="No plaintext secret in the tree (tests/examples only warn when the pack "
    "allows it); a waiver of gate `secrets` can cover one finding (path:line).",
)
def no_plaintext_secrets(
    context: dg.AssetCheckExecutionContext, audit_report: dict, stages: StagesResource
) -> dg.AssetCheckResult:
    repo = audit_report["repo"]["name"]
    ctx = stages.context(repo)
    allow_tests = bool(ctx.pack().settings.get("secrets_allow_in_tests"))
    now = datetime.now(UTC)
    waivers = WaiverStore(ctx.history).active(repo, now)
    blocking, waived = [], []
    for found in audit_report.get("secrets") or []:
        if allow_tests and found.get("in_test_or_example"):
            continue
        where = f"{found['path']}:{found['line']}"
        waiver, _ = covering_waiver(waivers, repo, "secrets", where, now)
        (waived if waiver else blocking).append(f"{found['kind']} at {where}")
    return dg.AssetCheckResult(
        passed=not blocking,
        metadata={
            "secrets": dg.MetadataValue.text(", ".join(blocking) or "-"),
            "waived": dg.MetadataValue.text(", ".join(waived) or "-"),
        },
    )
