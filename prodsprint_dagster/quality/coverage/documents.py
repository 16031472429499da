"""The ``coverage.json`` and ``tests.json`` documents the readiness gates and the UI read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prodsprint_dagster.quality.coverage.measure import Measurement
from prodsprint_dagster.quality.testresults import summarize

_TEST_GAPS = frozenset({"no_test_suite", "no_tests_collected", "no_test_results", "suite_error",
                        "pytest_exit", "unsupported_runner", "node_missing", "no_test_script",
                        "bad_test_root", "retry_failed"})  # fmt: skip


def coverage_document(
    m: Measurement, patch: Mapping[str, Any] | None, *, commit: str | None = None
) -> dict[str, Any]:
    """Totals, per-file lines/branches, the patch section and where the numbers came from.

    ``percent`` is None when nothing was measured; ``patch_percent`` is None when the patch
    has no coverable lines (which passes) or could not be computed.
    """
    totals = m.data.totals()
    return {
        "commit": commit,
        "percent": totals["percent"],
        "branch_percent": totals["branch_percent"],
        "patch_percent": patch.get("percent") if patch else None,
        "lines": totals["lines"],
        "covered": totals["covered"],
        "branches": totals["branches"],
        "branches_covered": totals["branches_covered"],
        "files": m.data.file_docs(),
        "patch": dict(patch) if patch else None,
        "source": m.source,
        "reports": m.reports,
        "suites": m.suites,
        "gaps": m.gaps,
        "skipped": m.skipped,
        "duration_seconds": round(m.duration, 3),
    }


def results_document(
    m: Measurement,
    *,
    quarantine: Sequence[str] = (),
    known_flaky: Iterable[str] = (),
    commit: str | None = None,
) -> dict[str, Any] | None:
    """The tests gate's input, or None when no test results are known (not measured)."""
    if not m.tested:
        return None
    doc = summarize(m.cases, quarantine=quarantine, known_flaky=known_flaky)
    doc.update(
        commit=commit,
        source=m.source,
        quarantine_patterns=list(quarantine),
        gaps=[g for g in m.gaps if g["code"] in _TEST_GAPS],
    )
    return doc


def judge_coverage(
    doc: Mapping[str, Any], coverage_min: float, patch_coverage_min: float
) -> tuple[bool, list[str]]:
    """(passed, reasons) of the coverage gate; a patch with no coverable lines passes."""
    reasons = []
    total, patch = doc.get("percent"), doc.get("patch_percent")
    if total is None:
        reasons.append("no coverage was measured")
    elif total < coverage_min:
        reasons.append(f"line coverage {total:.1f}% is below the {coverage_min:g}% minimum")
    if patch is not None and patch < patch_coverage_min:
        reasons.append(f"patch coverage {patch:.1f}% is below the {patch_coverage_min:g}% minimum")
    return not reasons, reasons
