"""lcov tracefiles (``lcov.info``): istanbul/nyc, c8, vitest, lcov/geninfo, grcov, Dart, Rust.

Records are ``SF:`` ... ``end_of_record``; ``DA:line,hits`` gives line hits and
``BRDA:line,block,branch,taken`` one branch (``-`` = never reached). A file that ends inside a
record is truncated and rejected rather than half-counted.
"""

from __future__ import annotations

from prodsprint_dagster.quality.coverage.model import CoverageData, FileCoverage
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report

_IGNORED = frozenset({"TN", "VER", "FN", "FNDA", "FNF", "FNH", "FNL", "FNA", "LF", "LH", "BRF",
                      "BRH", "MSF", "MDA", "MSN"})  # fmt: skip


def read_lcov(report: Report, mapper: PathMapper) -> CoverageData:
    data = CoverageData()
    current: FileCoverage | None = None
    branches: dict[int, list[int]] = {}
    lineno = 0

    def number(text: str, what: str) -> int:
        try:
            return int(float(text))  # some generators write hit counts as 1.0
        except ValueError:
            raise report.fail(f"line {lineno}: {what} is not a number: {text[:40]!r}") from None

    for lineno, raw in enumerate(report.text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "end_of_record":
            if current is None:
                raise report.fail(f"line {lineno}: end_of_record outside a record")
            for ln, (taken, total) in branches.items():
                current.branch(ln, taken, total)
            current, branches = None, {}
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise report.fail(f"line {lineno}: not an lcov record: {line[:60]!r}")
        if key == "SF":
            if current is not None:
                raise report.fail(f"line {lineno}: SF before the previous end_of_record")
            current = data.file(mapper.map(value))
        elif key in ("DA", "BRDA"):
            if current is None:
                raise report.fail(f"line {lineno}: {key} outside a record (no SF before it)")
            fields = value.split(",")
            if key == "DA":
                if len(fields) < 2:
                    raise report.fail(f"line {lineno}: DA needs line,hits")
                current.hit(number(fields[0], "line"), number(fields[1], "hits"))
            else:
                if len(fields) != 4:
                    raise report.fail(f"line {lineno}: BRDA needs line,block,branch,taken")
                ln = number(fields[0], "line")
                taken = 0 if fields[3] == "-" else number(fields[3], "taken")
                slot = branches.setdefault(ln, [0, 0])
                slot[0] += 1 if taken > 0 else 0
                slot[1] += 1
        elif key not in _IGNORED:
            raise report.fail(f"line {lineno}: unknown lcov record {key!r}")
    if current is not None:
        raise report.fail(f"truncated: the record for {current.path} has no end_of_record")
    return data
