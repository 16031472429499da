"""Which parser reads which file, and the one promise every parser keeps through here: a bad
file never raises, it comes back as a gap naming the file and (where known) the line."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prodsprint_dagster.supply.lockfiles._base import (
    LockInput,
    Malformed,
    is_safe_rel,
    merge_component,
    one_line,
    read_repo_file,
)
from prodsprint_dagster.supply.model import Component, Gap

Parser = Callable[[LockInput], list[Component]]


@dataclass(frozen=True)
class Kind:
    """A supported file: its parser, ecosystem, whether it records dependency edges, and its
    tier (0 = a real lock, 1 = a pinned list or manifest, 2 = a PEP 621 manifest read only
    without a lock), which orders the inventory so that locks win the first occurrence.

    Parser modules are imported on first use: a CLI run on a requirements file need not load
    the YAML, TOML and XML readers.
    """

    name: str
    ecosystem: str
    module: str
    function: str
    edges: bool
    tier: int

    @property
    def parse(self) -> Parser:
        module = importlib.import_module(f"prodsprint_dagster.supply.lockfiles.{self.module}")
        return getattr(module, self.function)


_BY_NAME = {
    "package-lock.json": Kind("package-lock", "npm", "npm", "parse", True, 0),
    "npm-shrinkwrap.json": Kind("npm-shrinkwrap", "npm", "npm", "parse", True, 0),
    "yarn.lock": Kind("yarn", "npm", "yarn", "parse", True, 0),
    "pnpm-lock.yaml": Kind("pnpm", "npm", "pnpm", "parse", True, 0),
    "bun.lock": Kind("bun", "npm", "bun", "parse", True, 0),
    "poetry.lock": Kind("poetry", "PyPI", "poetry", "parse", True, 0),
    "uv.lock": Kind("uv", "PyPI", "uv", "parse", True, 0),
    "Pipfile.lock": Kind("pipfile", "PyPI", "pipfile", "parse", False, 0),
    "pdm.lock": Kind("pdm", "PyPI", "pdm", "parse", True, 0),
    "pyproject.toml": Kind("pyproject", "PyPI", "pyproject", "parse", False, 2),
    "go.mod": Kind("go.mod", "Go", "golang", "parse_go_mod", False, 1),
    "go.sum": Kind("go.sum", "Go", "golang", "parse_go_sum", False, 1),
    "Cargo.lock": Kind("cargo", "crates.io", "cargo", "parse", True, 0),
    "Gemfile.lock": Kind("bundler", "RubyGems", "ruby", "parse", True, 0),
    "gems.locked": Kind("bundler", "RubyGems", "ruby", "parse", True, 0),
    "composer.lock": Kind("composer", "Packagist", "composer", "parse", True, 0),
    "gradle.lockfile": Kind("gradle", "Maven", "gradle", "parse", False, 0),
    "buildscript-gradle.lockfile": Kind("gradle", "Maven", "gradle", "parse", False, 0),
    "pom.xml": Kind("maven", "Maven", "maven", "parse", False, 1),
}
_REQUIREMENTS = Kind("requirements", "PyPI", "python_requirements", "parse", False, 1)
_GRADLE_LEGACY = Kind("gradle", "Maven", "gradle", "parse", False, 0)

# Lockfiles we recognise but cannot read: reported, never silently ignored.
UNSUPPORTED = {
    "bun.lockb": "binary bun.lockb is not readable; commit the text lockfile "
    "(bun install --save-text-lockfile) instead",
    "mix.lock": "Elixir mix.lock is not supported",
    "packages.lock.json": "NuGet packages.lock.json is not supported",
    "Package.resolved": "SwiftPM Package.resolved is not supported",
    "pubspec.lock": "Dart pubspec.lock is not supported",
    "conda-lock.yml": "conda-lock.yml is not supported",
    "Podfile.lock": "CocoaPods Podfile.lock is not supported",
}


def lockfile_kind(rel: str) -> Kind | None:
    """The supported format of ``rel`` by its name (and, for pip and old Gradle, its folder)."""
    path = PurePosixPath(rel)
    name = path.name
    kind = _BY_NAME.get(name)
    if kind is not None:
        return kind
    if name.endswith(".txt") and ("requirements" in name or path.parent.name == "requirements"):
        return _REQUIREMENTS
    if name.endswith(".lockfile") and path.parent.as_posix().endswith("gradle/dependency-locks"):
        return _GRADLE_LEGACY
    return None


def has_dependency_edges(rel: str) -> bool:
    """Whether components read from ``rel`` carry their full dependency list (so an empty
    list means "no dependencies" rather than "unknown")."""
    kind = lockfile_kind(rel)
    return bool(kind and kind.edges)


def parse_lockfile(path: Path, rel: str) -> tuple[list[Component], list[Gap]]:
    """Components and gaps of one lockfile at ``path`` whose repository-relative path is
    ``rel`` (used in ``Component.source`` and ``Gap.file``). Never raises for bad input."""
    rel = PurePosixPath(rel).as_posix()
    if not is_safe_rel(rel):
        return [], [Gap("unsafe_path", rel, "path leaves the repository; not read")]
    name = PurePosixPath(rel).name
    if name in UNSUPPORTED:
        return [], [Gap("unsupported_lockfile", rel, UNSUPPORTED[name])]
    kind = lockfile_kind(rel)
    if kind is None:
        return [], [Gap("unsupported_lockfile", rel, "not a lockfile format this tool reads")]
    root = Path(path)
    for _ in PurePosixPath(rel).parts:
        root = root.parent
    text, gap = read_repo_file(root, rel)
    if gap is not None:
        return [], [gap]
    src = LockInput(root=root, rel=rel, text=text or "")
    try:
        components = kind.parse(src)
    except Malformed as exc:
        return [], [*src.gaps, Gap("malformed_lockfile", rel, one_line(exc.message), exc.line)]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        return [], [
            *src.gaps,
            Gap(
                "malformed_lockfile",
                rel,
                f"unexpected {kind.name} structure: {one_line(f'{type(exc).__name__}: {exc}')}",
            ),
        ]
    merged: dict[str, Component] = {}
    for comp in components:
        merge_component(merged, comp)  # the same package twice in one file is one component
    return list(merged.values()), src.gaps
