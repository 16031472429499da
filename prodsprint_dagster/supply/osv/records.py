"""OSV records as read from disk or the API: parsing, package keys and the fields a finding uses.

Records are kept as the decoded JSON mapping (cheap to load by the tens of thousands); the
parts a finding needs are read through :class:`OsvRecord`, built only for records that match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import orjson

from prodsprint_dagster.errors import ProdSprintError


class OsvError(ProdSprintError):
    """The OSV database or API cannot be used (missing path, corrupt zip, API failure)."""


_CANONICAL_ECOSYSTEMS = {
    name.lower(): name
    for name in ("PyPI", "npm", "Go", "crates.io", "RubyGems", "Packagist", "Maven", "NuGet")
}
_PEP503 = re.compile(r"[-_.]+")


@functools.lru_cache(maxsize=1024)
def base_ecosystem(ecosystem: str) -> str:
    """``Debian:11`` -> ``Debian``; known names in their OSV spelling whatever the case."""
    base = str(ecosystem or "").split(":", 1)[0].strip()
    return _CANONICAL_ECOSYSTEMS.get(base.lower(), base)


@functools.lru_cache(maxsize=1 << 16)
def normalize_name(ecosystem: str, name: str) -> str:
    """The name under which a package is indexed, as each registry compares names.

    PyPI: PEP 503 (case and ``-_.`` runs are equivalent). crates.io: case-insensitive with
    ``-`` equal to ``_``. Packagist: lowercase ``vendor/package``. npm, Go, RubyGems and
    Maven names are compared exactly (Go module paths and Maven coordinates are
    case-sensitive; npm forbids new upper-case names but old ones exist as spelled).
    """
    name = str(name or "").strip()
    if ecosystem == "PyPI":
        return _PEP503.sub("-", name).lower()
    if ecosystem == "crates.io":
        return name.lower().replace("_", "-")
    if ecosystem == "Packagist":
        return name.lower()
    return name


def load_json(data: bytes | str, origin: str) -> dict[str, Any]:
    """One record; raises OsvError naming ``origin`` when it is not a JSON object with an id."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise OsvError(f"{origin}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise OsvError(f"{origin}: expected an OSV record (a JSON object)")
    if not isinstance(doc.get("id"), str) or not doc["id"].strip():
        raise OsvError(f"{origin}: OSV record without an `id`")
    return doc


def is_withdrawn(doc: dict[str, Any]) -> bool:
    return bool(doc.get("withdrawn"))


def affected_packages(doc: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(index in ``affected``, base ecosystem, normalized name) of every affected package."""
    out = []
    affected = doc.get("affected")
    if not isinstance(affected, list):
        return out
    for i, entry in enumerate(affected):
        if not isinstance(entry, dict):
            continue
        package = entry.get("package")
        if not isinstance(package, dict):
            continue
        eco = base_ecosystem(package.get("ecosystem", ""))
        name = package.get("name")
        if eco and isinstance(name, str) and name.strip():
            out.append((i, eco, normalize_name(eco, name)))
    return out


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v.strip())


@dataclass(frozen=True)
class OsvRecord:
    """The parts of a record that a finding reports."""

    id: str
    aliases: tuple[str, ...]
    modified: str
    summary: str
    details: str
    references: tuple[tuple[str, str], ...]  # (type, url)
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> OsvRecord:
        refs = []
        for ref in doc.get("references") or []:
            if isinstance(ref, dict) and isinstance(ref.get("url"), str):
                refs.append((str(ref.get("type") or "WEB"), ref["url"]))
        return cls(
            id=doc["id"],
            aliases=_strings(doc.get("aliases")),
            modified=str(doc.get("modified") or ""),
            summary=str(doc.get("summary") or "").strip(),
            details=str(doc.get("details") or "").strip(),
            references=tuple(refs),
            raw=doc,
        )
