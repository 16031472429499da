"""`perf_baseline`: latency percentiles and error rates of the commit's HTTP services.

Each service is started locally, driven at a constant arrival rate (open model) and stopped;
the run is stored in the history store and compared with the accepted baseline (the last
promoted release, or an explicitly accepted run). The blocking check `perf_within_budget` is
the policy pack's perf gate on the result: absolute budgets and significant, sizeable
regressions block, noise does not.
"""

import dagster as dg

from assets.metadata import table
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN, POOL_PERF_LOAD
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.stages.perf import measure_perf, perf_gate
from resources import StagesResource

CHECK_WITHIN_BUDGET = "perf_within_budget"
# Two perf runs on one machine would measure each other: one at a time (limit 1 in the
# instance's dagster.yaml).

_ROUTE_COLUMNS = ["service", "route", "requests", "p50_ms", "p95_ms", "p99_ms", "error_pct",
                  "client_errors", "dropped"]  # fmt: skip
_REGRESSION_COLUMNS = ["metric", "service", "route", "baseline", "value", "p_value", "effect",
                       "verdict", "reason"]  # fmt: skip


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    pool=POOL_PERF_LOAD,
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_WITHIN_BUDGET,
            asset="perf_baseline",
            blocking=True,
            description="The policy pack's perf gate: p95 and error-ratio budgets per route and "
            "overall, and no significant, sizeable regression against the accepted baseline.",
        )
    ],
    description="p50/p95/p99 latency and error rate per route and overall under an open-model "
    "load, compared with the accepted baseline; k6 scripts with the same thresholds.",
)
def perf_baseline(
    context: dg.AssetExecutionContext,
    audit_report: dict,
    stages: StagesResource,
):
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = audit_report["repo"]["commit"]
    doc = measure_perf(ctx, audit_report, commit, progress=context.log.info)
    gate = perf_gate(ctx, doc, commit)
    yield dg.Output(doc, data_version=dg.DataVersion(doc.get("run") or commit),
                    metadata=_metadata(doc, commit, ctx))  # fmt: skip
    findings = gate.get("findings") or []
    yield dg.AssetCheckResult(
        check_name=CHECK_WITHIN_BUDGET,
        passed=gate["status"] in ("pass", "warn", "waived", "not_measured"),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "status": dg.MetadataValue.text(gate["status"]),
            "detail": dg.MetadataValue.text(str(gate.get("detail") or "-")[:2000]),
            "findings": dg.MetadataValue.md(
                "\n".join(f"- **{f['level']}** `{f['finding']}`: {f['message']}" for f in findings)
                or "none"
            ),
        },
    )


def _metadata(doc: dict, commit: str, ctx) -> dict:
    if not doc.get("measured"):
        return {
            "commit": dg.MetadataValue.text(commit),
            "measured": dg.MetadataValue.bool(False),
            "reason": dg.MetadataValue.text(doc.get("reason") or "-"),
        }
    metrics = doc["metrics"]
    routes = [{**r, "error_pct": round(r["error_ratio"] * 100, 3)} for r in doc["routes"]]
    regressions = [r for r in doc["regressions"] if r["verdict"] == "regression"]
    baseline = doc.get("baseline_run")
    client = doc.get("client") or {}
    k6 = "\n".join(f"- {name}: `{uri}`" for name, uri in sorted(doc["k6"].items()))
    return {
        "commit": dg.MetadataValue.text(commit),
        "measured": dg.MetadataValue.bool(True),
        "perf_run": dg.MetadataValue.text(doc["run"]),
        "p95_ms": dg.MetadataValue.float(float(metrics["p95_ms"])),
        "p50_ms": dg.MetadataValue.float(float(metrics["p50_ms"])),
        "p99_ms": dg.MetadataValue.float(float(metrics["p99_ms"])),
        "error_pct": dg.MetadataValue.float(float(metrics["error_ratio"]) * 100),
        "rps": dg.MetadataValue.float(float(metrics["rps"])),
        "routes": table(routes, _ROUTE_COLUMNS),
        "regressions": table(doc["regressions"], _REGRESSION_COLUMNS),
        "regression_count": dg.MetadataValue.int(len(regressions)),
        "over_budget": dg.MetadataValue.int(len(doc["over_budget"])),
        "baseline": dg.MetadataValue.text(
            f"{baseline['run']} ({baseline['commit'][:12]}, {baseline['detail']})"
            if baseline
            else "none yet: only absolute budgets apply"
        ),
        "k6_scripts": dg.MetadataValue.md(k6 or "-"),
        "load": dg.MetadataValue.text(
            f"{doc['load']['rate']:g} requests/s for {doc['load']['duration_seconds']:g}s per "
            f"service; late {client.get('late', 0)}, dropped {client.get('dropped', 0)}"
        ),
        "client_warnings": dg.MetadataValue.text("; ".join(client.get("warnings") or []) or "-"),
        "report": dg.MetadataValue.text(
            ctx.artifacts.store.uri(ctx.repo.name, commit, "perf.json")
        ),
    }
