"""SZZ: which earlier commits a fix repaired, from reverts, cited shas and ``git blame``.

Three sources, most precise first:

- ``revert``: "This reverts commit X": X is the inducing commit (the author says so).
- ``cited``: a fix message naming an earlier commit of the repository by sha
  ("Fixes: 1a2b3c4d (...)"), resolved against the mined commits, never guessed.
- ``blame``: for every line the fix deleted or changed in a source file, ``git blame`` at the
  fix's first parent names the commit that last touched it. Whitespace-only changes are
  ignored on both sides (``diff -w``, ``blame -w``), as are blank and comment lines, because
  those never carry the defect. Only commits that are ancestors of the fix and not newer than
  it can be inducing; a pure revert is labelled by its revert link only.

Fixes already analysed are recorded in ``szz_fixes``, so labelling is incremental.
"""

from __future__ import annotations

import bisect
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.risk.gitlog import run_git
from prodsprint_dagster.store import HistoryStore

_HASH = ("#",)
_C = ("//", "/*", "*", "*/")
# Source files by extension, with the prefixes that start a comment line in them.
COMMENT_PREFIXES: dict[str, tuple[str, ...]] = {
    **{ext: _HASH for ext in ("py", "pyi", "rb", "sh", "bash", "zsh", "pl", "pm", "r", "ex",
                              "exs", "jl", "nim", "cr", "ps1", "tcl", "coffee")},
    **{ext: _C for ext in ("c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "m", "mm", "java",
                           "kt", "kts", "scala", "groovy", "go", "rs", "js", "jsx", "mjs", "cjs",
                           "ts", "tsx", "cs", "fs", "swift", "dart", "vue", "svelte", "zig",
                           "sol", "proto")},
    "php": (*_C, "#"),
    "sql": ("--", "/*", "*", "*/"),
    "lua": ("--",),
    "hs": ("--", "{-"),
    "erl": ("%",),
    "hrl": ("%",),
    "clj": (";",),
    "cljs": (";",),
    "el": (";",),
    "vb": ("'",),
}  # fmt: skip
_PY_DOC = ('"""', "'''")
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_BLAME_HEADER = re.compile(rb"^([0-9a-f]{40}(?:[0-9a-f]{24})?) \d+ (\d+)(?: \d+)?$")
_OCTAL = re.compile(rb"\\([0-7]{3}|.)")
_ESCAPES = {b"t": b"\t", b"n": b"\n", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b",
            b"f": b"\f", b"r": b"\r", b"v": b"\v"}  # fmt: skip
_MAX_LINES_PER_FIX = 5_000


def is_source(path: str) -> bool:
    return PurePosixPath(path).suffix.lower().lstrip(".") in COMMENT_PREFIXES


def is_meaningful(line: str, path: str) -> bool:
    """False for blank lines and comment lines, which SZZ never blames."""
    text = line.strip()
    if not text:
        return False
    ext = PurePosixPath(path).suffix.lower().lstrip(".")
    if text.startswith(COMMENT_PREFIXES.get(ext, ())):
        return False
    return not (ext in ("py", "pyi") and text.startswith(_PY_DOC))


def _unquote(raw: bytes) -> bytes:
    """A path as git prints it in ``---``/``+++`` lines (C-quoted when unusual)."""
    raw = raw.rstrip(b"\t")
    if not (raw.startswith(b'"') and raw.endswith(b'"')):
        return raw

    def sub(m: re.Match) -> bytes:
        code = m.group(1)
        return bytes([int(code, 8)]) if len(code) == 3 else _ESCAPES.get(code, code)

    return _OCTAL.sub(sub, raw[1:-1])


def deleted_lines(patch: bytes) -> dict[str, list[int]]:
    """Old path -> line numbers (in the parent) of the lines a ``-U0`` patch removes.

    Hunk bodies are consumed by the counts in their ``@@`` header, so a removed line whose
    text starts with ``-- `` (an SQL comment, say) is never mistaken for a file header.
    """
    result: dict[str, list[int]] = {}
    old_path: str | None = None
    current: list[int] | None = None
    old_left = new_left = line_no = 0
    for raw in patch.split(b"\n"):
        if old_left > 0 or new_left > 0:
            tag = raw[:1]
            if tag == b"-":
                if current is not None and is_meaningful(
                    raw[1:].decode("utf-8", "replace"), old_path or ""
                ):
                    current.append(line_no)
                line_no += 1
                old_left -= 1
            elif tag == b"+":
                new_left -= 1
            elif tag == b" ":
                line_no += 1
                old_left -= 1
                new_left -= 1
            continue
        if raw.startswith(b"--- "):
            name = _unquote(raw[4:])
            old_path = None if name == b"/dev/null" else name[2:].decode("utf-8", "replace")
            current = None
        elif raw.startswith(b"+++ "):
            current = result.setdefault(old_path, []) if old_path else None
        elif raw.startswith(b"@@"):
            m = _HUNK.match(raw)
            if m:
                line_no = int(m.group(1))
                old_left = int(m.group(2)) if m.group(2) is not None else 1
                new_left = int(m.group(4)) if m.group(4) is not None else 1
    return {path: lines for path, lines in result.items() if lines}


def _ranges(lines: list[int]) -> list[str]:
    lines = sorted(set(lines))
    out: list[str] = []
    start = prev = lines[0]
    for n in lines[1:]:
        if n != prev + 1:
            out.append(f"{start},{prev}")
            start = n
        prev = n
    out.append(f"{start},{prev}")
    return out


def blame_lines(repo: Path, rev: str, path: str, lines: list[int]) -> Counter:
    """Commit -> number of ``lines`` of ``path`` at ``rev`` it last changed (``blame -w``)."""
    args = ["blame", "--porcelain", "-w", "--no-textconv"]
    for r in _ranges(lines):
        args += ["-L", r]
    out = run_git(repo, [*args, rev, "--", path], what=f"blame {path} at {rev[:12]}")
    counts: Counter = Counter()
    for raw in out.split(b"\n"):
        m = _BLAME_HEADER.match(raw)
        if m:
            counts[m.group(1).decode()] += 1
    return counts


def blame_fix(repo: Path, fix: str, parent: str) -> list[tuple[str, str, int]]:
    """(inducing sha, path, lines) for the source lines ``fix`` deleted or changed."""
    patch = run_git(
        repo,
        ["-c", "core.quotePath=false", "diff", "-U0", "-w", "--ignore-blank-lines", "-M",
         "--no-color", "--no-ext-diff", "--no-textconv", parent, fix, "--"],
        what=f"diff the fix {fix[:12]}",
    )  # fmt: skip
    found: list[tuple[str, str, int]] = []
    budget = _MAX_LINES_PER_FIX
    for path, lines in sorted(deleted_lines(patch).items()):
        if not is_source(path) or budget <= 0:
            continue
        lines = lines[:budget]
        budget -= len(lines)
        for sha, n in sorted(blame_lines(repo, parent, path, lines).items()):
            found.append((sha, path, n))
    return found


class _Index:
    """Mined commits of one repository, addressable by full or abbreviated sha."""

    def __init__(self, rows: list[tuple]):
        self.by_sha = {r[0]: r for r in rows}
        self.sorted = sorted(self.by_sha)

    def resolve(self, prefix: str) -> tuple | None:
        i = bisect.bisect_left(self.sorted, prefix)
        hits = []
        while i < len(self.sorted) and self.sorted[i].startswith(prefix) and len(hits) < 2:
            hits.append(self.sorted[i])
            i += 1
        return self.by_sha[hits[0]] if len(hits) == 1 else None


def label_repository(
    store: HistoryStore,
    repo: str,
    path: Path,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Find the inducing commits of every fix not analysed yet; returns counts."""
    started = time.perf_counter()
    if not store.path.exists():
        return {"repo": repo, "fixes_analysed": 0, "links": 0, "seconds": 0.0}
    with store.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT sha, seq, committed_ts, parents, is_merge, fix, is_revert, reverts, cited"
            " FROM commits WHERE repo = ? ORDER BY seq",
            [repo],
        ).fetchall()
        done = {
            r[0]
            for r in con.execute("SELECT fix_sha FROM szz_fixes WHERE repo = ?", [repo]).fetchall()
        }
    index = _Index(rows)
    links: list[tuple] = []
    analysed: list[tuple[str, int]] = []
    todo = [r for r in rows if r[5] and not r[4] and r[0] not in done]
    if todo:
        progress(f"SZZ: {len(todo)} fixes to analyse in {repo}")
    for sha, seq, ts, parents, _merge, _fix, is_revert, reverts, cited in todo:
        found: list[tuple[str, str, str | None, int]] = []
        if reverts:
            target = index.resolve(reverts)
            if target:
                found.append((target[0], "revert", None, 0))
        for prefix in cited or ():
            target = index.resolve(prefix)
            if target and target[0] != sha:
                found.append((target[0], "cited", None, 0))
        if not is_revert and parents:
            try:
                for inducing, file, n in blame_fix(path, sha, parents[0]):
                    found.append((inducing, "blame", file, n))
            except GitError as exc:
                progress(f"SZZ: skipped {sha[:12]}: {exc}")
        kept = []
        for inducing, source, file, n in found:
            target = index.by_sha.get(inducing)
            # Inducing commits predate the fix: mined earlier and not committed later.
            if target is None or target[1] >= seq or target[2] > ts:
                continue
            kept.append((repo, sha, inducing, source, file, n, ts))
        links.extend(kept)
        analysed.append((sha, len(kept)))
    if analysed:
        _write(store, repo, links, analysed)
    return {
        "repo": repo,
        "fixes_analysed": len(analysed),
        "links": len(links),
        "inducing_commits": len({link[2] for link in links}),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _write(store: HistoryStore, repo: str, links: list[tuple], analysed: list[tuple]) -> None:
    now = datetime.now(UTC)
    frame = pd.DataFrame(
        links,
        columns=["repo", "fix_sha", "inducing_sha", "source", "path", "lines", "fix_ts"],
    )
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if len(frame):
                con.register("new_links", frame)
                con.execute(
                    "INSERT INTO szz_links SELECT repo, fix_sha, inducing_sha, source, path,"
                    " lines, fix_ts FROM new_links"
                )
                con.unregister("new_links")
            con.executemany(
                "INSERT INTO szz_fixes VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [[repo, sha, now, n] for sha, n in analysed],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
