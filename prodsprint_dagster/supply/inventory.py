"""Every third-party component of a checkout, from its lockfiles, deduplicated by purl.

Files come from the caller (the audit report's ``lockfiles[*].path``) and from a walk of the
tree, because the audit does not count requirements*.txt, pyproject.toml, go.mod or pom.xml as
lockfiles. The walk never follows a directory symlink, skips ``.git``, ``node_modules``,
virtualenvs and vendored code, and is bounded in depth and entries.

Precedence, so that one package is not reported from both its lock and its manifest:
a PEP 621 pyproject.toml is read only when no Python lock sits in the same directory and no
uv workspace root above lists it as a member; go.mod is read together with its go.sum (which is
then not read again on its own). Locks are read before pinned lists and manifests, so the
first occurrence of a purl (which keeps its source file and line) is the lock's.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import tomllib
from pathlib import Path, PurePosixPath

from prodsprint_dagster.supply.lockfiles import (
    UNSUPPORTED,
    lockfile_kind,
    merge_component,
    parse_lockfile,
)
from prodsprint_dagster.supply.lockfiles._base import is_safe_rel, read_repo_file
from prodsprint_dagster.supply.model import Component, Gap, Inventory
from prodsprint_dagster.vendored import VENDORED_DIRS

MAX_WALK_DEPTH = 40
MAX_WALK_ENTRIES = 500_000
# Directories that never hold the repository's own lockfiles: the audit's vendored, cache and
# build directories, plus PEP 582's local package folder.
SKIP_DIRS = VENDORED_DIRS | {"__pypackages__"}
_PYTHON_LOCKS = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock")
# Gap codes meaning the file itself was not read (as opposed to read and found wanting).
NOT_READ = frozenset(
    {"unsafe_path", "lockfile_too_large", "unreadable_lockfile", "unsupported_lockfile"}
)


def find_lockfiles(root: Path) -> tuple[list[str], list[Gap]]:
    """Repository-relative paths of every supported (or recognised but unsupported) file."""
    found: list[str] = []
    gaps: list[Gap] = []
    entries = 0
    stack: list[tuple[str, int]] = [("", 0)]
    while stack:
        rel_dir, depth = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in items:
            entries += 1
            if entries > MAX_WALK_ENTRIES:
                gaps.append(
                    Gap(
                        "walk_truncated",
                        rel_dir or ".",
                        f"stopped after {MAX_WALK_ENTRIES} entries; pass the lockfiles explicitly",
                    )
                )
                return sorted(found), gaps
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in SKIP_DIRS:
                        continue
                    if depth + 1 > MAX_WALK_DEPTH:
                        continue
                    stack.append((rel, depth + 1))
                    continue
            except OSError:
                continue
            if entry.name in UNSUPPORTED or lockfile_kind(rel) is not None:
                found.append(rel)
    return sorted(found), gaps


def build_inventory(root: Path, *, lockfiles: list[str] | None = None) -> Inventory:
    """The inventory of ``root``: the walk's files plus ``lockfiles`` (repository-relative)."""
    root = Path(root)
    inventory = Inventory()
    candidates, walk_gaps = find_lockfiles(root)
    inventory.gaps.extend(walk_gaps)
    wanted = set(candidates)
    for rel in lockfiles or ():
        norm = posixpath.normpath(str(rel).replace("\\", "/")) if rel else ""
        if not is_safe_rel(norm):
            inventory.gaps.append(Gap("unsafe_path", str(rel), "path leaves the repository"))
            continue
        if norm not in wanted:
            wanted.add(norm)
            if not os.path.lexists(root / norm):
                inventory.gaps.append(Gap("unreadable_lockfile", norm, "listed but not found"))
                wanted.discard(norm)
    plan = _plan(root, sorted(wanted))
    for rel, consumed in plan:
        comps, gaps = parse_lockfile(root / rel, rel)
        for comp in comps:
            merge_component(inventory.components, comp)
        inventory.gaps.extend(gaps)
        if any(g.file == rel and g.code in NOT_READ for g in gaps):
            continue  # refused or unreadable: the gap says so, it is not a source of the SBOM
        is_manifest = PurePosixPath(rel).name == "pyproject.toml"
        if not is_manifest or comps or gaps:
            inventory.lockfiles.append(rel)
            inventory.lockfiles.extend(consumed)
    inventory.lockfiles = sorted(set(inventory.lockfiles))
    # An included requirements file is met once per includer: report each problem once.
    inventory.gaps = list(dict.fromkeys(inventory.gaps))
    return inventory


def _plan(root: Path, rels: list[str]) -> list[tuple[str, list[str]]]:
    """(file to parse, files it reads along) in reading order, after the precedence rules."""
    by_dir: dict[str, set[str]] = {}
    for rel in rels:
        path = PurePosixPath(rel)
        by_dir.setdefault(path.parent.as_posix(), set()).add(path.name)
    uv_roots = _uv_workspace_roots(root, by_dir)
    plan: list[tuple[int, str, list[str]]] = []
    for rel in rels:
        path = PurePosixPath(rel)
        directory, name = path.parent.as_posix(), path.name
        siblings = by_dir[directory]
        consumed: list[str] = []
        if name == "go.sum" and "go.mod" in siblings:
            continue
        if name == "go.mod" and "go.sum" in siblings:
            consumed.append(_join(directory, "go.sum"))
        if name == "pyproject.toml" and (
            any(lock in siblings for lock in _PYTHON_LOCKS) or _in_uv_workspace(directory, uv_roots)
        ):
            continue
        kind = lockfile_kind(rel)
        plan.append((kind.tier if kind else 0, rel, consumed))
    plan.sort(key=lambda item: (item[0], item[1]))
    return [(rel, consumed) for _, rel, consumed in plan]


def _join(directory: str, name: str) -> str:
    return name if directory in ("", ".") else f"{directory}/{name}"


def _uv_workspace_roots(root: Path, by_dir: dict[str, set[str]]) -> dict[str, tuple[list, list]]:
    """Directories holding a uv.lock whose pyproject.toml declares ``[tool.uv.workspace]``:
    directory -> (member globs, exclude globs)."""
    out: dict[str, tuple[list, list]] = {}
    for directory, names in by_dir.items():
        if "uv.lock" not in names:
            continue
        text, _ = read_repo_file(root, _join(directory, "pyproject.toml"))
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        tool = data.get("tool")
        uv = tool.get("uv") if isinstance(tool, dict) else None
        ws = uv.get("workspace") if isinstance(uv, dict) else None
        if isinstance(ws, dict):
            members = [m for m in ws.get("members", []) if isinstance(m, str)]
            exclude = [m for m in ws.get("exclude", []) if isinstance(m, str)]
            out[directory] = (members, exclude)
    return out


def _in_uv_workspace(directory: str, uv_roots: dict[str, tuple[list, list]]) -> bool:
    for ws_root, (members, exclude) in uv_roots.items():
        if ws_root == directory:
            continue
        prefix = "" if ws_root in ("", ".") else ws_root + "/"
        if prefix and not directory.startswith(prefix):
            continue
        inner = directory[len(prefix) :]
        if any(fnmatch.fnmatchcase(inner, pat.rstrip("/")) for pat in members) and not any(
            fnmatch.fnmatchcase(inner, pat.rstrip("/")) for pat in exclude
        ):
            return True
    return False


def components_by_ecosystem(inventory: Inventory) -> dict[str, int]:
    out: dict[str, int] = {}
    for comp in inventory.components.values():
        out[comp.ecosystem] = out.get(comp.ecosystem, 0) + 1
    return dict(sorted(out.items()))


def components_by_scope(inventory: Inventory) -> dict[str, int]:
    out = {"required": 0, "optional": 0, "dev": 0}
    for comp in inventory.components.values():
        out[comp.scope] = out.get(comp.scope, 0) + 1
    return out


def sorted_components(inventory: Inventory) -> list[Component]:
    return [inventory.components[p] for p in sorted(inventory.components)]
