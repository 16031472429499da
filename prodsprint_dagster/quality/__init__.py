"""Quality measurements of a repository: coverage, test results, flaky tests, smoke tests.

- :mod:`.coverage`: ingest coverage reports or run the repository's tests in a sandbox, patch
  coverage of a change, the run history (``measure_checkout`` is the entry point);
- :mod:`.testresults`: JUnit XML and the ``tests.json`` verdict (retries, quarantine);
- :mod:`.flaky`: flaky tests and flake rates from the history;
- :mod:`.scaffold`: smoke tests for services the audit found without tests.

The perf measurements live in :mod:`.perf`.
"""

from prodsprint_dagster.quality.coverage import (
    CoverageReportError,
    Measurement,
    QualitySettings,
    TestRunError,
    coverage_document,
    judge_coverage,
    load_test_history,
    measure_checkout,
    results_document,
)
from prodsprint_dagster.quality.flaky import find_flaky
from prodsprint_dagster.quality.scaffold import render_smoke_tests, services_without_tests
from prodsprint_dagster.quality.testresults import TestCase, parse_junit, summarize

__all__ = [
    "CoverageReportError",
    "Measurement",
    "QualitySettings",
    "TestCase",
    "TestRunError",
    "coverage_document",
    "find_flaky",
    "judge_coverage",
    "load_test_history",
    "measure_checkout",
    "parse_junit",
    "render_smoke_tests",
    "results_document",
    "services_without_tests",
    "summarize",
]
