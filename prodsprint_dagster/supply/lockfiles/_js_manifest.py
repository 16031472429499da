"""package.json facts the JavaScript lockfiles need but do not record: which dependencies are
dev, and (for yarn classic) which directories are workspace members.

A manifest that cannot be read simply declares nothing; the lockfile still yields its
packages, scoped conservatively as required.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from prodsprint_dagster.supply.lockfiles._base import LockInput, is_safe_rel

MAX_WORKSPACE_MEMBERS = 500


@dataclass
class Manifest:
    """One package.json: its name, declared dependencies by kind, workspace globs."""

    directory: str  # relative to the lockfile's directory ("." for the root)
    name: str | None = None
    required: dict[str, str] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)
    dev: dict[str, str] = field(default_factory=dict)
    workspaces: list[str] = field(default_factory=list)


def read_manifest(src: LockInput, directory: str = ".") -> Manifest | None:
    rel = "package.json" if directory in ("", ".") else f"{directory.rstrip('/')}/package.json"
    found = src.sibling(rel)
    if found is None:
        return None
    try:
        data = json.loads(found[1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None

    def deps(key: str) -> dict[str, str]:
        value = data.get(key)
        return (
            {k: v for k, v in value.items() if isinstance(v, str)}
            if isinstance(value, dict)
            else {}
        )

    ws = data.get("workspaces")
    if isinstance(ws, dict):
        ws = ws.get("packages")
    return Manifest(
        directory=directory or ".",
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        required={**deps("dependencies"), **deps("peerDependencies")},
        optional=deps("optionalDependencies"),
        dev=deps("devDependencies"),
        workspaces=[w for w in ws if isinstance(w, str)] if isinstance(ws, list) else [],
    )


def workspace_manifests(src: LockInput, root: Manifest) -> list[Manifest]:
    """Members named by the root's ``workspaces`` globs (directories with a package.json),
    found without following symlinks or leaving the repository, at most
    :data:`MAX_WORKSPACE_MEMBERS`."""
    out: list[Manifest] = []
    base = src.root / (src.directory or ".")
    seen: set[str] = set()
    for pattern in root.workspaces:
        pattern = pattern.strip().rstrip("/")
        if not pattern or pattern.startswith(("/", "!")) or ".." in pattern.split("/"):
            continue
        pattern = pattern.replace("**", "*")
        for hit in sorted(base.glob(pattern)):
            rel = os.path.relpath(hit, base).replace(os.sep, "/")
            if rel in seen or not is_safe_rel(rel) or hit.is_symlink() or not hit.is_dir():
                continue
            seen.add(rel)
            manifest = read_manifest(src, rel)
            if manifest is not None:
                out.append(manifest)
            if len(out) >= MAX_WORKSPACE_MEMBERS:
                return out
    return out
