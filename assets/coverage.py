"""`coverage_report`: line, branch and patch coverage of the commit, its tests and flaky tests.

The blocking check `coverage_meets_policy` holds the release chain when line coverage is
below the pack's ``coverage_min`` or patch coverage below ``patch_coverage_min``; a patch
without coverable lines passes (it is None, not 0 %). Test failures are the tests gate's
business (readiness), so a failing suite shows here in metadata without failing this check.
"""

import dagster as dg

from assets.metadata import table
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.quality.coverage import QualitySettings, judge_coverage
from prodsprint_dagster.stages.coverage import build_coverage_report
from resources import StagesResource

CHECK_COVERAGE = "coverage_meets_policy"
_MAX_ROWS = 500


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_COVERAGE,
            asset="coverage_report",
            blocking=True,
            description="Line coverage >= coverage_min and patch coverage >= "
            "patch_coverage_min (policy pack); a patch without coverable lines passes.",
        )
    ],
    description="Coverage (ingested reports, or the repository's own tests run in a sandbox), "
    "patch coverage against the last promoted release, test results and flaky tests.",
)
def coverage_report(
    context: dg.AssetExecutionContext,
    audit_report: dict,
    stages: StagesResource,
):
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = audit_report["repo"]["commit"]
    result = build_coverage_report(ctx, audit_report, commit)
    coverage, tests, flaky = result["coverage"], result["tests"], result["flaky"]
    metadata = {
        "commit": dg.MetadataValue.text(commit),
        "source": dg.MetadataValue.text(coverage["source"]),
        "files": table(
            coverage["files"],
            [
                ("path", "string"),
                ("lines", "int"),
                ("covered", "int"),
                ("percent", "float"),
                ("branches", "int"),
                ("branch_percent", "float"),
                ("missing", "string"),
            ],
            limit=_MAX_ROWS,
        ),
        "flaky": table(
            flaky,
            [
                ("test", "string"),
                ("flake_rate", "float"),
                ("flaky_runs", "int"),
                ("runs", "int"),
                ("quarantined", "bool"),
            ],
            limit=_MAX_ROWS,
        ),
        "flaky_tests": dg.MetadataValue.int(len(flaky)),
        "coverage_run_id": dg.MetadataValue.int(result["coverage_run_id"]),
    }
    for key, value in (
        ("coverage_percent", coverage["percent"]),
        ("patch_coverage_percent", coverage["patch_percent"]),
        ("branch_coverage_percent", coverage["branch_percent"]),
    ):
        if value is not None:  # absent rather than 0: a missing number must not plot as 0 %
            metadata[key] = dg.MetadataValue.float(float(value))
    patch = coverage["patch"] or {}
    metadata["patch_coverable_lines"] = dg.MetadataValue.int(int(patch.get("coverable") or 0))
    if tests is not None:
        for key in ("total", "passed", "failed", "errors", "skipped"):
            metadata[f"tests_{key}"] = dg.MetadataValue.int(int(tests[key]))
        metadata["tests_quarantined"] = dg.MetadataValue.int(len(tests["quarantined"]))
    if coverage["gaps"]:
        metadata["gaps"] = dg.MetadataValue.md(
            "\n".join(f"- `{g['code']}` ({g['root']}): {g['message']}" for g in coverage["gaps"])
        )
    yield dg.Output(result, data_version=dg.DataVersion(commit), metadata=metadata)

    settings = QualitySettings.from_settings(
        ctx.pack().settings, f"policy pack {ctx.repo.policy_pack}"
    )
    passed, reasons = judge_coverage(coverage, settings.coverage_min, settings.patch_coverage_min)
    yield dg.AssetCheckResult(
        check_name=CHECK_COVERAGE,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "reasons": dg.MetadataValue.text("; ".join(reasons) or "-"),
            "coverage_min": dg.MetadataValue.float(settings.coverage_min),
            "patch_coverage_min": dg.MetadataValue.float(settings.patch_coverage_min),
            "patch_without_coverable_lines": dg.MetadataValue.bool(
                coverage["patch_percent"] is None
            ),
        },
    )
