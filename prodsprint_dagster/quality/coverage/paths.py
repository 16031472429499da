"""Mapping the file names inside a report to paths of the repository.

Reports name files in many ways: absolute paths of the CI machine (``/home/runner/work/r/r/src/
app.py``), paths relative to a ``<source>`` root, Java package paths (``com/acme/Shop.java``),
Go import paths. Patch coverage needs repository-relative paths, so each name is matched to the
checkout's file with the longest common path suffix; a name that matches nothing is kept
(normalized) so its lines still count towards the total.
"""

from __future__ import annotations

import os
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
                        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"})  # fmt: skip
MAX_INDEX_FILES = 200_000
MAX_DEPTH = 40


def normalize(name: str) -> str:
    name = name.strip().replace("\\", "/")
    if name.startswith("file://"):
        name = name[len("file://") :]
    if len(name) > 2 and name[1] == ":" and name[2] == "/":  # C:/... from a Windows runner
        name = name[2:]
    absolute = name.startswith("/")
    name = posixpath.normpath(name)
    if name == ".":
        return ""
    return ("/" + name.lstrip("/")) if absolute else name.removeprefix("./")


def tree_files(root: Path) -> list[str]:
    """Repository-relative paths of regular files (no symlinks followed, bounded)."""
    found: list[str] = []
    root = Path(root)
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack and len(found) < MAX_INDEX_FILES:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH and entry.name not in _SKIP_DIRS:
                    stack.append((Path(entry.path), depth + 1))
            elif entry.is_file(follow_symlinks=False):
                found.append(Path(entry.path).relative_to(root).as_posix())
    return found


class PathMapper:
    """``map(name, sources)`` -> the repository path a report's file name refers to."""

    def __init__(self, root: Path | None = None, files: Iterable[str] | None = None):
        self.root = normalize(str(Path(root).resolve())) if root is not None else None
        if files is None and root is not None:
            files = tree_files(Path(root))
        self.files = set(files or ())
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for rel in self.files:
            self.by_name[rel.rsplit("/", 1)[-1]].append(rel)

    def map(self, name: str, sources: Iterable[str] = ()) -> str:
        name = normalize(name)
        candidates = []
        if not name.startswith("/"):
            candidates += [normalize(posixpath.join(normalize(s), name)) for s in sources if s]
        candidates.append(name)
        for cand in candidates:
            rel = self._relative(cand)
            if rel in self.files:
                return rel
        for cand in candidates:
            best = self._by_suffix(self._relative(cand))
            if best:
                return best
        return self._relative(name).lstrip("/")

    def _relative(self, name: str) -> str:
        if self.root and name.startswith(self.root + "/"):
            return name[len(self.root) + 1 :]
        return name

    def _by_suffix(self, name: str) -> str | None:
        parts = name.strip("/").split("/")
        options = self.by_name.get(parts[-1], [])
        best, best_len, tie = None, 0, False
        for rel in options:
            rparts = rel.split("/")
            common = 0
            while (
                common < min(len(parts), len(rparts)) and parts[-1 - common] == rparts[-1 - common]
            ):
                common += 1
            # A match must cover the whole of the shorter path: `x/app.py` never claims
            # `y/app.py` just because both end in app.py.
            if common < min(len(parts), len(rparts)):
                continue
            if common > best_len:
                best, best_len, tie = rel, common, False
            elif common == best_len:
                tie = True
        return None if tie else best
