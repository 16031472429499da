"""Pipfile.lock (pipenv, spec 6): ``default`` is required, ``develop`` is dev; no edges.

Versions are ``==x.y`` strings; VCS entries are pinned by ``ref``; editable local paths are the
project's own code and are not emitted.
"""

from __future__ import annotations

import re

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed, json_object
from prodsprint_dagster.supply.lockfiles._purl import make, prefixed_hash
from prodsprint_dagster.supply.model import Component, Gap

_KEYS = re.compile(r'(?m)^( {4}| {8})"([^"\n]+)"\s*:\s*\{')
_SECTIONS = {"default": "required", "develop": "dev"}


def parse(src: LockInput) -> list[Component]:
    data = json_object(src)
    lines = _key_lines(src.text)
    out: list[Component] = []
    for section, scope in _SECTIONS.items():
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise Malformed(f"{section!r} is not an object", lines.get((section, "")))
        for name, entry in entries.items():
            line = lines.get((section, name))
            if not isinstance(entry, dict):
                raise Malformed(f"{section}.{name} is not an object", line)
            if "path" in entry or (entry.get("editable") is True and "git" not in entry):
                continue  # the project's own code
            qualifiers: tuple[tuple[str, str], ...] = ()
            version = None
            if isinstance(entry.get("git"), str):
                ref = entry.get("ref") if isinstance(entry.get("ref"), str) else None
                version = ref
                qualifiers = (("vcs_url", f"git+{entry['git']}" + (f"@{ref}" if ref else "")),)
            elif isinstance(entry.get("version"), str):
                spec = entry["version"]
                version = spec.lstrip("=") if spec.startswith("==") else None
            elif isinstance(entry.get("file"), str):
                qualifiers = (("download_url", entry["file"]),)
            hashes = tuple(
                dict.fromkeys(
                    p
                    for h in entry.get("hashes", ())
                    if isinstance(h, str) and (p := prefixed_hash(h))
                )
            )
            out.append(
                make(
                    "PyPI",
                    name,
                    version,
                    source=src.rel,
                    line=line,
                    scope=scope,
                    hashes=hashes,
                    qualifiers=qualifiers,
                )
            )
            if version is None:
                src.gaps.append(
                    Gap("unpinned_requirement", src.rel, f"{name} has no pinned version", line)
                )
    return out


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    section = ""
    line, pos = 1, 0
    for m in _KEYS.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        if len(m.group(1)) == 4:
            section = m.group(2)
            out.setdefault((section, ""), line)
        elif section in _SECTIONS:
            out.setdefault((section, m.group(2)), line)
    return out
