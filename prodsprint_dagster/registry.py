"""Registering and unregistering repositories by editing prodsprint.yaml in place.

The file is hand-edited too, so edits go through ruamel.yaml's round-trip mode (comments and
key order survive) and are written atomically; the result is validated before it replaces
the old file, so a failed edit never leaves a broken config behind.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from filelock import FileLock
from ruamel.yaml import YAML

from prodsprint_dagster.config import ProdSprintConfig, RepoConfig, load_config, read_raw
from prodsprint_dagster.errors import ConfigError
from prodsprint_dagster.names import validate_branch, validate_git_url, validate_repo_name


def add_repo(
    path: Path,
    name: str,
    url: str,
    *,
    branch: str = "main",
    team: str = "default",
    target: str = "local",
    policy_pack: str = "default",
    release: dict | None = None,
    replace: bool = False,
) -> tuple[RepoConfig, bool]:
    """Register ``name``; returns the entry and whether the file changed.

    Re-adding the same name with the same URL and branch is a no-op.
    """
    validate_repo_name(name)
    validate_branch(branch)
    validate_git_url(url, base_dir=path.parent)
    entry = {"name": name, "url": url, "branch": branch, "team": team, "target": target,
             "policy_pack": policy_pack}  # fmt: skip
    if release:
        entry["release"] = release

    changed = True

    def edit(doc):
        nonlocal changed
        repos = doc.setdefault("repos", [])
        for i, existing in enumerate(repos):
            if existing.get("name") == name:
                same = existing.get("url") == url and existing.get("branch", "main") == branch
                if same and all(existing.get(k) == v for k, v in entry.items()):
                    changed = False
                    return
                if not (same or replace):
                    raise ConfigError(
                        f"{path}: repository {name!r} is already registered with url "
                        f"{existing.get('url')!r}, branch {existing.get('branch', 'main')!r}; "
                        "remove it first"
                    )
                repos[i] = entry
                return
        repos.append(entry)

    cfg = _edit(path, edit)
    return cfg.repo(name), changed


def set_if_absent(path: Path, section: str, key: str, value) -> bool:
    """Set ``section.key`` unless the file already sets it; True when it changed the file."""
    changed = False

    def edit(doc):
        nonlocal changed
        block = doc.setdefault(section, {})
        if block.get(key) is None:
            block[key] = value
            changed = True

    _edit(path, edit)
    return changed


def remove_repo(path: Path, name: str) -> None:
    """Unregister ``name``; its history and artifacts are kept."""

    def edit(doc):
        repos = doc.get("repos") or []
        keep = [r for r in repos if r.get("name") != name]
        if len(keep) == len(repos):
            raise ConfigError(f"{path}: no repository named {name!r} is registered")
        repos[:] = keep

    _edit(path, edit)


def _edit(path: Path, edit) -> ProdSprintConfig:
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    with FileLock(str(path) + ".lock", timeout=30):
        read_raw(path)  # reports malformed YAML with its line before we touch anything
        doc = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
        if doc is None:
            doc = yaml.load(_NEW_FILE)
        edit(doc)
        buf = io.StringIO()
        yaml.dump(doc, buf)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
        try:
            cfg = load_config(Path(tmp))
        except ConfigError as exc:
            os.unlink(tmp)
            raise ConfigError(str(exc).replace(tmp, str(path))) from None
        os.replace(tmp, path)
    return cfg.model_copy(update={"source": str(path)})


_NEW_FILE = """\
# ProdSprint configuration (docs/configuration.md).
# home: where the Dagster instance, history store, mirrors and artifacts live.
home: .prodsprint
# Registered repositories; `prodsprint repos add NAME URL_OR_PATH` appends here.
repos: []
"""


def init_config(path: Path) -> bool:
    """Write a commented default config when none exists; True when it wrote one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_NEW_FILE, encoding="utf-8")
    return True
