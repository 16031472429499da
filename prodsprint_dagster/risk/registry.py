"""Trained models in the history store: training runs, the current model, and the fallback.

A model is stored as joblib bytes in ``risk_models`` next to their sha256 and its metadata
(features, training window, validation metrics, library versions). Loading checks the
digest before unpickling. When no trained model exists (too little labelled history
anywhere) the current model is the public-data prior, and ``method`` says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster.risk.dataset import MODEL_COLUMNS, labelled_commits, settled
from prodsprint_dagster.risk.model import (
    InsufficientHistory,
    RiskModel,
    dump_model,
    load_model,
    train_model,
)
from prodsprint_dagster.risk.prior import prior_model
from prodsprint_dagster.store import HistoryStore

SETTLE_DAYS = 30.0
KEEP_MODELS = 10
# A repository contributes "its own" history once it has this many labelled rows in training.
MIN_REPO_ROWS = 50
MIN_REPO_POSITIVES = 5


def save_model(store: HistoryStore, model: RiskModel) -> str:
    data, digest = dump_model(model)
    meta = model.metadata
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO risk_models VALUES (?, ?, ?, ?, ?, ?, ?)",
            [meta["id"], datetime.fromisoformat(meta["trained_at"]), meta["method"],
             meta["candidate"], json.dumps(meta, default=str), digest, data],
        )  # fmt: skip
        con.execute(
            "DELETE FROM risk_models WHERE id NOT IN (SELECT id FROM risk_models"
            " ORDER BY trained_at DESC LIMIT ?)",
            [KEEP_MODELS],
        )
        con.execute("COMMIT")
    return digest


def current_model(store: HistoryStore) -> RiskModel:
    """The newest trained model, or the prior when none has been trained."""
    if not store.path.exists():
        return prior_model()
    with store.connect(read_only=True) as con:
        row = con.execute(
            "SELECT model, sha256 FROM risk_models ORDER BY trained_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return prior_model()
    return load_model(bytes(row[0]), row[1])


def list_models(store: HistoryStore) -> list[dict[str, Any]]:
    if not store.path.exists():
        return []
    with store.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT id, trained_at, candidate, sha256, metadata FROM risk_models"
            " ORDER BY trained_at DESC"
        ).fetchall()
    return [
        {"id": r[0], "trained_at": r[1].isoformat(), "candidate": r[2], "sha256": r[3],
         "validation_metrics": json.loads(r[4]).get("validation_metrics")}
        for r in rows
    ]  # fmt: skip


def train_risk_model(
    store: HistoryStore, *, now: datetime | None = None, settle_days: float = SETTLE_DAYS
) -> dict[str, Any]:
    """Train on every repository's settled, labelled commits and store the model.

    Returns the model's metadata; when the history is too thin to train and validate, the
    metadata of the prior (``method: prior``) with the reason, and nothing is stored.
    """
    now = now or datetime.now(UTC)
    frame = settled(labelled_commits(store), settle_days)
    per_repo = {
        repo: {"rows": len(g), "positives": int(g["label"].sum())}
        for repo, g in frame.groupby("repo")
    }
    try:
        model = train_model(
            frame, MODEL_COLUMNS, now=now,
            extra_metadata={"repos": per_repo, "settle_days": settle_days},
        )  # fmt: skip
    except InsufficientHistory as exc:
        meta = dict(prior_model().metadata)
        meta.update(reason=str(exc), repos=per_repo, stored=False)
        return meta
    digest = save_model(store, model)
    return {**model.metadata, "sha256": digest, "stored": True}


def method_for(model: RiskModel, repo: str) -> str:
    """``repository`` when the repo's own history trained the model, ``pooled`` when only
    other repositories did, ``prior`` for the public-data prior."""
    meta = model.metadata
    if meta.get("method") == "prior":
        return "prior"
    own = (meta.get("repos") or {}).get(repo) or {}
    enough = own.get("rows", 0) >= MIN_REPO_ROWS and own.get("positives", 0) >= MIN_REPO_POSITIVES
    return "repository" if enough else "pooled"
