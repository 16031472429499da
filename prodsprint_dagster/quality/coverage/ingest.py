"""Which format a report is (from its content, never its name) and reading it into the model."""

from __future__ import annotations

import re

from prodsprint_dagster.quality.coverage.cobertura import read_cobertura
from prodsprint_dagster.quality.coverage.coveragepy import is_coveragepy, read_coveragepy
from prodsprint_dagster.quality.coverage.gocover import read_goprofile
from prodsprint_dagster.quality.coverage.jacoco import read_jacoco
from prodsprint_dagster.quality.coverage.lcov import read_lcov
from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report

COBERTURA, JACOCO, LCOV, GO, COVERAGEPY, JUNIT = (
    "cobertura", "jacoco", "lcov", "go", "coveragepy", "junit"
)  # fmt: skip
COVERAGE_FORMATS = (COBERTURA, JACOCO, LCOV, GO, COVERAGEPY)

# The first element after the prolog, comments and DOCTYPE.
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_XML_SKIP = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>)", re.S)
_LCOV = re.compile(rb"^\s*(TN|SF):", re.M)
_ROOTS = {b"coverage": COBERTURA, b"report": JACOCO, b"testsuites": JUNIT, b"testsuite": JUNIT}


def sniff(report: Report) -> str | None:
    """The report's format from its first bytes, or None when it is none of ours."""
    head = report.data[:65536].removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        pos = 0
        while (m := _XML_SKIP.match(head, pos)) and m.end() > pos:
            pos = m.end()
        root = _XML_ROOT.match(head[pos:].lstrip())
        return _ROOTS.get(root.group(1).split(b":")[-1]) if root else None
    if head.startswith(b"mode:"):
        return GO
    if head.startswith(b"{"):
        return COVERAGEPY if b'"meta"' in report.data and b'"files"' in report.data else None
    if _LCOV.search(head):
        return LCOV
    return None


def read_coverage(report: Report, mapper: PathMapper, kind: str | None = None) -> CoverageData:
    """Read a coverage report of any supported format (``kind`` from :func:`sniff` if None)."""
    kind = kind or sniff(report)
    if kind == COBERTURA:
        return read_cobertura(report, mapper)
    if kind == JACOCO:
        return read_jacoco(report, mapper)
    if kind == LCOV:
        return read_lcov(report, mapper)
    if kind == GO:
        return read_goprofile(report, mapper)
    if kind == COVERAGEPY:
        doc = report.json()
        if not is_coveragepy(doc):
            raise report.fail("JSON that is not a coverage.py report")
        return read_coveragepy(report, mapper, doc)
    if not report.data.strip():
        raise report.fail("empty report (truncated?)")
    raise report.fail(
        "not a coverage report in a supported format (Cobertura XML, JaCoCo XML, lcov, "
        "coverage.py JSON, Go coverprofile)"
    )
