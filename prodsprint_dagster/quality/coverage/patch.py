"""Patch coverage: how much of the lines a change adds or modifies is covered by tests.

The changed lines come from ``git diff --unified=0 <base> <commit>`` (new-side line numbers of
every hunk). Only changed lines the coverage report knows as coverable count; a patch with
no coverable lines (docs, config, comments) has patch coverage None and passes, where Codecov
would report 0 %.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.git import git_env
from prodsprint_dagster.quality.coverage.model import CoverageData, compress, percent

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
        "-c", "core.quotePath=false", "-c", "diff.noprefix=false"]  # fmt: skip
# The empty tree: the base of a repository's first commit.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def resolve_commit(repo_dir: Path, ref: str, *, timeout: float = 60) -> str:
    """The sha ``ref`` names in the repository at ``repo_dir`` (refs are never options)."""
    out = _git(repo_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options",
                          f"{ref}^{{commit}}"], timeout, f"resolve {ref!r}", ok=(0, 1))  # fmt: skip
    if not out.strip():
        raise GitError(f"{repo_dir}: {ref!r} is not a commit")
    return out.strip()


def first_parent(repo_dir: Path, sha: str, *, timeout: float = 60) -> str:
    """The commit's first parent, or the empty tree for a root commit."""
    out = _git(repo_dir, ["rev-list", "--parents", "-n", "1", "--end-of-options", sha],
               timeout, f"read the parents of {sha}")  # fmt: skip
    parts = out.split()
    return parts[1] if len(parts) > 1 else EMPTY_TREE


def changed_lines(
    repo_dir: Path, base: str, head: str | None = None, *, timeout: float = 120
) -> dict[str, set[int]]:
    """Path -> new-side line numbers added or modified from ``base`` to ``head``.

    ``head`` None compares with the work tree (uncommitted changes included), as a developer
    running ``prodsprint coverage`` on a checkout expects.
    """
    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--unified=0",
            "--find-renames", "--diff-filter=ACMR", base]  # fmt: skip
    if head:
        args.append(head)
    out = _git(repo_dir, [*args, "--"], timeout, f"diff {base[:12]}..{(head or 'work tree')[:12]}")
    changed: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            target = line[4:].removesuffix("\t")  # git ends names holding spaces with a tab
            current = None
            if target != "/dev/null":
                path = _unquote(target).removeprefix("b/")
                current = changed.setdefault(path, set())
        elif line.startswith("@@") and current is not None:
            match = _HUNK.match(line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or 1)
                current.update(range(start, start + count))
    return {path: lines for path, lines in changed.items() if lines}


def patch_coverage(data: CoverageData, changed: dict[str, set[int]], base: str) -> dict[str, Any]:
    """The ``patch`` section of coverage.json (``percent`` None when nothing is coverable)."""
    files = []
    coverable = covered = 0
    for path in sorted(changed):
        fc = data.files.get(path)
        if fc is None:
            continue
        lines = changed[path] & fc.lines.keys()
        if not lines:
            continue
        hit = {ln for ln in lines if fc.lines[ln] > 0}
        coverable += len(lines)
        covered += len(hit)
        files.append({
            "path": path,
            "coverable": len(lines),
            "covered": len(hit),
            "percent": percent(len(hit), len(lines)),
            "missing": compress(sorted(lines - hit)),
        })  # fmt: skip
    return {
        "base": base,
        "changed_files": len(changed),
        "changed_lines": sum(len(v) for v in changed.values()),
        "coverable": coverable,
        "covered": covered,
        "percent": percent(covered, coverable),
        "files": files,
    }


_ESCAPES = {"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\", "a": b"\a", "b": b"\b",
            "f": b"\f", "r": b"\r", "v": b"\v"}  # fmt: skip


def _unquote(path: str) -> str:
    """git's C-style quoting of unusual paths (``"b/a\\"b.py"``, octal bytes)."""
    if not (len(path) >= 2 and path.startswith('"') and path.endswith('"')):
        return path
    body, out, i = path[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            octal = body[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            out += _ESCAPES.get(body[i + 1], body[i + 1].encode())
            i += 2
            continue
        out += body[i].encode()
        i += 1
    return out.decode("utf-8", "replace")


def _git(repo_dir: Path, args: list[str], timeout: float, what: str, ok=(0,)) -> str:
    try:
        proc = subprocess.run(
            [*_GIT, *args], cwd=repo_dir, env=git_env(), capture_output=True, text=True,
            timeout=timeout, check=False, errors="replace",
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise GitError(f"git timed out after {timeout:.0f}s trying to {what}") from None
    except FileNotFoundError:
        raise GitError("git is not installed (needed for patch coverage)") from None
    if proc.returncode not in ok:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise GitError(f"git failed to {what}: {lines[-1] if lines else 'no output'}")
    return proc.stdout
