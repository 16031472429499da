"""composer.lock: ``packages`` are required, ``packages-dev`` are dev; ``require`` gives the
edges (platform requirements such as ``php`` and ``ext-*`` are not packages). Licences are
kept as the lock states them; ``dist.shasum`` (SHA-1 of the archive) when Composer recorded
one.
"""

from __future__ import annotations

import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LineIndex, LockInput, Malformed, json_object
from prodsprint_dagster.supply.lockfiles._purl import hex_hash, make
from prodsprint_dagster.supply.model import Component

_NAME_LINES = re.compile(r'(?m)^\s*"name"\s*:\s*"([^"\n]+)"')
_PLATFORM = re.compile(r"^(php|hhvm|ext-|lib-|composer(-plugin-api|-runtime-api)?$)")


def parse(src: LockInput) -> list[Component]:
    data = json_object(src)
    lines = LineIndex(src.text, _NAME_LINES)
    comps: dict[str, Component] = {}
    requires: dict[str, list[str]] = {}
    for section, scope in (("packages", "required"), ("packages-dev", "dev")):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise Malformed(f"{section!r} is not an array", None)
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise Malformed(f"an entry of {section!r} has no name", None)
            name = entry["name"]
            line = lines.get(name)
            version = entry.get("version")
            if not isinstance(version, str):
                raise Malformed(f"{name} has no version", line)
            dist = entry.get("dist") if isinstance(entry.get("dist"), dict) else {}
            shasum = dist.get("shasum")
            pair = hex_hash("SHA-1", shasum) if isinstance(shasum, str) and shasum else None
            lic = entry.get("license")
            licenses = (
                tuple(x for x in lic if isinstance(x, str))
                if isinstance(lic, list)
                else ((lic,) if isinstance(lic, str) else ())
            )
            key = name.lower()
            if key in comps:
                continue
            comps[key] = make(
                "Packagist",
                name,
                version,
                source=src.rel,
                line=line,
                scope=scope,
                hashes=(pair,) if pair else (),
                licenses=licenses,
            )
            req = entry.get("require") if isinstance(entry.get("require"), dict) else {}
            requires[key] = [r.lower() for r in req if not _PLATFORM.match(r.lower())]
    out = []
    for key, comp in comps.items():
        deps = tuple(dict.fromkeys(comps[r].purl for r in requires[key] if r in comps and r != key))
        out.append(replace(comp, dependencies=deps) if deps else comp)
    return out
