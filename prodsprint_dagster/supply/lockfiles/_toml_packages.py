"""Shared reading of the ``[[package]]`` TOML lockfiles (poetry.lock, uv.lock, pdm.lock,
Cargo.lock): tomllib for the data, one linear scan for the line of each package table."""

from __future__ import annotations

import re
import tomllib

from prodsprint_dagster.supply.lockfiles._base import LineIndex, Malformed, line_from_message

_PACKAGE_HEADER = re.compile(r"(?m)^\[\[package\]\][ \t]*(?:#.*)?$()")


def load_toml(text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = line_from_message(str(exc))
        if line is None and "end of document" in str(exc):
            line = text.rstrip("\n").count("\n") + 1
        raise Malformed(f"invalid TOML: {exc}", line) from None


def packages(data: dict, text: str) -> list[tuple[dict, int | None]]:
    """Each ``[[package]]`` table with the line of its header."""
    pkgs = data.get("package", [])
    if not isinstance(pkgs, list):
        raise Malformed("'package' must be an array of tables")
    lines = LineIndex(text, _PACKAGE_HEADER)
    out = []
    for i, pkg in enumerate(pkgs):
        if not isinstance(pkg, dict):
            raise Malformed(f"package #{i + 1} is not a table", lines.nth(i))
        out.append((pkg, lines.nth(i)))
    return out


def require_str(pkg: dict, key: str, line: int | None) -> str:
    value = pkg.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"package without a string {key!r}", line)
    return value
