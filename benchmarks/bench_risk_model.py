"""Risk model quality on the public JIT data, and the time to score one new commit.

(1) `risk evaluate --features` on ../shared/data/jit (qt, openstack): strict time-ordered
split (date ascending, earliest 80 % train, latest 20 % test, never shuffled; model selection,
tuning and calibration only inside the training part). Reported next to LApredict fitted on
the same split in the same run, and to the published reference points (Zeng et al. 2021:
LApredict 0.744 / 0.749; random forest on the 14 features about 0.753 / 0.769). Target:
ROC-AUC >= 0.80 and above LApredict on each.

(2) Scoring one new commit: a synthetic 4,000-commit repository (git fast-import) is mined,
SZZ-labelled and a model trained on it (train_risk_model); then each of its last 200 commits
is, in turn, turned into its 14 features from the running state and scored by that model
(features + model, target < 50 ms), and explained (median substitution). The end-to-end
stage path (read the repository's rows from DuckDB, score them all for the percentile,
explain) is timed too.

Prints one JSON object; a table goes to stderr.

    python benchmarks/bench_risk_model.py [--data ../shared/data/jit] [--skip-jit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.risk import (
    MODEL_COLUMNS,
    current_model,
    evaluate_features_csv,
    label_repository,
    mine_repository,
    score_commits,
    train_risk_model,
)
from prodsprint_dagster.risk.gitlog import iter_commits
from prodsprint_dagster.risk.mining import MinedBatch, Miner
from prodsprint_dagster.risk.synthetic import generate_history
from prodsprint_dagster.store import HistoryStore

REFERENCES = {
    "qt": {"lapredict": 0.744, "random_forest": 0.753},
    "openstack": {"lapredict": 0.749, "random_forest": 0.769},
}
TARGET_AUC = 0.80


def jit(data: Path) -> dict:
    out = {}
    for name in ("qt", "openstack"):
        result = evaluate_features_csv(data / f"{name}_k_feature.csv")
        keys = ("roc_auc", "pr_auc", "brier", "recall_at_20pct_effort", "popt")
        out[name] = {
            "model": {k: result[k] for k in keys},
            "lapredict_same_split": {k: result["lapredict"][k] for k in keys},
            "published": REFERENCES[name],
            "candidate": result["model"]["candidate"],
            "validation_roc_auc": result["model"]["validation_metrics"]["roc_auc"],
            "n_train": result["n_train"],
            "n_test": result["n_test"],
            "meets_target": result["roc_auc"] >= TARGET_AUC,
            "beats_lapredict": result["roc_auc"] > result["lapredict"]["roc_auc"],
            "seconds": result["seconds"],
        }
    return out


def _ms(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "median": round(statistics.median(samples) * 1000, 2),
        "p95": round(samples[int(len(samples) * 0.95) - 1] * 1000, 2),
        "n": len(samples),
    }


def scoring(commits: int, last: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-risk-") as tmp:
        repo = generate_history(Path(tmp) / "repo", commits, spacing_seconds=6 * 3600).path
        store = HistoryStore(Path(tmp) / "h.duckdb")
        mine_repository(store, "bench", repo)
        label_repository(store, "bench", repo)
        meta = train_risk_model(store)
        model = current_model(store)
        raws = list(iter_commits(repo))
        miner, batch = Miner("bench"), MinedBatch()
        for raw in raws[:-last]:
            miner.add(raw, batch)
        features, explain = [], []
        for raw in raws[-last:]:
            started = time.perf_counter()
            row = miner.add(raw, batch)
            frame = pd.DataFrame([dict(zip(MODEL_COLUMNS, (*row, 0), strict=True))])
            model.predict(frame)
            features.append(time.perf_counter() - started)
            started = time.perf_counter()
            model.explain(frame.iloc[0])
            explain.append(time.perf_counter() - started)
        stage = []
        for raw in [r for r in raws[-20:] if not r.is_merge]:
            started = time.perf_counter()
            score_commits(store, "bench", [raw.sha], model, {"medium": 0.3, "high": 0.7})
            stage.append(time.perf_counter() - started)
    return {
        "model": {
            "candidate": meta.get("candidate"),
            "method": meta.get("method"),
            "validation_roc_auc": (meta.get("validation_metrics") or {}).get("roc_auc"),
            "n_train": meta.get("n_train"),
        },
        "features_plus_model_ms": _ms(features),
        "explain_ms": _ms(explain),
        "stage_score_with_percentile_and_explanation_ms": _ms(stage),
        "repository_commits": len(raws),
        "target_ms": 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "jit"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--skip-jit", action="store_true")
    parser.add_argument("--commits", type=int, default=4000)
    parser.add_argument("--last", type=int, default=200)
    args = parser.parse_args()
    result = {}
    if not args.skip_jit:
        result["jit"] = jit(args.data)
        print(f"{'data':<10} {'ROC-AUC':>8} {'LApredict':>9} {'PR-AUC':>7} {'Brier':>6} "
              f"{'R@20%':>6} {'Popt':>6}", file=sys.stderr)  # fmt: skip
        for name, r in result["jit"].items():
            m = r["model"]
            print(f"{name:<10} {m['roc_auc']:>8.4f} {r['lapredict_same_split']['roc_auc']:>9.4f} "
                  f"{m['pr_auc']:>7.4f} {m['brier']:>6.4f} {m['recall_at_20pct_effort']:>6.3f} "
                  f"{m['popt']:>6.3f}", file=sys.stderr)  # fmt: skip
    result["scoring"] = scoring(args.commits, args.last)
    s = result["scoring"]
    print(f"score one commit (features + model): {s['features_plus_model_ms']['median']} ms "
          f"median, {s['features_plus_model_ms']['p95']} ms p95 ({s['model']['candidate']})",
          file=sys.stderr)  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
