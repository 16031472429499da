"""Change risk: `commit_history` (per repo), `risk_model` (all repos) and `risk_score` (per repo).

`commit_history` mines the repository up to the snapshot's commit and SZZ-labels new fixes;
`risk_model` trains over every repository and the incidents (weekly, risk_model_schedule);
`risk_score` scores the commit being released with the current model. All three write the
history store, so they run in the `history_db` pool.
"""

import dagster as dg

from assets.metadata import artifact_link, table
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN, POOL_HISTORY_DB
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.risk import score_history, train_risk_model
from prodsprint_dagster.stages.risk import RISK_ARTIFACT, mine_commit_history, score_commit_risk
from resources import HistoryStoreResource, StagesResource

GROUP_CHANGE_RISK = "change_risk"
_METRICS = ("roc_auc", "pr_auc", "brier", "recall_at_20pct_effort", "popt")


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    pool=POOL_HISTORY_DB,
    kinds={"git", "duckdb"},
    description="Every commit up to the snapshot with its 14 Kamei churn features, mined "
    "incrementally, and the SZZ links from fixes to the commits that induced them.",
)
def commit_history(
    context: dg.AssetExecutionContext, repo_snapshot: dict, stages: StagesResource
) -> dg.Output[dict]:
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    summary = mine_commit_history(ctx, repo_snapshot["sha"], progress=context.log.info)
    szz = summary["szz"]
    return dg.Output(
        summary,
        data_version=dg.DataVersion(summary["commit"]),
        metadata={
            "commit": dg.MetadataValue.text(summary["commit"]),
            "commits": dg.MetadataValue.int(summary["commits"]),
            "new_commits": dg.MetadataValue.int(summary["new_commits"]),
            "merges": dg.MetadataValue.int(summary["merges"]),
            "fixes_analysed": dg.MetadataValue.int(szz["fixes_analysed"]),
            "szz_links": dg.MetadataValue.int(szz["links"]),
            "mining_seconds": dg.MetadataValue.float(float(summary["seconds"])),
        },
    )


def _model_metadata(meta: dict) -> dict[str, dg.MetadataValue]:
    metrics = meta.get("validation_metrics") or {}
    window = meta.get("training_window") or {}
    result: dict[str, dg.MetadataValue] = {
        "model_id": dg.MetadataValue.text(meta["id"]),
        "method": dg.MetadataValue.text(meta["method"]),
        "candidate": dg.MetadataValue.text(meta["candidate"]),
        "features": dg.MetadataValue.text(", ".join(meta.get("features") or [])),
        "training_window": dg.MetadataValue.text(
            f"{window.get('from', '-')} .. {window.get('to', '-')} (validation from "
            f"{window.get('validation_from', '-')})"
            if window
            else "public JIT data (prior)"
        ),
        "n_train": dg.MetadataValue.int(int(meta.get("n_train") or 0)),
        "positives": dg.MetadataValue.int(int(meta.get("positives") or 0)),
    }
    for key in _METRICS:
        if metrics.get(key) is not None:
            result[f"validation_{key}"] = dg.MetadataValue.float(float(metrics[key]))
    if meta.get("candidate_roc_auc"):
        result["candidates"] = table(
            [
                {"candidate": k, "validation_roc_auc": v}
                for k, v in meta["candidate_roc_auc"].items()
            ],
            ["candidate", "validation_roc_auc"],
        )
    if meta.get("reason"):
        result["why_prior"] = dg.MetadataValue.text(meta["reason"])
    if meta.get("provenance"):
        result["provenance"] = dg.MetadataValue.text(meta["provenance"])
    return result


@dg.asset(
    group_name=GROUP_CHANGE_RISK,
    pool=POOL_HISTORY_DB,
    kinds={"scikitlearn", "duckdb"},
    description="The change-risk model over every repository's history and the incidents: "
    "candidates chosen by time-ordered validation, calibrated, stored with its metadata.",
)
def risk_model(context: dg.AssetExecutionContext, history: HistoryStoreResource) -> dg.Output:
    meta = train_risk_model(history.store())
    if not meta.get("stored"):
        context.log.warning(f"not enough labelled history, the prior stays: {meta['reason']}")
    summary = {k: meta.get(k) for k in ("id", "method", "candidate", "trained_at", "stored")}
    summary["validation_metrics"] = meta.get("validation_metrics") or {}
    return dg.Output(
        summary, data_version=dg.DataVersion(meta["id"]), metadata=_model_metadata(meta)
    )


def _rollout_markdown(doc: dict) -> str:
    rollout = doc["rollout"]
    lines = [
        f"**{rollout['strategy']}** rollout for band **{doc['band']}**",
        "",
        "| step | weight | soak (s) | analysis | manual gate |",
        "|---|---|---|---|---|",
    ]
    for i, step in enumerate(rollout["steps"]):
        lines.append(
            f"| {i} | {step['weight']} % | {step['pause_seconds']} | "
            f"{'yes' if step['analysis'] else 'no'} | {'yes' if step['manual'] else 'no'} |"
        )
    return "\n".join(lines)


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    pool=POOL_HISTORY_DB,
    deps=[risk_model],
    kinds={"scikitlearn"},
    description="Calibrated probability that the commit being released causes an incident, "
    "its percentile in the repository, band, top features and the rollout plan it implies.",
)
def risk_score(
    context: dg.AssetExecutionContext, commit_history: dict, stages: StagesResource
) -> dg.Output[dict]:
    ctx = stages.context(context.partition_key, run_id=context.run.run_id)
    commit = commit_history["commit"]
    doc = score_commit_risk(ctx, commit)
    trend = score_history(ctx.history, ctx.repo.name, limit=10)
    return dg.Output(
        doc,
        data_version=dg.DataVersion(f"{commit}:{doc['model']['id']}"),
        metadata={
            "risk": dg.MetadataValue.float(float(doc["score"])),
            "percentile": dg.MetadataValue.float(float(doc["percentile"])),
            "band": dg.MetadataValue.text(doc["band"]),
            "method": dg.MetadataValue.text(doc["method"]),
            "commit": dg.MetadataValue.text(commit),
            "top_features": table(
                doc["top_features"], ["feature", "value", "median", "contribution"]
            ),
            "explanation_method": dg.MetadataValue.text(doc["explanation_method"]),
            "rollout": dg.MetadataValue.md(_rollout_markdown(doc)),
            "model_id": dg.MetadataValue.text(doc["model"]["id"]),
            "model_validation_roc_auc": dg.MetadataValue.float(
                float(doc["model"]["metrics"].get("roc_auc") or 0.0)
            ),
            "recent_scores": table(trend, ["commit", "score", "band", "method", "scored_at"]),
            "artifact": artifact_link(
                ctx.artifacts.store.uri(ctx.repo.name, commit, RISK_ARTIFACT)
            ),
        },
    )
