"""Finding coverage and JUnit reports in a checkout or in the artifact store.

Candidates are picked by the names the common tools write (``coverage.xml``, ``lcov.info``,
``jacocoTestReport.xml``, ``coverage.out``, ``TEST-*.xml`` ...), then classified by content.
A candidate that is empty or malformed is an error naming it; a well-formed file of another
kind (a ``coverage.txt`` holding a printed summary) is listed as skipped, not fatal. CI can
upload reports for a commit as artifacts ``<repo>/<sha>/reports/<any name>``; those are
classified by content alone and win over files committed in the repository.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from prodsprint_dagster.quality.coverage.ingest import COVERAGE_FORMATS, JUNIT, sniff
from prodsprint_dagster.quality.coverage.source import MAX_REPORT_BYTES, Report
from prodsprint_dagster.store import ArtifactIO

REPORTS_PREFIX = "reports/"
MAX_CANDIDATES = 200
MAX_DEPTH = 12

_COVERAGE_NAME = re.compile(
    r"^(coverage\.xml|.*cobertura.*\.xml|jacoco.*\.xml|coverage\.json|lcov.*\.info|.*\.lcov"
    r"|coverage\.out|cover\.out|c\.out|coverage\.txt|.*\.coverprofile|profile\.cov)$",
    re.I,
)
_JUNIT_NAME = re.compile(r"^(junit.*\.xml|.*[-_.]junit\.xml|TEST-.*\.xml|.*test[-_]?results?.*\.xml"
                         r"|.*test[-_]?report.*\.xml|report\.xml)$", re.I)  # fmt: skip
_JUNIT_DIRS = frozenset({"test-results", "test-reports", "surefire-reports", "failsafe-reports"})
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
                        ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache"})  # fmt: skip


@dataclass
class FoundReports:
    coverage: list[tuple[Report, str]] = field(default_factory=list)  # (report, format)
    junit: list[Report] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.coverage or self.junit)


def find_in_tree(root: Path) -> FoundReports:
    """Reports committed in the checkout below ``root`` (names relative to it)."""
    found = FoundReports()
    for path in _candidates(Path(root)):
        rel = path.relative_to(root).as_posix()
        _classify(Report.from_path(path, rel), found, named=True)
    return found


def find_in_artifacts(io: ArtifactIO, repo: str, sha: str) -> FoundReports:
    """Reports uploaded for the commit as artifacts ``reports/...``."""
    found = FoundReports()
    head = f"{repo}/{sha}/"
    names = [k.removeprefix(head) for k in io.store.list(repo, sha) if k.startswith(head)]
    for name in sorted(n for n in names if n.startswith(REPORTS_PREFIX))[:MAX_CANDIDATES]:
        data = io.store.get_bytes(repo, sha, name)
        uri = io.store.uri(repo, sha, name)
        if len(data) > MAX_REPORT_BYTES:
            raise Report(uri, b"").fail(f"report over the {MAX_REPORT_BYTES} byte limit")
        _classify(Report(uri, data), found, named=False)
    return found


def _classify(report: Report, found: FoundReports, *, named: bool) -> None:
    kind = sniff(report)
    if kind in COVERAGE_FORMATS:
        found.coverage.append((report, kind))
    elif kind == JUNIT:
        found.junit.append(report)
    elif not report.data.strip():
        raise report.fail("empty report (truncated?)")
    elif report.data.lstrip().startswith(b"<"):
        report.xml()  # a malformed XML report raises here, naming the file
        found.skipped.append(f"{report.name}: XML of another kind")
    elif named or report.data.lstrip().startswith(b"{"):
        found.skipped.append(f"{report.name}: not a coverage or JUnit report")


def _candidates(root: Path) -> list[Path]:
    out: list[Path] = []
    stack: list[tuple[Path, int, bool]] = [(root, 0, False)]
    while stack:
        folder, depth, junit_dir = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH and entry.name not in _SKIP_DIRS:
                    stack.append((Path(entry.path), depth + 1, entry.name in _JUNIT_DIRS))
            elif entry.is_file(follow_symlinks=False) and (
                _COVERAGE_NAME.match(entry.name)
                or _JUNIT_NAME.match(entry.name)
                or (junit_dir and entry.name.endswith(".xml"))
            ):
                out.append(Path(entry.path))
                if len(out) >= MAX_CANDIDATES:
                    return out
    return out
