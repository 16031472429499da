"""Flaky tests found from a synthetic history stored in a real DuckDB history store."""

from datetime import UTC, datetime, timedelta

from prodsprint_dagster.quality.coverage import (
    CoverageData,
    RunRecord,
    coverage_runs,
    load_test_history,
    record_run,
)
from prodsprint_dagster.quality.flaky import find_flaky
from prodsprint_dagster.quality.testresults import TestCase, summarize
from prodsprint_dagster.store import HistoryStore

C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def case(name, outcome, attempt=0):
    return TestCase(f"tests.t::{name}", name, "tests.t", "tests/t.py", outcome, 0.01,
                    None if outcome == "passed" else f"{name} {outcome}", attempt)  # fmt: skip


def store_run(history, n, commit, results, digests, test_digest, covers):
    data = CoverageData()
    for path in digests:
        data.file(path).hit(1, 1)
    cases = [case(*r) for r in results]
    tests = summarize(cases)
    return record_run(history, RunRecord(
        repo="shop", commit=commit, source="ran:pytest", data=data,
        coverage={"percent": 100.0, "patch": None}, tests=tests, cases=cases,
        file_digests=digests, test_digests={"tests/t.py": test_digest},
        covers={f"tests.t::{k}": v for k, v in covers.items()}, recorded_at=T0 + timedelta(n),
    ))  # fmt: skip


def seed(history):
    covers = {"A": ["app.py"], "B": ["app.py"], "C": ["util.py"], "D": ["app.py"], "E": [],
              "F": ["app.py"]}  # G: covered files unknown (an ingested report)  # fmt: skip
    v1 = {"app.py": "d1", "util.py": "u1"}
    store_run(history, 1, C1, [("A", "passed"), ("B", "passed"), ("C", "passed"),
                               ("E", "passed"), ("F", "passed"), ("G", "passed")],
              v1, "t1", covers)  # fmt: skip
    store_run(history, 2, C1, [("A", "failed"), ("F", "passed")], v1, "t1", covers)
    v2 = {"app.py": "d1", "util.py": "u2"}  # util.py changed, app.py did not
    store_run(history, 3, C2, [("B", "failed"), ("C", "failed"), ("D", "failed", 0),
                               ("D", "passed", 1), ("F", "passed"), ("G", "failed"),
                               ("H", "skipped")], v2, "t1", covers)  # fmt: skip
    store_run(history, 4, C3, [("E", "failed"), ("F", "passed")], v2, "t2", covers)


def test_flaky_tests_from_history(tmp_path):
    history = HistoryStore(tmp_path / "history.duckdb")
    seed(history)
    rows, digests = load_test_history(history, "shop")
    assert len({r["coverage_run_id"] for r in rows}) == 4
    assert digests[1] == {"app.py": "d1", "util.py": "u1"}

    flaky = {f["test"].split("::")[1]: f for f in find_flaky(rows, digests,
                                                              quarantine=["*::B"])}  # fmt: skip
    # A: passed and failed on C1. B: failed on C2 although neither the test nor app.py (all it
    # covered when it passed) changed. D: failed then passed on retry within one run.
    # Not flaky: C (util.py changed), E (its test file changed), F (never failed),
    # G (its coverage is unknown, and it never ran twice on one commit), H (skipped).
    assert set(flaky) == {"A", "B", "D"}
    assert flaky["A"]["reasons"] == ["same_commit"] and flaky["A"]["commits"] == [C1]
    assert flaky["B"]["reasons"] == ["unchanged_code"] and flaky["B"]["commits"] == [C2]
    assert flaky["D"]["reasons"] == ["same_commit"]
    assert (flaky["A"]["runs"], flaky["A"]["flaky_runs"], flaky["A"]["flake_rate"]) == (2, 1, 0.5)
    assert flaky["B"]["flake_rate"] == 0.5 and flaky["D"]["flake_rate"] == 1.0
    assert flaky["B"]["quarantined"] and not flaky["A"]["quarantined"]
    assert next(f["test"] for f in find_flaky(rows, digests)) == "tests.t::D"  # highest rate first
    assert flaky["A"]["last_flake_at"].startswith("2026-01-07")


def test_a_flaky_test_needs_enough_flakes_and_history_is_per_repo(tmp_path):
    history = HistoryStore(tmp_path / "history.duckdb")
    seed(history)
    rows, digests = load_test_history(history, "shop")
    assert find_flaky(rows, digests, min_flakes=2) == []
    assert load_test_history(history, "other") == ([], {})
    assert load_test_history(HistoryStore(tmp_path / "missing.duckdb"), "shop") == ([], {})
    runs = coverage_runs(history, "shop")
    assert [r["commit_sha"] for r in runs] == [C3, C2, C1, C1]
    assert runs[1]["tests_total"] == 6 and runs[1]["tests_failed"] == 3
