"""Scoring a commit: probability, percentile within its repository, band and explanation.

A merge commit has no changes of its own (its changes were made, and mined, on the side it
brings in), so it is scored as the riskiest non-merge commit it introduces: releasing the
merge releases all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.risk.dataset import labelled_commits
from prodsprint_dagster.risk.gitlog import run_git
from prodsprint_dagster.risk.model import RiskModel
from prodsprint_dagster.risk.registry import method_for
from prodsprint_dagster.store import HistoryStore

DEFAULT_THRESHOLDS = {"medium": 0.3, "high": 0.7}
_MAX_INTRODUCED = 1_000


def band_for(score: float, thresholds: Mapping[str, float]) -> str:
    if score >= float(thresholds["high"]):
        return "high"
    return "medium" if score >= float(thresholds["medium"]) else "low"


def thresholds_from(settings: Mapping[str, Any]) -> dict[str, float]:
    raw = settings.get("risk_band_thresholds") or DEFAULT_THRESHOLDS
    try:
        medium, high = float(raw["medium"]), float(raw["high"])
    except (KeyError, TypeError, ValueError):
        raise ProdSprintError(
            f"policy setting risk_band_thresholds must map medium and high to numbers, got {raw!r}"
        ) from None
    if not 0 <= medium <= high <= 1:
        raise ProdSprintError(
            f"risk_band_thresholds need 0 <= medium <= high <= 1, got medium={medium} high={high}"
        )
    return {"medium": medium, "high": high}


def introduced_commits(repo_path: Path, merge: str) -> list[str]:
    """Non-merge commits a merge brings in (reachable from it, not from its first parent)."""
    out = run_git(
        Path(repo_path),
        ["rev-list", "--no-merges", f"--max-count={_MAX_INTRODUCED}", merge, f"^{merge}^1", "--"],
        what=f"list the commits merge {merge[:12]} introduces",
    )  # fmt: skip
    return out.decode().split()


def is_merge(store: HistoryStore, repo: str, sha: str) -> bool | None:
    """True/False for a mined commit, None when the store does not know it."""
    with store.connect(read_only=True) as con:
        row = con.execute(
            "SELECT is_merge FROM commits WHERE repo = ? AND sha = ?", [repo, sha]
        ).fetchone()
    return None if row is None else bool(row[0])


def score_commits(
    store: HistoryStore,
    repo: str,
    shas: list[str],
    model: RiskModel,
    thresholds: Mapping[str, float],
    *,
    top: int = 5,
) -> dict[str, Any]:
    """Score the riskiest of ``shas`` (mined commits of ``repo``) and place it in the repo."""
    frame = labelled_commits(store, repos=[repo])
    if frame.empty:
        raise ProdSprintError(f"repository {repo} has no mined commits to score")
    scores = model.predict(frame)
    chosen = np.flatnonzero(frame["sha"].isin(shas).to_numpy())
    if not len(chosen):
        raise ProdSprintError(
            f"{repo}: none of {', '.join(s[:12] for s in shas[:3]) or 'no commits'} is a mined "
            "non-merge commit (mine the history first: prodsprint history mine)"
        )
    best = chosen[np.argmax(scores[chosen])]
    score = float(scores[best])
    row = frame.iloc[best]
    percentile = float(np.mean(scores <= score) * 100.0)
    return {
        "score": round(score, 4),
        "percentile": round(percentile, 1),
        "band": band_for(score, thresholds),
        "thresholds": dict(thresholds),
        "scored_commit": row["sha"],
        "commits_considered": len(chosen),
        "repository_commits": len(frame),
        "features": {c: _plain(row[c]) for c in model.columns},
        "top_features": model.explain(row, top=top),
        "explanation_method": model.metadata["explanation_method"],
        "method": method_for(model, repo),
    }


def record_score(
    store: HistoryStore, repo: str, commit: str, doc: Mapping[str, Any], run_id: str | None
) -> None:
    with store.connect() as con:
        con.execute(
            "INSERT INTO risk_scores (repo, commit_sha, model_id, score, percentile, band,"
            " method, scored_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [repo, commit, doc["model"]["id"], doc["score"], doc["percentile"], doc["band"],
             doc["method"], datetime.now(UTC), run_id],
        )  # fmt: skip


def score_history(store: HistoryStore, repo: str, limit: int = 20) -> list[dict[str, Any]]:
    """The repository's latest scores, newest first (the trend)."""
    if not store.path.exists():
        return []
    with store.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT commit_sha, score, band, method, model_id, scored_at FROM risk_scores"
            " WHERE repo = ? ORDER BY id DESC LIMIT ?",
            [repo, limit],
        ).fetchall()
    return [
        {"commit": r[0], "score": r[1], "band": r[2], "method": r[3], "model": r[4],
         "scored_at": r[5].isoformat()}
        for r in rows
    ]  # fmt: skip


def _plain(value: Any) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)
