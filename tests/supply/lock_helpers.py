"""Helpers for the lockfile and SBOM tests: write a tree, parse one file, look components up."""

from __future__ import annotations

import textwrap
from pathlib import Path

from prodsprint_dagster.supply.lockfiles import parse_lockfile
from prodsprint_dagster.supply.model import Component, Gap


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def parse_one(root: Path, rel: str) -> tuple[dict[str, Component], list[Gap]]:
    """Parse ``root/rel``; components keyed by purl (duplicates within a file must agree)."""
    comps, gaps = parse_lockfile(root / rel, rel)
    out: dict[str, Component] = {}
    for comp in comps:
        assert comp.purl not in out or out[comp.purl] == comp, comp.purl
        out[comp.purl] = comp
    return out, gaps


def named(comps: dict[str, Component], name: str) -> Component:
    hits = [c for c in comps.values() if c.name == name]
    assert len(hits) == 1, (name, hits)
    return hits[0]


def gap_codes(gaps: list[Gap]) -> list[str]:
    return [g.code for g in gaps]
