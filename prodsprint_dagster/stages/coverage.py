"""The coverage stage: measure a commit's coverage and tests, judge flakiness, store it all.

The commit's work tree comes from the git client (the same immutable per-commit checkout the
audit used). Reports uploaded for the commit (artifacts ``reports/...``) or committed in the
repository are ingested; otherwise the suites the audit found are run. Patch coverage is
taken against the last release of the repository that reached ``promoted`` (else the
commit's first parent). Flaky tests are judged on the stored history plus this run, before
the run is stored, so that ``tests.json`` already lists them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.names import validate_sha
from prodsprint_dagster.quality.coverage import (
    Measurement,
    QualitySettings,
    RunRecord,
    changed_lines,
    coverage_document,
    file_digests,
    find_in_artifacts,
    first_parent,
    load_test_history,
    measure_checkout,
    patch_coverage,
    record_run,
    results_document,
)
from prodsprint_dagster.quality.flaky import find_flaky, flaky_ids
from prodsprint_dagster.stages.context import StageContext

COVERAGE_ARTIFACT = "coverage.json"
TESTS_ARTIFACT = "tests.json"
FLAKY_ARTIFACT = "flaky.json"
_CURRENT_RUN = 1 << 62  # sorts after every stored run while the current one is judged


def build_coverage_report(
    ctx: StageContext,
    audit: dict,
    commit: str,
    *,
    run: bool | None = None,
) -> dict[str, Any]:
    """Measure ``commit``; returns ``{"coverage", "tests", "flaky", "coverage_run_id"}``."""
    validate_sha(commit)
    settings = QualitySettings.from_settings(
        ctx.pack().settings, f"policy pack {ctx.repo.policy_pack}"
    )
    repo = ctx.repo.name
    checkout = ctx.git.checkout(repo, commit)
    uploaded = find_in_artifacts(ctx.artifacts, repo, commit)
    m = measure_checkout(
        checkout, audit.get("tests") or [], home=ctx.home, run=run, uploaded=uploaded or None,
        timeout=settings.timeout, retries=settings.retries,
    )  # fmt: skip
    base = patch_base(ctx, commit)
    mirror = ctx.git.mirror_path(repo)
    patch = patch_coverage(m.data, changed_lines(mirror, base, commit), base)

    digests = file_digests(checkout, sorted(m.data.files))
    test_files = sorted({c.file for c in m.cases if c.file})
    test_digests = file_digests(checkout, test_files)
    rows, history_digests = load_test_history(ctx.history, repo)
    rows += _current_rows(m, commit, test_digests)
    flaky = find_flaky(rows, {**history_digests, _CURRENT_RUN: digests},
                       quarantine=settings.quarantine)  # fmt: skip
    known = flaky_ids(flaky)
    quarantine = list(settings.quarantine) + (sorted(known) if settings.quarantine_flaky else [])

    coverage = coverage_document(m, patch, commit=commit)
    tests = results_document(m, quarantine=quarantine, known_flaky=known, commit=commit)
    run_id = record_run(ctx.history, RunRecord(
        repo=repo, commit=commit, source=m.source, data=m.data, coverage=coverage, tests=tests,
        cases=m.cases if m.tested else (), file_digests=digests, test_digests=test_digests,
        covers=m.covers, duration=m.duration, run_id=ctx.run_id, recorded_at=ctx.clock(),
    ))  # fmt: skip
    coverage["coverage_run_id"] = run_id
    io = ctx.artifacts
    io.put_json(repo, commit, COVERAGE_ARTIFACT, coverage)
    if tests is not None:
        tests["coverage_run_id"] = run_id
        io.put_json(repo, commit, TESTS_ARTIFACT, tests)
    io.put_json(repo, commit, FLAKY_ARTIFACT, {"commit": commit, "flaky": flaky})
    return {"coverage": coverage, "tests": tests, "flaky": flaky, "coverage_run_id": run_id}


def patch_base(ctx: StageContext, commit: str) -> str:
    """The last promoted release's commit (not ``commit`` itself), else the first parent."""
    mirror = ctx.git.mirror_path(ctx.repo.name)
    if ctx.history.path.exists():
        with ctx.history.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT commit_sha FROM releases WHERE repo = ? AND state = 'promoted'"
                " ORDER BY updated_at DESC, id DESC",
                [ctx.repo.name],
            ).fetchall()
        for (sha,) in rows:
            if sha == commit:
                continue
            try:
                ctx.git.commit_info(ctx.repo.name, sha)
            except GitError:
                continue  # a release of a commit the mirror no longer has
            return sha
    return first_parent(mirror, commit)


def _current_rows(m: Measurement, commit: str, test_digests: dict[str, str]) -> list[dict]:
    if not m.tested:
        return []
    at = datetime.now(UTC)
    return [
        {
            "coverage_run_id": _CURRENT_RUN,
            "commit_sha": commit,
            "test_id": c.id,
            "attempt": c.attempt,
            "outcome": c.outcome,
            "test_file": c.file,
            "test_digest": test_digests.get(c.file) if c.file else None,
            "covers": (m.covers or {}).get(c.id) if m.covers is not None else None,
            "recorded_at": at,
            "message": c.message,
        }
        for c in m.cases
    ]
