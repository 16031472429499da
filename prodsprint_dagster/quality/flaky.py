"""Flaky tests from the test history: failures that the code cannot explain.

A failing run of a test is a *flake* when the same test passed on code that is the same for
it:

- ``same_commit``: it passed on the same commit (another run, or a retry within the run);
- ``unchanged_code``: it passed on another commit where the test file had the same content and
  every source file the test covered in that passing run had the same content too. The
  passing run's coverage is used because a failing test stops early and covers less.

The flake rate is flaky runs / runs of the test (skipped runs are not counted): the share of
its runs that failed for no reason in the code. Runs whose coverage per test is unknown
(ingested reports without contexts) can only be judged by the same-commit rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prodsprint_dagster.quality.testresults import ERROR, FAILED, PASSED, SKIPPED, is_quarantined

SAME_COMMIT, UNCHANGED_CODE = "same_commit", "unchanged_code"


@dataclass
class _Run:
    run: int
    commit: str
    outcomes: list[str] = field(default_factory=list)
    test_digest: str | None = None
    covers: list[str] | None = None
    recorded_at: Any = None

    @property
    def final(self) -> str:
        return self.outcomes[-1]

    @property
    def bad(self) -> bool:
        return self.final in (FAILED, ERROR)


def find_flaky(
    rows: Iterable[Mapping[str, Any]],
    digests: Mapping[int, Mapping[str, str]],
    *,
    quarantine: Sequence[str] = (),
    min_flakes: int = 1,
) -> list[dict[str, Any]]:
    """Flaky tests, highest flake rate first; ``rows`` as ``load_test_history`` returns them."""
    by_test: dict[str, dict[int, _Run]] = {}
    for row in sorted(rows, key=lambda r: (r["coverage_run_id"], r["attempt"])):
        runs = by_test.setdefault(row["test_id"], {})
        run = runs.get(row["coverage_run_id"])
        if run is None:
            run = runs[row["coverage_run_id"]] = _Run(row["coverage_run_id"], row["commit_sha"])
        run.outcomes.append(row["outcome"])
        run.test_digest = row.get("test_digest") or run.test_digest
        if row.get("covers") is not None and row["outcome"] == PASSED:
            run.covers = list(row["covers"])
        run.recorded_at = row.get("recorded_at")
    found = []
    for test_id, runs in by_test.items():
        judged = [r for r in runs.values() if r.final != SKIPPED]
        flakes = _flakes(judged, digests)
        if len(flakes) < min_flakes:
            continue
        flaky_runs = [r for r in judged if r.run in flakes]
        last = max(flaky_runs, key=lambda r: r.run)
        found.append({
            "test": test_id,
            "runs": len(judged),
            "failures": sum(1 for r in judged if FAILED in r.outcomes or ERROR in r.outcomes),
            "flaky_runs": len(flakes),
            "flake_rate": round(len(flakes) / len(judged), 4),
            "reasons": sorted(set(flakes.values())),
            "commits": sorted({r.commit for r in flaky_runs}),
            "last_flake_at": str(last.recorded_at) if last.recorded_at is not None else None,
            "quarantined": is_quarantined(test_id, quarantine),
        })  # fmt: skip
    found.sort(key=lambda f: (-f["flake_rate"], -f["flaky_runs"], f["test"]))
    return found


def _flakes(runs: list[_Run], digests: Mapping[int, Mapping[str, str]]) -> dict[int, str]:
    """Run -> why its failure is a flake."""
    flakes: dict[int, str] = {}
    for run in runs:
        if run.final == PASSED and any(o in (FAILED, ERROR) for o in run.outcomes):
            flakes[run.run] = SAME_COMMIT  # failed, then passed on retry
    passing = [r for r in runs if r.final == PASSED]
    for run in runs:
        if not run.bad or run.run in flakes:
            continue
        for good in passing:
            if good.commit == run.commit:
                flakes[run.run] = SAME_COMMIT
                break
            if _unchanged(good, run, digests):
                flakes[run.run] = UNCHANGED_CODE
                break
    return flakes


def _unchanged(good: _Run, bad: _Run, digests: Mapping[int, Mapping[str, str]]) -> bool:
    """Whether the test and everything it covered when it passed are identical in ``bad``."""
    if good.covers is None or not good.test_digest or good.test_digest != bad.test_digest:
        return False
    before, after = digests.get(good.run, {}), digests.get(bad.run, {})
    return all(before.get(p) is not None and before.get(p) == after.get(p) for p in good.covers)


def flaky_ids(flaky: Iterable[Mapping[str, Any]]) -> set[str]:
    return {f["test"] for f in flaky}
