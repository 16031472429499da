"""The change-risk stage: mine the history up to a commit, label it, score the commit.

Shared by the ``commit_history`` / ``risk_score`` assets and ``prodsprint risk score``. The
repository is read from ProdSprint's bare mirror (made by the snapshot stage), never from a
user's checkout. The score's band comes from the policy pack's ``risk_band_thresholds`` and
implies the rollout plan (``policy.rollout_plan_for``) the release will follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.names import validate_sha
from prodsprint_dagster.policy import rollout_plan_for
from prodsprint_dagster.risk import (
    current_model,
    introduced_commits,
    is_merge,
    label_repository,
    mine_repository,
    record_score,
    score_commits,
    thresholds_from,
)
from prodsprint_dagster.stages.context import StageContext

RISK_ARTIFACT = "risk.json"


def _mirror(ctx: StageContext) -> Path:
    mirror = ctx.git.mirror_path(ctx.repo.name)
    if not (mirror / "HEAD").exists():
        raise ProdSprintError(
            f"repository {ctx.repo.name} is not mirrored yet: materialize repo_snapshot "
            "(or run `prodsprint demo`) first"
        )
    return mirror


def mine_commit_history(ctx: StageContext, commit: str, progress=lambda _m: None) -> dict:
    """Mine (incrementally) and SZZ-label the history up to ``commit``; returns the counts."""
    validate_sha(commit)
    mirror = _mirror(ctx)
    mined = mine_repository(ctx.history, ctx.repo.name, mirror, rev=commit, progress=progress)
    labels = label_repository(ctx.history, ctx.repo.name, mirror, progress=progress)
    return {**mined, "commit": commit, "szz": labels}


def assess_commit_risk(ctx: StageContext, commit: str, *, top: int | None = 5) -> dict:
    """The risk document of ``commit`` (mining and labelling first); records nothing else.

    ``top`` limits the explained features (0 or None: all of them).
    """
    history = mine_commit_history(ctx, commit)
    mirror = _mirror(ctx)
    model = current_model(ctx.history)
    pack = ctx.pack()
    thresholds = thresholds_from(pack.settings)
    merge = is_merge(ctx.history, ctx.repo.name, commit)
    shas = introduced_commits(mirror, commit) if merge else [commit]
    scored = score_commits(
        ctx.history, ctx.repo.name, shas, model, thresholds, top=top or len(model.columns)
    )
    meta = model.metadata
    return {
        "repo": ctx.repo.name,
        "commit": commit,
        "is_merge": bool(merge),
        **scored,
        "model": {
            "id": meta["id"],
            "trained_at": meta.get("trained_at"),
            "metrics": meta.get("validation_metrics") or {},
            "candidate": meta["candidate"],
            "provenance": meta.get("provenance"),
        },
        "rollout": rollout_plan_for(scored["band"], pack),
        "history": {
            "commits": history["commits"],
            "new_commits": history["new_commits"],
            "szz_links": history["szz"]["links"],
        },
    }


def score_commit_risk(ctx: StageContext, commit: str) -> dict[str, Any]:
    """Score ``commit`` with the current model; records the score, writes ``risk.json``."""
    doc = assess_commit_risk(ctx, commit)
    record_score(ctx.history, ctx.repo.name, commit, doc, ctx.run_id)
    ctx.artifacts.put_json(ctx.repo.name, commit, RISK_ARTIFACT, doc)
    return doc
