"""Change risk: mine churn history, label it (SZZ, incidents), train, score and explain.

Plain Python (never dagster). The flow a release takes:

1. :func:`mine_repository` streams ``git log --numstat`` into ``commits`` / ``commit_files``
   with the 14 Kamei features as of each commit (incremental).
2. :func:`label_repository` links fixes to the commits that induced them (SZZ);
   :func:`import_incidents` / :func:`record_rollback` add incidents.
3. :func:`train_risk_model` selects, calibrates and stores a model over every repository
   (the public-data prior stands in while the history is too thin).
4. :func:`score_commits` gives the probability, percentile, band and explanation.

:func:`evaluate_features_csv` and :func:`evaluate_repository` measure it on a strict
time-ordered split. docs/risk.md documents definitions, labels and the evaluation.

Names are imported on first use (PEP 562), so a caller that only records an incident
(the release conductor, at rollback) does not pay for importing scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "FeatureState": "prodsprint_dagster.risk.features",
    "FileChange": "prodsprint_dagster.risk.gitlog",
    "IncidentFileError": "prodsprint_dagster.risk.incidents",
    "InsufficientHistory": "prodsprint_dagster.risk.model",
    "KAMEI_FEATURES": "prodsprint_dagster.risk.features",
    "MODEL_COLUMNS": "prodsprint_dagster.risk.dataset",
    "Miner": "prodsprint_dagster.risk.mining",
    "RawCommit": "prodsprint_dagster.risk.gitlog",
    "RiskModel": "prodsprint_dagster.risk.model",
    "band_for": "prodsprint_dagster.risk.scoring",
    "current_model": "prodsprint_dagster.risk.registry",
    "dump_model": "prodsprint_dagster.risk.model",
    "evaluate_features_csv": "prodsprint_dagster.risk.evaluate",
    "evaluate_repository": "prodsprint_dagster.risk.evaluate",
    "import_incidents": "prodsprint_dagster.risk.incidents",
    "introduced_commits": "prodsprint_dagster.risk.scoring",
    "is_merge": "prodsprint_dagster.risk.scoring",
    "iter_commits": "prodsprint_dagster.risk.gitlog",
    "label_repository": "prodsprint_dagster.risk.szz",
    "labelled_commits": "prodsprint_dagster.risk.dataset",
    "list_models": "prodsprint_dagster.risk.registry",
    "load_model": "prodsprint_dagster.risk.model",
    "method_for": "prodsprint_dagster.risk.registry",
    "mine_repository": "prodsprint_dagster.risk.mining",
    "prior_model": "prodsprint_dagster.risk.prior",
    "read_incidents": "prodsprint_dagster.risk.incidents",
    "record_rollback": "prodsprint_dagster.risk.incidents",
    "record_score": "prodsprint_dagster.risk.scoring",
    "save_model": "prodsprint_dagster.risk.registry",
    "score_commits": "prodsprint_dagster.risk.scoring",
    "score_history": "prodsprint_dagster.risk.scoring",
    "thresholds_from": "prodsprint_dagster.risk.scoring",
    "time_split": "prodsprint_dagster.risk.evaluate",
    "train_model": "prodsprint_dagster.risk.model",
    "train_risk_model": "prodsprint_dagster.risk.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
