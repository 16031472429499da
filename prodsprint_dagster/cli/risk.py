"""`prodsprint history`, `prodsprint incidents` and `prodsprint risk`: the change-risk engine.

Mining and scoring use the configured history store; ``risk evaluate`` works in a scratch
store so that measuring a repository never changes what the model trains on.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from prodsprint_dagster.cli.base import Ctx, command, err, main, out
from prodsprint_dagster.errors import ProdSprintError


@main.group()
def history() -> None:
    """Commit history and churn features in the history store."""


@command(history, "mine")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--repo", "repo", default=None, help="Repository name (default: the folder's).")
@click.option("--rev", default="HEAD", show_default=True, help="Mine the history up to this.")
def history_mine(ctx: Ctx, path: Path, repo: str | None, rev: str):
    """Mine PATH's history (incrementally) with the 14 Kamei features, then SZZ-label it."""
    from prodsprint_dagster.names import slugify
    from prodsprint_dagster.risk import label_repository, mine_repository

    path = path.resolve()
    name = repo or slugify(path.name)
    store = ctx.history()
    progress = lambda msg: err.print(escape(msg))  # noqa: E731
    mined = mine_repository(store, name, path, rev=rev, progress=progress)
    labels = label_repository(store, name, path, progress=progress)
    result = {"ok": True, **mined, "szz": labels}

    def human():
        if mined["empty"]:
            out.print(f"{name}: empty repository, nothing to mine")
            return
        out.print(
            f"{name}: {mined['new_commits']} new commits mined ({mined['commits']} in total, "
            f"{mined['merges']} merges) in {mined['seconds']}s; SZZ analysed "
            f"{labels['fixes_analysed']} fixes, {labels['links']} links"
        )

    return result, human


@main.group()
def incidents() -> None:
    """Incidents: the labels the risk model learns from (rollbacks add them automatically)."""


@command(incidents, "import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def incidents_import(ctx: Ctx, file: Path):
    """Import incidents from CSV, a JSON array or JSON Lines; exits 1 when rows were rejected.

    Fields: id, repo, service, opened_at, resolved_at, severity, caused_by (a commit sha or
    a release id), caused_by_release, title. Good rows are imported even when others fail.
    """
    from prodsprint_dagster.risk import import_incidents

    result = import_incidents(ctx.history(), file)
    code = 1 if result["rejected"] else 0

    def human():
        out.print(f"{result['imported']} incidents imported, {result['rejected']} rejected")
        for e in result["errors"]:
            out.print(f"  line {e['line']}: {escape(e['error'])}")
        if result["ignored_fields"]:
            out.print(f"  ignored fields: {', '.join(result['ignored_fields'])}")

    return ({"ok": not code, **result}, human), code


@main.group()
def risk() -> None:
    """Train, apply, explain and evaluate the change-risk model."""


@command(risk, "train")
def risk_train(ctx: Ctx):
    """Train on every mined repository and its incidents (the prior stands in when too thin)."""
    from prodsprint_dagster.risk import train_risk_model

    meta = train_risk_model(ctx.history())

    def human():
        if not meta.get("stored"):
            out.print(f"not trained: {escape(meta.get('reason', ''))}")
            out.print("scores use the public-data prior until there is enough labelled history")
            return
        m = meta["validation_metrics"]
        out.print(f"model {meta['id']}: {meta['candidate']} on {meta['n_train']} commits "
                  f"({meta['positives']} inducing)")  # fmt: skip
        out.print(f"validation (latest 20 % of training): ROC-AUC {m['roc_auc']:.3f}, "
                  f"PR-AUC {m['pr_auc']:.3f}, Brier {m['brier']:.3f}")  # fmt: skip

    return {"ok": True, "model": meta}, human


def _assess(ctx: Ctx, repo: str, commit: str | None, *, record: bool, top: int | None):
    from prodsprint_dagster.stages import StageContext
    from prodsprint_dagster.stages.risk import assess_commit_risk, score_commit_risk

    stage = StageContext.from_config(ctx.config(), repo)
    commit = commit or stage.latest_commit()
    if record:
        return score_commit_risk(stage, commit)
    return assess_commit_risk(stage, commit, top=top)


def _feature_table(doc: dict) -> Table:
    table = Table("feature", "value", "training median", "contribution (log-odds)")
    for item in doc["top_features"]:
        table.add_row(item["feature"], str(item["value"]), str(item["median"]),
                      f"{item['contribution']:+.3f}")  # fmt: skip
    return table


@command(risk, "score")
@click.argument("repo")
@click.option("--commit", default=None, help="Commit to score (default: the latest snapshot).")
def risk_score(ctx: Ctx, repo: str, commit: str | None):
    """Score REPO's commit: probability, percentile, band, top features and rollout plan."""
    doc = _assess(ctx, repo, commit, record=True, top=None)

    def human():
        out.print(
            f"{repo}@{doc['commit'][:12]}: risk {doc['score']:.2f} ({doc['band']}, "
            f"{doc['percentile']:.0f}th percentile of the repository; method {doc['method']}, "
            f"model {doc['model']['id']})"
        )
        out.print(_feature_table(doc))
        steps = " → ".join(f"{s['weight']}%" for s in doc["rollout"]["steps"])
        out.print(f"rollout ({doc['rollout']['strategy']}): {steps}")

    return {"ok": True, **doc}, human


@command(risk, "explain")
@click.argument("repo")
@click.option("--commit", default=None, help="Commit to explain (default: the latest snapshot).")
def risk_explain(ctx: Ctx, repo: str, commit: str | None):
    """Every feature of REPO's commit with its contribution to the score (nothing recorded)."""
    doc = _assess(ctx, repo, commit, record=False, top=0)

    def human():
        out.print(f"{repo}@{doc['commit'][:12]}: risk {doc['score']:.2f} ({doc['band']}), "
                  f"method {doc['method']}")  # fmt: skip
        out.print(_feature_table(doc))
        out.print(f"method: {doc['explanation_method']}")

    return {"ok": True, **doc}, human


@command(risk, "evaluate")
@click.option(
    "--features",
    "features",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A Kamei features table (_id, date, bug and the 14 columns).",
)
@click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A git repository to mine, SZZ-label and evaluate.",
)
@click.option(
    "--predictions-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the test rows as CSV: commit,date,label,score.",
)
def risk_evaluate(ctx: Ctx, features: Path | None, repo_path: Path | None,
                  predictions_out: Path | None):  # fmt: skip
    """Time-ordered evaluation: earliest 80 % train, latest 20 % test, never shuffled."""
    from prodsprint_dagster.risk import evaluate_features_csv, evaluate_repository

    if (features is None) == (repo_path is None):
        raise ProdSprintError("give exactly one of --features CSV or --repo PATH")
    if features is not None:
        result = evaluate_features_csv(features, predictions_out=predictions_out)
    else:
        result = evaluate_repository(repo_path.resolve(), predictions_out=predictions_out,
                                     progress=lambda m: err.print(escape(m)))  # fmt: skip

    def human():
        base = result["lapredict"]
        table = Table("metric", "model", "LApredict")
        for key in ("roc_auc", "pr_auc", "brier", "recall_at_20pct_effort", "popt"):
            table.add_row(key, _fmt(result[key]), _fmt(base[key]))
        out.print(table)
        out.print(f"train {result['n_train']} rows, test {result['n_test']} rows; "
                  f"model {result['model']['candidate']}")  # fmt: skip

    return {"ok": True, **result}, human


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"
