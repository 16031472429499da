"""coverage.py JSON reports (``coverage json``), with branches and, when asked, contexts.

``executed_lines``/``missing_lines`` give line coverage (excluded lines are not coverable);
``executed_branches``/``missing_branches`` are arcs ``[from, to]`` grouped by their source line.
With ``--show-contexts`` each line lists the tests that ran it: the runner uses that to learn
which source files each test covers (for flaky-test detection).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report


def is_coveragepy(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("meta"), dict) and "files" in doc


def read_coveragepy(report: Report, mapper: PathMapper, doc: Any = None) -> CoverageData:
    doc = report.json() if doc is None else doc
    if not is_coveragepy(doc) or not isinstance(doc["files"], dict):
        raise report.fail("not a coverage.py JSON report (needs `meta` and a `files` object)")
    data = CoverageData()
    for name, entry in doc["files"].items():
        if not isinstance(entry, dict):
            raise report.fail(f"files[{name!r}] is not an object")
        fc = data.file(mapper.map(name))
        try:
            for line in entry.get("executed_lines") or []:
                fc.hit(int(line), 1)
            for line in entry.get("missing_lines") or []:
                fc.hit(int(line), 0)
            arcs: dict[int, list[int]] = defaultdict(lambda: [0, 0])
            for key, taken in (("executed_branches", 1), ("missing_branches", 0)):
                for src, _dst in entry.get(key) or []:
                    arcs[int(src)][0] += taken
                    arcs[int(src)][1] += 1
        except (TypeError, ValueError):
            raise report.fail(f"files[{name!r}]: line and branch lists must hold numbers") from None
        for line, (taken, total) in arcs.items():
            fc.branch(line, taken, total)
    return data


def contexts_by_file(doc: Any, mapper: PathMapper) -> dict[str, set[str]]:
    """Test context -> the repository files it ran a line of ("" = outside any test)."""
    covered: dict[str, set[str]] = defaultdict(set)
    for name, entry in (doc.get("files") or {}).items():
        path = mapper.map(name)
        for contexts in (entry.get("contexts") or {}).values():
            for ctx in contexts or [""]:
                covered[(ctx or "").split("|", 1)[0]].add(path)
    return dict(covered)
