"""Evaluation metrics: ranking (ROC-AUC, PR-AUC), calibration (Brier) and effort-aware ones.

Effort is the changed lines (LA + LD, at least 1), as in Kamei et al. 2013. The effort-aware
metrics rank changes by predicted risk per changed line (what a reviewer with a fixed budget
of lines would inspect first):

- ``recall_at_20pct_effort``: share of the defect-inducing changes found when the top-ranked
  changes covering 20 % of all changed lines are inspected.
- ``popt``: 1 - (area(optimal) - area(model)) / (area(optimal) - area(worst)) under the
  curve of defects found against effort spent; optimal and worst rank by the true labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def _curve(order: np.ndarray, labels: np.ndarray, effort: np.ndarray) -> tuple[np.ndarray, ...]:
    x = np.concatenate([[0.0], np.cumsum(effort[order]) / effort.sum()])
    y = np.concatenate([[0.0], np.cumsum(labels[order]) / max(labels.sum(), 1)])
    return x, y


def _area(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def effort_of(la, ld) -> np.ndarray:
    return np.maximum(np.asarray(la, dtype=np.float64) + np.asarray(ld, dtype=np.float64), 1.0)


def effort_order(scores: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Highest risk per changed line first; ties go to the smaller change."""
    return np.lexsort((effort, -(scores / effort)))


def recall_at_effort(labels, scores, effort, budget: float = 0.2) -> float:
    labels, scores, effort = (np.asarray(a, dtype=np.float64) for a in (labels, scores, effort))
    if labels.sum() == 0:
        return float("nan")
    order = effort_order(scores, effort)
    spent = np.cumsum(effort[order]) / effort.sum()
    inspected = order[spent <= budget + 1e-12]
    return float(labels[inspected].sum() / labels.sum())


def popt(labels, scores, effort) -> float:
    labels, scores, effort = (np.asarray(a, dtype=np.float64) for a in (labels, scores, effort))
    if labels.sum() == 0 or labels.sum() == len(labels):
        return float("nan")
    model = _area(*_curve(effort_order(scores, effort), labels, effort))
    optimal = _area(*_curve(np.lexsort((effort, -labels)), labels, effort))
    worst = _area(*_curve(np.lexsort((-effort, labels)), labels, effort))
    return float(1.0 - (optimal - model) / (optimal - worst)) if optimal > worst else float("nan")


def evaluate_scores(labels, scores, effort) -> dict[str, float | None]:
    """All metrics of one set of predictions; None where a metric is undefined."""
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    both = 0 < labels.sum() < len(labels)
    result = {
        "roc_auc": float(roc_auc_score(labels, scores)) if both else None,
        "pr_auc": float(average_precision_score(labels, scores)) if both else None,
        "brier": float(brier_score_loss(labels, scores)) if len(labels) else None,
        "recall_at_20pct_effort": recall_at_effort(labels, scores, effort),
        "popt": popt(labels, scores, effort),
        "positives": int(labels.sum()),
        "n": len(labels),
    }
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in result.items()}
