"""Coverage runs and test results in the history store (tables of migration 5).

One run is written in one transaction (run row, per-file rows, every test attempt), so a
crash never leaves a run without its results. Rows are bulk-inserted from column lists
(``unnest``), which keeps a suite of thousands of tests to one statement per table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.testresults import TestCase
from prodsprint_dagster.store import HistoryStore

MAX_HISTORY_RUNS = 500


@dataclass
class RunRecord:
    """What one coverage stage run measured, ready to be stored."""

    repo: str
    commit: str
    source: str
    data: CoverageData
    coverage: Mapping[str, Any]  # the coverage.json document
    tests: Mapping[str, Any] | None  # the tests.json document
    cases: Sequence[TestCase] = ()
    file_digests: Mapping[str, str] = field(default_factory=dict)
    test_digests: Mapping[str, str] = field(default_factory=dict)  # test file -> digest
    covers: Mapping[str, Sequence[str]] | None = None  # test id -> covered files
    duration: float | None = None
    run_id: str | None = None
    recorded_at: datetime | None = None


def record_run(history: HistoryStore, rec: RunRecord) -> int:
    """Store the run; returns its ``coverage_runs.id``."""
    cov, tests = rec.coverage, rec.tests or {}
    patch = cov.get("patch") or {}
    totals = rec.data.totals()
    at = rec.recorded_at or datetime.now(UTC)
    files = sorted(p for p, f in rec.data.files.items() if f.lines)
    with history.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            run_id = con.execute(
                "INSERT INTO coverage_runs (repo, commit_sha, base_sha, source, lines_total,"
                " lines_covered, branches_total, branches_covered, percent, branch_percent,"
                " patch_coverable, patch_covered, patch_percent, tests_total, tests_failed,"
                " tests_errors, tests_skipped, tests_quarantined, duration_seconds, recorded_at,"
                " run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                [rec.repo, rec.commit, patch.get("base"), rec.source, totals["lines"],
                 totals["covered"], totals["branches"], totals["branches_covered"],
                 cov.get("percent"), cov.get("branch_percent"), patch.get("coverable"),
                 patch.get("covered"), cov.get("patch_percent"), tests.get("total"),
                 tests.get("failed"), tests.get("errors"), tests.get("skipped"),
                 len(tests.get("quarantined") or []) if rec.tests else None, rec.duration, at,
                 rec.run_id],
            ).fetchone()[0]  # fmt: skip
            if files:
                fcs = [rec.data.files[p] for p in files]
                con.execute(
                    "INSERT INTO coverage_files SELECT ?, unnest(?::VARCHAR[]),"
                    " unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::INTEGER[]),"
                    " unnest(?::INTEGER[]), unnest(?::VARCHAR[])",
                    [run_id, files, [f.lines_total for f in fcs], [f.lines_covered for f in fcs],
                     [f.branches_total for f in fcs], [f.branches_covered for f in fcs],
                     [rec.file_digests.get(p) for p in files]],
                )  # fmt: skip
            if rec.cases:
                cases = list(rec.cases)
                covers = rec.covers
                con.execute(
                    "INSERT INTO test_results SELECT ?, ?, ?, unnest(?::VARCHAR[]),"
                    " unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[]),"
                    " unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
                    " unnest(?::JSON[]), ?",
                    [run_id, rec.repo, rec.commit, [c.id for c in cases],
                     [c.attempt for c in cases], [c.outcome for c in cases],
                     [c.duration for c in cases], [c.message for c in cases],
                     [c.file for c in cases],
                     [rec.test_digests.get(c.file) if c.file else None for c in cases],
                     [json.dumps(sorted(covers[c.id])) if covers and c.id in covers else None
                      for c in cases], at],
                )  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return int(run_id)


def load_test_history(
    history: HistoryStore, repo: str, *, max_runs: int = MAX_HISTORY_RUNS
) -> tuple[list[dict[str, Any]], dict[int, dict[str, str]]]:
    """(test attempts, run -> {path: digest}) of the repo's last ``max_runs`` runs, oldest first."""
    if not history.path.exists():
        return [], {}
    with history.connect(read_only=True) as con:
        if not _has_tables(con):
            return [], {}
        runs = [
            r[0]
            for r in con.execute(
                "SELECT id FROM coverage_runs WHERE repo = ? ORDER BY id DESC LIMIT ?",
                [repo, int(max_runs)],
            ).fetchall()
        ]
        if not runs:
            return [], {}
        cur = con.execute(
            "SELECT coverage_run_id, commit_sha, test_id, attempt, outcome, test_file,"
            " test_digest, covers, recorded_at, message FROM test_results"
            " WHERE repo = ? AND list_contains(?, coverage_run_id)"
            " ORDER BY coverage_run_id, attempt",
            [repo, runs],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        digests: dict[int, dict[str, str]] = {}
        for run, path, digest in con.execute(
            "SELECT coverage_run_id, path, digest FROM coverage_files"
            " WHERE list_contains(?, coverage_run_id) AND digest IS NOT NULL",
            [runs],
        ).fetchall():
            digests.setdefault(int(run), {})[path] = digest
    for row in rows:
        row["covers"] = json.loads(row["covers"]) if row["covers"] is not None else None
    return rows, digests


def coverage_runs(history: HistoryStore, repo: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The repo's recent coverage runs, newest first (for trends and the CLI)."""
    if not history.path.exists():
        return []
    with history.connect(read_only=True) as con:
        if not _has_tables(con):
            return []
        cur = con.execute(
            "SELECT * FROM coverage_runs WHERE repo = ? ORDER BY id DESC LIMIT ?",
            [repo, int(limit)],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _has_tables(con) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'coverage_runs'"
    ).fetchone()
    return bool(row and row[0])
