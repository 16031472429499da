"""The shared vocabulary of the supply-chain engine: components, gaps, inventories.

Parsers produce these, the SBOM writer, the OSV matcher and the licence policy consume them,
so each of those can be tested (and benchmarked) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# OSV ecosystem names (https://ossf.github.io/osv-schema/#affectedpackage-field), which are
# also what the matcher keys its version semantics on.
ECOSYSTEMS = ("PyPI", "npm", "Go", "crates.io", "RubyGems", "Packagist", "Maven")
SCOPES = ("required", "optional", "dev")


@dataclass(frozen=True)
class Component:
    """One package pinned (or, for unpinned requirements, merely named) by a lockfile."""

    name: str
    version: str | None
    ecosystem: str
    purl: str
    scope: str = "required"
    hashes: tuple[tuple[str, str], ...] = ()  # (algorithm, hex digest), e.g. ("SHA-256", "ab..")
    licenses: tuple[str, ...] = ()  # as the lockfile states them; normalized by the licence step
    dependencies: tuple[str, ...] = ()  # purls of direct dependencies, when the format has edges
    source: str = ""  # lockfile path relative to the repository root
    line: int | None = None  # 1-based line of the entry in ``source`` when known
    workspace: str | None = None  # workspace member (npm/yarn/pnpm/uv) that declares it


@dataclass(frozen=True)
class Gap:
    """Something the inventory could not cover, reported instead of guessed."""

    code: str  # e.g. "malformed_lockfile", "unpinned_requirement", "unsupported_lockfile"
    file: str
    message: str
    line: int | None = None


@dataclass
class Inventory:
    """Every component of a tree, deduplicated by purl (first occurrence wins, scopes merged
    towards ``required``), with the lockfiles read and the gaps met on the way."""

    components: dict[str, Component] = field(default_factory=dict)
    lockfiles: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
