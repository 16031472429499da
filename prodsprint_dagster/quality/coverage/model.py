"""Line and branch coverage per file, in one shape whatever format or tool produced it.

Every reader fills the same model, so totals, merging and patch coverage are computed once.
Merging takes the best of two observations of a line (max hits, max covered branches): two
reports of the same run (for example one per test process) never make a line less covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def percent(covered: int, total: int) -> float | None:
    """``covered / total`` in percent, or None when there is nothing to cover (never 0 %)."""
    return round(100.0 * covered / total, 2) if total else None


@dataclass
class FileCoverage:
    path: str
    lines: dict[int, int] = field(default_factory=dict)  # line -> hits
    branches: dict[int, tuple[int, int]] = field(default_factory=dict)  # line -> (taken, total)

    def hit(self, line: int, hits: int) -> None:
        if line > 0:
            self.lines[line] = max(self.lines.get(line, 0), max(int(hits), 0))

    def branch(self, line: int, taken: int, total: int) -> None:
        if line > 0 and total > 0:
            old_taken, old_total = self.branches.get(line, (0, 0))
            total = max(old_total, int(total))
            self.branches[line] = (min(max(old_taken, int(taken)), total), total)

    def merge(self, other: FileCoverage) -> None:
        for line, hits in other.lines.items():
            self.hit(line, hits)
        for line, (taken, total) in other.branches.items():
            self.branch(line, taken, total)

    @property
    def lines_total(self) -> int:
        return len(self.lines)

    @property
    def lines_covered(self) -> int:
        return sum(1 for hits in self.lines.values() if hits > 0)

    @property
    def branches_total(self) -> int:
        return sum(total for _, total in self.branches.values())

    @property
    def branches_covered(self) -> int:
        return sum(taken for taken, _ in self.branches.values())

    def missing(self) -> str:
        """Uncovered lines as compact ranges (``3-5,9``), as coverage.py prints them."""
        return compress(sorted(line for line, hits in self.lines.items() if hits == 0))

    def to_doc(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines": self.lines_total,
            "covered": self.lines_covered,
            "percent": percent(self.lines_covered, self.lines_total),
            "branches": self.branches_total,
            "branches_covered": self.branches_covered,
            "branch_percent": percent(self.branches_covered, self.branches_total),
            "missing": self.missing(),
        }


@dataclass
class CoverageData:
    files: dict[str, FileCoverage] = field(default_factory=dict)

    def file(self, path: str) -> FileCoverage:
        found = self.files.get(path)
        if found is None:
            found = self.files[path] = FileCoverage(path)
        return found

    def merge(self, other: CoverageData) -> None:
        for path, fc in other.files.items():
            self.file(path).merge(fc)

    def prefixed(self, prefix: str) -> CoverageData:
        """The same data with every path below ``prefix`` (a test root inside a monorepo)."""
        if prefix in ("", "."):
            return self
        out = CoverageData()
        for path, fc in self.files.items():
            out.files[f"{prefix}/{path}"] = FileCoverage(f"{prefix}/{path}", fc.lines, fc.branches)
        return out

    def totals(self) -> dict[str, Any]:
        lines = sum(f.lines_total for f in self.files.values())
        covered = sum(f.lines_covered for f in self.files.values())
        branches = sum(f.branches_total for f in self.files.values())
        taken = sum(f.branches_covered for f in self.files.values())
        return {
            "lines": lines,
            "covered": covered,
            "percent": percent(covered, lines),
            "branches": branches,
            "branches_covered": taken,
            "branch_percent": percent(taken, branches),
        }

    def file_docs(self) -> list[dict[str, Any]]:
        return [self.files[p].to_doc() for p in sorted(self.files) if self.files[p].lines]


def compress(lines: Iterable[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for line in lines:
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = line
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)
