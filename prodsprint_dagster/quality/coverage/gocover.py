"""Go coverprofiles (``go test -coverprofile``) in ``mode: set``, ``count`` or ``atomic``.

Each line is a statement block ``file:l1.c1,l2.c2 statements count``. A line is coverable
when a block with statements spans it, and covered only when every such block ran: a line
holding the end of a covered block and the start of an uncovered ``else`` is not covered.
The same block reported twice (one profile per package run) counts once, with its best count.
"""

from __future__ import annotations

import re

from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.source import Report

_BLOCK = re.compile(r"^(.+):(\d+)\.(\d+),(\d+)\.(\d+) (\d+) (\d+)$")
_MODES = ("set", "count", "atomic")
MAX_BLOCK_LINES = 100_000


def read_goprofile(report: Report, mapper: PathMapper) -> CoverageData:
    blocks: dict[tuple[str, int, int, int, int], tuple[int, int]] = {}
    mode_seen = False
    for lineno, raw in enumerate(report.text().splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("mode:"):
            mode = line.removeprefix("mode:").strip()
            if mode not in _MODES:
                raise report.fail(f"line {lineno}: unknown coverprofile mode {mode!r}")
            mode_seen = True  # `go test -coverpkg` concatenations repeat the mode line
            continue
        if not mode_seen:
            raise report.fail("not a Go coverprofile (the first line must be `mode: ...`)")
        match = _BLOCK.match(line)
        if not match:
            raise report.fail(f"line {lineno}: not a coverprofile block: {line[:80]!r}")
        name = match.group(1)
        sl, sc, el, ec, stmts, count = (int(g) for g in match.groups()[1:])
        if el < sl or el - sl > MAX_BLOCK_LINES:
            raise report.fail(f"line {lineno}: block spans lines {sl}-{el}")
        key = (name, sl, sc, el, ec)
        old = blocks.get(key, (stmts, 0))
        blocks[key] = (max(old[0], stmts), max(old[1], count))
    if not mode_seen:
        raise report.fail("empty coverprofile (no `mode:` line): truncated?")
    data = CoverageData()
    paths: dict[str, str] = {}
    line_hits: dict[tuple[str, int], int] = {}
    for (name, sl, _sc, el, _ec), (stmts, count) in blocks.items():
        if stmts == 0:
            continue
        path = paths.get(name) or paths.setdefault(name, mapper.map(name))
        for ln in range(sl, el + 1):
            key = (path, ln)
            line_hits[key] = min(line_hits.get(key, count), count)
    for (path, ln), hits in line_hits.items():
        data.file(path).hit(ln, hits)
    return data
