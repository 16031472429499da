"""Helpers for writing fixture repositories and auditing them.

Not a conftest.py: tests/conftest.py already owns that module name.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from prodsprint_dagster.audit import audit_repository, validate_report


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def audit(tmp_path: Path, files: dict[str, str | bytes], name: str = "repo") -> dict:
    """Write a tree, audit it, validate the report against the schema, return it."""
    root = write_tree(tmp_path / name, files)
    report = audit_repository(root)
    validate_report(report)
    return report


def service(report: dict, name: str) -> dict:
    matches = [s for s in report["services"] if s["name"] == name]
    assert matches, f"no service {name}: {[s['name'] for s in report['services']]}"
    return matches[0]


def gap_codes(report: dict) -> set[str]:
    return {g["code"] for g in report["gaps"]}


def engines(report: dict) -> set[str]:
    return {d["engine"] for d in report["datastores"]}
