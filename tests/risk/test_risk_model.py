"""Model: time-ordered split, no label leakage, save/load, the cold-start prior, training."""

import csv
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.risk import (
    KAMEI_FEATURES,
    MODEL_COLUMNS,
    current_model,
    dump_model,
    evaluate_features_csv,
    load_model,
    method_for,
    prior_model,
    time_split,
    train_model,
    train_risk_model,
)
from prodsprint_dagster.risk.metrics import popt, recall_at_effort
from prodsprint_dagster.store import HistoryStore
from tests.risk.synthetic import as_public_csv, kamei_table


def test_split_is_time_ordered_never_shuffled():
    rng = np.random.default_rng(1)
    dates = rng.permutation(np.repeat(np.arange(500), 2))  # shuffled, with ties
    train, test = time_split(dates)
    assert len(test) == 200 and len(train) == 800
    assert dates[train].max() <= dates[test].min()
    train_gap, test_gap = time_split(dates, gap_seconds=30)
    assert dates[train_gap].max() <= dates[test_gap].min() - 30
    assert list(test_gap) == list(test)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    table = as_public_csv(kamei_table(1500))
    # Make the label copy a perfect predictor: if it ever became a feature, AUC would be 1.
    path = root / "features.csv"
    table.to_csv(path)  # with the unnamed index column, as the public files have
    out = root / "preds.csv"
    return evaluate_features_csv(path, predictions_out=out), out, table


def test_evaluation_reports_metrics_and_the_baseline(evaluated):
    result, _, _ = evaluated
    for key in ("roc_auc", "pr_auc", "brier", "recall_at_20pct_effort", "popt"):
        assert 0 <= result[key] <= 1, key
        assert key in result["lapredict"]
    assert result["n_train"] == 1200 and result["n_test"] == 300
    assert 0.65 < result["roc_auc"] < 0.95  # learnt the signal, not the label copy in `__`
    assert result["model"]["features"] == list(KAMEI_FEATURES)
    assert result["train_window"][1] <= result["test_window"][0]


def test_predictions_out_holds_only_the_latest_rows(evaluated):
    _, out, table = evaluated
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["commit", "date", "label", "score"] and len(rows) == 300
    cutoff = sorted(table["date"])[1199]
    assert min(int(r["date"]) for r in rows) >= cutoff
    assert all(0 <= float(r["score"]) <= 1 for r in rows)


def test_features_table_errors_name_the_problem(tmp_path):
    table = as_public_csv(kamei_table(50)).drop(columns=["nuc", "sexp"])
    path = tmp_path / "short.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ProdSprintError, match="missing column\\(s\\) nuc, sexp"):
        evaluate_features_csv(path)
    table = as_public_csv(kamei_table(50)).astype({"la": object})
    table.loc[7, "la"] = "lots"
    table.to_csv(path, index=False)
    with pytest.raises(ProdSprintError, match=r"column la has 1 missing or non-numeric.*line 9"):
        evaluate_features_csv(path)


def test_saved_model_loads_and_scores_the_same_and_tampering_is_refused():
    frame = kamei_table(800).rename(columns={"bug": "label"})
    model = train_model(frame, KAMEI_FEATURES)
    data, digest = dump_model(model)
    loaded = load_model(data, digest)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.metadata == model.metadata
    assert loaded.explain(frame.iloc[3]) == model.explain(frame.iloc[3])
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ProdSprintError, match="do not match their recorded sha256"):
        load_model(tampered, digest)


def test_too_little_history_is_a_clear_error():
    frame = kamei_table(60).rename(columns={"bug": "label"})
    frame["label"] = 0
    frame.loc[:2, "label"] = 1
    with pytest.raises(ProdSprintError, match="at least 10 of each"):
        train_model(frame, KAMEI_FEATURES)


def test_prior_scores_and_explains_without_history():
    model = prior_model()
    assert (
        model.metadata["method"] == "prior"
        and "ZZR0/ISSTA21-JIT-DP" in model.metadata["provenance"]
    )
    small = {"ns": 1, "nd": 1, "nf": 1, "entropy": 0, "la": 2, "ld": 1, "lt": 100, "fix": 0,
             "ndev": 2, "age": 10, "nuc": 3}  # fmt: skip
    big = {**small, "la": 2000, "nf": 40, "nd": 12, "ns": 3, "entropy": 4.5}
    p_small, p_big = model.predict(pd.DataFrame([small, big]))
    assert 0 < p_small < p_big < 1
    top = model.explain(big, top=3)
    assert top[0]["feature"] == "la" and top[0]["contribution"] > 0


def test_effort_metrics_by_hand():
    labels = np.array([1, 0, 1, 0])
    effort = np.array([10.0, 10.0, 10.0, 70.0])
    perfect = np.array([0.9, 0.1, 0.8, 0.2])
    assert recall_at_effort(labels, perfect, effort) == 1.0  # 20 of 100 lines find both
    assert popt(labels, perfect, effort) == pytest.approx(1.0)
    worst = np.array([0.01, 0.5, 0.02, 7.0])  # big clean change first, then the small clean one
    assert popt(labels, worst, effort) == pytest.approx(0.0)
    assert recall_at_effort(labels, worst, effort) == 0.0


def _insert_history(store: HistoryStore, repo: str, frame: pd.DataFrame) -> None:
    rows = frame.assign(
        repo=repo, sha=[f"{repo[:1]}{i:039x}" for i in range(len(frame))],
        seq=range(len(frame)), author_name="a", author_email="a@x", author_key="a@x",
        authored_ts=frame["date"], committed_ts=frame["date"], subject="s", message="s",
        is_merge=False, is_bot=False, is_revert=False, reverts=None, binary_files=0,
    )  # fmt: skip
    with store.connect() as con:
        con.register("synthetic", rows)
        con.execute(
            "INSERT INTO commits SELECT repo, sha, seq, []::VARCHAR[], author_name, author_email,"
            " author_key, authored_ts, committed_ts, to_timestamp(committed_ts), subject,"
            " message, is_merge, is_bot, is_revert, reverts, []::VARCHAR[], binary_files, "
            + ", ".join(KAMEI_FEATURES)
            + ", now() FROM synthetic"
        )
        con.execute(
            "INSERT INTO szz_links SELECT repo, 'f' || sha, sha, 'blame', 'x.py', 1,"
            " committed_ts + 86400 FROM synthetic WHERE bug = 1"
        )


def test_train_risk_model_falls_back_to_the_prior_then_trains_and_stores(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    _insert_history(store, "tiny", kamei_table(30, seed=3))
    meta = train_risk_model(store)
    assert meta["method"] == "prior" and not meta["stored"] and "at least" in meta["reason"]
    assert current_model(store).metadata["method"] == "prior"

    _insert_history(store, "big", kamei_table(900, seed=4))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    meta = train_risk_model(store, now=now)
    assert meta["stored"] and meta["method"] == "trained"
    assert meta["features"] == list(MODEL_COLUMNS)
    assert meta["repos"]["big"]["rows"] > 800
    model = current_model(store)
    assert model.id == meta["id"]
    assert method_for(model, "big") == "repository"
    assert method_for(model, "tiny") == "pooled"
    assert meta["validation_metrics"]["roc_auc"] > 0.6
    assert set(meta["libraries"]) >= {"scikit-learn", "numpy", "python"}
