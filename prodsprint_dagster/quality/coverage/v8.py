"""Node's built-in V8 coverage (``NODE_V8_COVERAGE``) turned into line coverage.

Setting ``NODE_V8_COVERAGE`` makes every node process of a test run (the test script, its
children, workers) write block coverage as JSON, with no package to install: this works for
``node --test``, mocha, jest or anything else the test script starts. Each script has nested
``[start, end) count`` ranges; a line takes the count of the innermost range containing its
first non-blank character (the rule c8 and v8-to-istanbul apply). Blank and comment-only lines
are not coverable; test files and dependencies are left out like c8's default ``exclude``.
"""

from __future__ import annotations

import bisect
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from prodsprint_dagster.quality.coverage.errors import CoverageReportError
from prodsprint_dagster.quality.coverage.model import CoverageData

_TEST_FILE = re.compile(
    r"(^|/)(test|tests|__tests__|__mocks__|spec|coverage)/|\.(test|spec)\.[cm]?[jt]sx?$"
)
_SOURCE = re.compile(r"\.[cm]?[jt]sx?$")
MAX_SOURCE_BYTES = 8 * 1024 * 1024


def read_v8_directory(directory: Path, root: Path) -> CoverageData:
    """Line coverage of the files below ``root`` from every V8 coverage file in ``directory``."""
    root = root.resolve()
    data = CoverageData()
    for file in sorted(directory.glob("coverage-*.json")):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CoverageReportError(f"{file.name}: unreadable V8 coverage: {exc}") from None
        for script in doc.get("result") or []:
            rel = _repo_path(script.get("url") or "", root)
            if rel is None:
                continue
            source = root / rel
            try:
                if source.stat().st_size > MAX_SOURCE_BYTES:
                    continue
                text = source.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line, hits in line_counts(text, script.get("functions") or []).items():
                data.file(rel).hit(line, hits)
    return data


def _repo_path(url: str, root: Path) -> str | None:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    if not path.is_relative_to(root):
        return None
    rel = path.relative_to(root).as_posix()
    if "node_modules/" in rel or not _SOURCE.search(rel) or _TEST_FILE.search(rel):
        return None
    return rel


def line_counts(text: str, functions: list[dict]) -> dict[int, int]:
    """Line -> hit count of the innermost V8 range holding the line's first character."""
    starts = _coverable_lines(text)
    if not starts:
        return {}
    ranges = [
        (int(r["startOffset"]), int(r["endOffset"]), int(r["count"]))
        for fn in functions
        for r in fn.get("ranges") or []
    ]
    # Outer ranges first, so every inner range overwrites the lines it holds.
    ranges.sort(key=lambda r: (r[0] - r[1], r[0]))
    offsets = sorted(starts)
    counts: dict[int, int] = {}
    for start, end, count in ranges:
        lo = bisect.bisect_left(offsets, start)
        hi = bisect.bisect_left(offsets, end)
        for offset in offsets[lo:hi]:
            counts[starts[offset]] = count
    return counts


def _coverable_lines(text: str) -> dict[int, int]:
    """Offset of the first non-blank character -> line number, for code lines only."""
    found: dict[int, int] = {}
    offset = 0
    in_block_comment = False
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        first = offset + (len(line) - len(line.lstrip()))
        offset += len(line)
        if in_block_comment:
            if "*/" in stripped:
                in_block_comment = False
                stripped = stripped.split("*/", 1)[1].strip()
                if not stripped:
                    continue
            else:
                continue
        if not stripped or stripped.startswith("//") or stripped.startswith("#!"):
            continue
        if stripped.startswith("/*"):
            if "*/" not in stripped:
                in_block_comment = True
                continue
            if not stripped.split("*/", 1)[1].strip():
                continue
        found[first] = number
    return found
