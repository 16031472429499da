"""Coverage of a repository: ingest reports (Cobertura, JaCoCo, lcov, coverage.py JSON, Go),
or run its tests in a fenced-off subprocess; patch coverage of a change; the run history.

Entry points: :func:`measure_checkout` (reports or a run -> :class:`Measurement`),
:func:`read_coverage` (one report), :func:`changed_lines` + :func:`patch_coverage`, and
:func:`coverage_document`/:func:`results_document` for the gate inputs.
"""

from prodsprint_dagster.quality.coverage.discover import (
    FoundReports,
    find_in_artifacts,
    find_in_tree,
)
from prodsprint_dagster.quality.coverage.documents import (
    coverage_document,
    judge_coverage,
    results_document,
)
from prodsprint_dagster.quality.coverage.errors import CoverageReportError, TestRunError
from prodsprint_dagster.quality.coverage.history import (
    RunRecord,
    coverage_runs,
    load_test_history,
    record_run,
)
from prodsprint_dagster.quality.coverage.ingest import read_coverage, sniff
from prodsprint_dagster.quality.coverage.measure import Measurement, file_digests, measure_checkout
from prodsprint_dagster.quality.coverage.model import CoverageData, FileCoverage
from prodsprint_dagster.quality.coverage.patch import (
    EMPTY_TREE,
    changed_lines,
    first_parent,
    patch_coverage,
    resolve_commit,
)
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.settings import QualitySettings
from prodsprint_dagster.quality.coverage.source import Report

__all__ = [
    "EMPTY_TREE",
    "CoverageData",
    "CoverageReportError",
    "FileCoverage",
    "FoundReports",
    "Measurement",
    "PathMapper",
    "QualitySettings",
    "Report",
    "RunRecord",
    "TestRunError",
    "changed_lines",
    "coverage_document",
    "coverage_runs",
    "file_digests",
    "find_in_artifacts",
    "find_in_tree",
    "first_parent",
    "judge_coverage",
    "load_test_history",
    "measure_checkout",
    "patch_coverage",
    "read_coverage",
    "record_run",
    "resolve_commit",
    "results_document",
    "sniff",
]
