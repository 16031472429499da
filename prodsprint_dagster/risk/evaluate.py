"""Time-ordered evaluation: on a Kamei features table, or on a mined, SZZ-labelled repository.

The split is by time only: rows sorted by date (stable), the earliest 80 % train and the
latest 20 % test, never shuffled. Model selection, tuning and calibration happen inside the
training part (see model.train_model); the test rows are touched once, to be scored. No
column other than the 14 features, ``date`` and ``bug`` is read from a features table (the
public tables carry a copy of the label in ``__``, which must never become a feature).

The LApredict baseline (Zeng et al., ISSTA 2021) is a logistic regression on log(1 + LA),
fitted on the same training rows.
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.risk.features import KAMEI_FEATURES
from prodsprint_dagster.risk.metrics import effort_of, evaluate_scores
from prodsprint_dagster.risk.model import train_model

# Column names of the public tables; ``entrophy`` is their spelling of entropy.
TABLE_COLUMNS = {f: ("entrophy" if f == "entropy" else f) for f in KAMEI_FEATURES}
REQUIRED = ("_id", "date", "bug", *TABLE_COLUMNS.values())
TEST_FRACTION = 0.2
LABEL_GAP_DAYS = 90


def time_split(dates, test_fraction: float = TEST_FRACTION, gap_seconds: float = 0.0):
    """(train, test) row positions: earliest rows train, latest test; optional gap between.

    Sorted with a stable sort, so rows with equal dates keep their order; with a gap, train
    rows are those older than the first test row by at least ``gap_seconds``.
    """
    dates = np.asarray(dates, dtype=np.float64)
    order = np.argsort(dates, kind="mergesort")
    n_test = round(len(dates) * test_fraction)
    test = order[len(dates) - n_test :]
    train = order[: len(dates) - n_test]
    if gap_seconds and len(test):
        start = dates[test[0]]
        train = train[dates[train] <= start - gap_seconds]
    return train, test


def read_features_table(path: Path) -> pd.DataFrame:
    """The features table with its columns checked and typed (only known columns kept)."""
    path = Path(path)
    try:
        header = pd.read_csv(path, nrows=0)
    except FileNotFoundError:
        raise ProdSprintError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ProdSprintError(f"{path}: not a readable CSV table: {exc}") from None
    columns = list(header.columns)
    if "entrophy" not in columns and "entropy" in columns:
        columns[columns.index("entropy")] = "entrophy"
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ProdSprintError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = pd.read_csv(path, low_memory=False)
    frame.columns = columns
    frame = frame.loc[:, list(REQUIRED)]
    for column in REQUIRED[1:]:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise ProdSprintError(
                f"{path}: column {column} has {len(bad)} missing or non-numeric value(s), "
                f"first on line {bad[0] + 2}"
            )
        frame[column] = values
    if not set(np.unique(frame["bug"])) <= {0, 1}:
        raise ProdSprintError(f"{path}: column bug must be 0 or 1")
    frame = frame.rename(columns={v: k for k, v in TABLE_COLUMNS.items()})
    return frame.rename(columns={"_id": "commit", "bug": "label"})


def lapredict(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    model = make_pipeline(
        FunctionTransformer(lambda x: np.log1p(np.clip(x, 0, None))),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train[["la"]].astype(np.float64), train["label"].to_numpy())
    return model.predict_proba(test[["la"]].astype(np.float64))[:, 1]


def _write_predictions(path: Path, test: pd.DataFrame, scores: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["commit", "date", "label", "score"])
        for commit, date, label, score in zip(
            test["commit"], test["date"], test["label"], scores, strict=True
        ):
            writer.writerow([commit, int(date), int(label), f"{score:.6f}"])


def _round(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def evaluate_frame(
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    *,
    train_frame: pd.DataFrame | None = None,
    predictions_out: Path | None = None,
    gap_seconds: float = 0.0,
) -> dict[str, Any]:
    """Train on the earliest 80 %, test on the latest 20 % of ``frame``; all metrics.

    ``train_frame`` (same rows, possibly other labels) supplies the training labels when
    they must be the ones known at the split time (repository evaluation).
    """
    started = time.perf_counter()
    train_idx, test_idx = time_split(frame["date"], gap_seconds=gap_seconds)
    source = frame if train_frame is None else train_frame
    train = source.iloc[train_idx].reset_index(drop=True)
    test = frame.iloc[test_idx].reset_index(drop=True)
    if len(test) == 0 or len(train) == 0:
        raise ProdSprintError(
            f"too few commits to evaluate: {len(train)} train and {len(test)} test rows"
        )
    model = train_model(train, columns)
    scores = model.predict(test)
    effort = effort_of(test["la"], test["ld"])
    labels = test["label"].to_numpy()
    baseline = lapredict(train, test)
    if predictions_out:
        _write_predictions(Path(predictions_out), test, scores)
    meta = model.metadata
    return {
        **_round(evaluate_scores(labels, scores, effort)),
        "n_train": len(train),
        "n_test": len(test),
        "train_window": [_day(train["date"].min()), _day(train["date"].max())],
        "test_window": [_day(test["date"].min()), _day(test["date"].max())],
        "lapredict": _round(evaluate_scores(labels, baseline, effort)),
        "model": {
            "candidate": meta["candidate"],
            "members": meta["members"],
            "validation_metrics": _round(meta["validation_metrics"]),
            "candidate_roc_auc": meta["candidate_roc_auc"],
            "calibration": meta["calibration"],
            "features": meta["features"],
        },
        "split": {
            "order": "date ascending, stable; never shuffled",
            "test_fraction": TEST_FRACTION,
            "gap_days": round(gap_seconds / 86400, 2),
            "selection": "inside the training part: earliest 80 % fit, latest 20 % validate",
        },
        "predictions_out": str(predictions_out) if predictions_out else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _day(ts: float) -> str:
    return pd.Timestamp(float(ts), unit="s", tz="UTC").isoformat()


def evaluate_features_csv(path: Path, *, predictions_out: Path | None = None) -> dict[str, Any]:
    """`prodsprint risk evaluate --features CSV`."""
    frame = read_features_table(path)
    result = evaluate_frame(frame, KAMEI_FEATURES, predictions_out=predictions_out)
    return {"source": {"features": str(path), "rows": len(frame)}, **result}


def evaluate_repository(
    path: Path,
    *,
    predictions_out: Path | None = None,
    gap_days: float = LABEL_GAP_DAYS,
    progress=lambda _msg: None,
) -> dict[str, Any]:
    """`prodsprint risk evaluate --repo PATH`: mine and label into a scratch store, evaluate.

    Training labels are the ones known when the test period starts (links from fixes made
    before it); test labels use every link. Train rows end ``gap_days`` before the test.
    """
    from prodsprint_dagster.risk.dataset import labelled_commits
    from prodsprint_dagster.risk.mining import mine_repository
    from prodsprint_dagster.risk.szz import label_repository
    from prodsprint_dagster.store import HistoryStore

    with tempfile.TemporaryDirectory(prefix="prodsprint-risk-eval-") as tmp:
        store = HistoryStore(Path(tmp) / "history.duckdb")
        mined = mine_repository(store, "evaluated", Path(path), progress=progress)
        labels = label_repository(store, "evaluated", Path(path), progress=progress)
        frame = labelled_commits(store, repos=["evaluated"])
        if frame.empty:
            raise ProdSprintError(f"{path}: no commits to evaluate")
        _, test_idx = time_split(frame["date"])
        test_start = float(frame["date"].iloc[test_idx].min()) if len(test_idx) else None
        known = labelled_commits(store, repos=["evaluated"], known_at=test_start)
    known = known.set_index("sha").loc[frame["sha"]].reset_index()
    frame = frame.rename(columns={"sha": "commit"})
    known = known.rename(columns={"sha": "commit"})
    result = evaluate_frame(
        frame, tuple(c for c in frame.columns if c in _MODEL_COLUMNS), train_frame=known,
        predictions_out=predictions_out, gap_seconds=gap_days * 86400,
    )  # fmt: skip
    return {
        "source": {"repo": str(path), "commits": mined["commits"], "szz": labels},
        **result,
    }


_MODEL_COLUMNS = (*KAMEI_FEATURES, "incident_files_30d")
