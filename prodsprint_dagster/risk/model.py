"""The risk model: candidates, time-ordered selection, calibration, explanation.

Training never looks at the future: rows are sorted by commit time, the earliest 80 % fit
every candidate and the latest 20 % (the validation slice) choose among them, by ROC-AUC.
A Platt calibration (one slope and one intercept on the log-odds, so the ranking is
unchanged) is fitted on the chosen candidate's validation predictions; the chosen
candidate is then refitted on all training rows and keeps that calibration.

Candidates: logistic regression (log transforms, class weights), random forest, histogram
gradient boosting (a small grid, tuned on the same validation slice), and their ensemble
(the mean log-odds of the three).

Explanations use median substitution: a feature's contribution is how much the calibrated
log-odds drop when that one feature is set to its training median, all others unchanged.
It is exact for the linear models and a local, model-agnostic reading for the trees.
"""

from __future__ import annotations

import hashlib
import io
import platform
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.risk.metrics import effort_of, evaluate_scores
from prodsprint_dagster.risk.transform import ChangeFeatures

EXPLANATION_METHOD = (
    "median substitution: the change in calibrated log-odds when one feature is set to its "
    "training median and the others are kept"
)
_EPS = 1e-6


class InsufficientHistory(ProdSprintError):
    """Too few labelled commits (or too few of one class) to train and validate a model."""


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, _EPS, 1 - _EPS))


class LogitAverage(ClassifierMixin, BaseEstimator):
    """Soft vote of fitted members in log-odds space."""

    def __init__(self, members: list[Any] | None = None):
        self.members = members

    def fit(self, X, y):
        self.members = [clone(m).fit(X, y) for m in self.members]
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        z = np.mean([_logit(m.predict_proba(X)[:, 1]) for m in self.members], axis=0)
        p = expit(z)
        return np.column_stack([1 - p, p])


def _leaf(n: int) -> int:
    return int(np.clip(n // 100, 10, 100))


def candidates(columns: tuple[str, ...], n_rows: int) -> dict[str, Any]:
    """Unfitted candidate pipelines; HGB variants form the tuning grid.

    Small histories get fewer boosting rounds: 400 rounds on a few hundred rows only overfit
    (and cost seconds each); leaves need at least ~1 % of the rows.
    """
    leaf = _leaf(n_rows)
    rounds = 400 if n_rows >= 5_000 else 150

    def pipe(model, scale: bool = False) -> Pipeline:
        steps = [("features", ChangeFeatures(columns))]
        if scale:
            steps.append(("scale", StandardScaler()))
        return Pipeline([*steps, ("model", model)])

    def hgb(rate: float, leaves: int, min_leaf: int) -> Pipeline:
        return pipe(
            HistGradientBoostingClassifier(
                learning_rate=rate, max_iter=rounds, max_leaf_nodes=leaves,
                min_samples_leaf=min_leaf, l2_regularization=1.0, early_stopping=False,
                random_state=0,
            )
        )  # fmt: skip

    return {
        "logistic_regression": pipe(
            LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000), scale=True
        ),
        "random_forest": pipe(
            RandomForestClassifier(
                n_estimators=200,
                min_samples_leaf=10,
                max_features=0.3,
                n_jobs=2,
                random_state=0,
            )
        ),
        "hist_gradient_boosting[lr=0.03,leaves=15]": hgb(0.03, 15, leaf),
        "hist_gradient_boosting[lr=0.05,leaves=7]": hgb(0.05, 7, leaf),
        "hist_gradient_boosting[lr=0.02,leaves=31]": hgb(0.02, 31, 2 * leaf),
    }


def _single_threaded(estimator: Any) -> Any:
    """Scoring one commit is faster without a thread pool (and the model is shared)."""
    for est in getattr(estimator, "members", None) or [estimator]:
        model = est.named_steps["model"] if isinstance(est, Pipeline) else est
        if "n_jobs" in model.get_params():
            model.set_params(n_jobs=1)
    return estimator


@dataclass
class RiskModel:
    """A fitted estimator with its calibration, training medians and metadata."""

    estimator: Any
    columns: tuple[str, ...]
    slope: float
    intercept: float
    medians: dict[str, float]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.metadata["id"]

    def _frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise ProdSprintError(f"risk model needs column(s) {', '.join(missing)}")
        return rows.loc[:, list(self.columns)].astype(np.float64)

    def log_odds(self, rows: pd.DataFrame) -> np.ndarray:
        raw = self.estimator.predict_proba(self._frame(rows))[:, 1]
        return self.slope * _logit(raw) + self.intercept

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities that each change induces a defect or an incident."""
        return expit(self.log_odds(rows))

    def explain(self, row: pd.Series | dict, top: int = 5) -> list[dict[str, Any]]:
        """The features that move this change's log-odds most, largest first."""
        base = pd.DataFrame([{c: float(row[c]) for c in self.columns}])
        variants = pd.concat([base] * (len(self.columns) + 1), ignore_index=True)
        for i, column in enumerate(self.columns, start=1):
            variants.loc[i, column] = self.medians.get(column, 0.0)
        z = self.log_odds(variants)
        items = [
            {
                "feature": column,
                "value": _number(base.loc[0, column]),
                "median": _number(self.medians.get(column, 0.0)),
                "contribution": round(float(z[0] - z[i]), 4),
            }
            for i, column in enumerate(self.columns, start=1)
        ]
        items.sort(key=lambda item: -abs(item["contribution"]))
        return items[:top]


def _number(value: float) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def _check_classes(y: np.ndarray, where: str, minimum: int) -> None:
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives < minimum or negatives < minimum:
        raise InsufficientHistory(
            f"{where} has {positives} defect-inducing and {negatives} clean commits; "
            f"at least {minimum} of each are needed"
        )


def train_model(
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    *,
    label: str = "label",
    date: str = "date",
    validation_fraction: float = 0.2,
    min_per_class: int = 10,
    now: datetime | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> RiskModel:
    """Select, calibrate and refit on ``frame`` in its time order (never shuffled)."""
    frame = frame.sort_values(date, kind="mergesort").reset_index(drop=True)
    X = frame.loc[:, list(columns)].astype(np.float64)
    y = frame[label].to_numpy(dtype=np.int64)
    n_val = round(len(frame) * validation_fraction)
    n_fit = len(frame) - n_val
    _check_classes(y[:n_fit], "the fitting part of the training data", min_per_class)
    _check_classes(y[n_fit:], "the validation slice (latest 20 % of training)", 3)
    X_fit, y_fit, X_val, y_val = X.iloc[:n_fit], y[:n_fit], X.iloc[n_fit:], y[n_fit:]

    pool = candidates(columns, n_fit)
    fitted: dict[str, Any] = {}
    scores: dict[str, np.ndarray] = {}
    for name, estimator in pool.items():
        fitted[name] = estimator.fit(X_fit, y_fit)
        scores[name] = fitted[name].predict_proba(X_val)[:, 1]
    auc = {name: float(roc_auc_score(y_val, p)) for name, p in scores.items()}
    hgb = max((n for n in pool if n.startswith("hist_")), key=lambda n: auc[n])
    members = ["logistic_regression", "random_forest", hgb]
    scores["ensemble"] = expit(np.mean([_logit(scores[m]) for m in members], axis=0))
    auc["ensemble"] = float(roc_auc_score(y_val, scores["ensemble"]))
    # Simpler candidates first: a tie keeps the simpler one.
    order = ["logistic_regression", "random_forest", hgb, "ensemble"]
    chosen = max(order, key=lambda n: (round(auc[n], 4), -order.index(n)))

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(
        _logit(scores[chosen]).reshape(-1, 1), y_val
    )
    slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    calibrated = expit(slope * _logit(scores[chosen]) + intercept)

    if chosen == "ensemble":
        final = LogitAverage([pool[m] for m in members]).fit(X, y)
    else:
        final = clone(pool[chosen]).fit(X, y)
    _single_threaded(final)
    validation = evaluate_scores(y_val, calibrated, _effort(frame.iloc[n_fit:]))
    trained_at = now or datetime.now(UTC)
    dates = frame[date]
    metadata = {
        "id": f"risk-{trained_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        "trained_at": trained_at.isoformat(),
        "method": "trained",
        "candidate": chosen,
        "members": members if chosen == "ensemble" else [chosen],
        "validation_metrics": validation,
        "candidate_roc_auc": {k: round(v, 4) for k, v in auc.items()},
        "calibration": {"kind": "platt", "slope": slope, "intercept": intercept},
        "features": list(columns),
        "transforms": list(ChangeFeatures(columns).get_feature_names_out()),
        "training_window": {
            "from": _iso(dates.iloc[0]),
            "validation_from": _iso(dates.iloc[n_fit]),
            "to": _iso(dates.iloc[-1]),
        },
        "n_train": len(frame),
        "n_fit": n_fit,
        "n_validation": n_val,
        "positives": int(y.sum()),
        "explanation_method": EXPLANATION_METHOD,
        "libraries": library_versions(),
        **(extra_metadata or {}),
    }
    medians = {c: float(np.median(X[c])) for c in columns}
    return RiskModel(final, tuple(columns), slope, intercept, medians, metadata)


def _effort(frame: pd.DataFrame) -> np.ndarray:
    return effort_of(frame["la"], frame["ld"])


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(float(ts), UTC).isoformat()


# -- persistence -------------------------------------------------------------------------


def dump_model(model: RiskModel) -> tuple[bytes, str]:
    """joblib bytes of the model and their sha256 (recorded apart from the bytes)."""
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def load_model(data: bytes, sha256: str) -> RiskModel:
    """Refuses bytes whose digest differs from the recorded one before unpickling them."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ProdSprintError(
            f"risk model bytes do not match their recorded sha256 ({actual[:12]} != "
            f"{sha256[:12]}): refusing to load a modified or corrupted model; retrain it"
        )
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, RiskModel):
        raise ProdSprintError("stored risk model has an unexpected type; retrain it")
    return model
