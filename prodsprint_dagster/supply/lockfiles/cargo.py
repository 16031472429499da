"""Cargo.lock: v3/v4 (``[[package]]`` with ``source`` and ``checksum``), and the older v1/v2
layouts (v1 keeps checksums under ``[metadata]``).

A package without ``source`` is a path dependency, i.e. a workspace member: the repository's
own code, not emitted. Cargo.lock does not separate dev-dependencies from normal ones, so every
crate is ``required``. ``checksum`` is the SHA-256 of the ``.crate`` archive.
"""

from __future__ import annotations

from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput
from prodsprint_dagster.supply.lockfiles._purl import hex_hash, make
from prodsprint_dagster.supply.lockfiles._toml_packages import load_toml, packages, require_str
from prodsprint_dagster.supply.model import Component


def parse(src: LockInput) -> list[Component]:
    data = load_toml(src.text)
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    records = []
    for pkg, line in packages(data, src.text):
        name = require_str(pkg, "name", line)
        version = require_str(pkg, "version", line)
        source = pkg.get("source") if isinstance(pkg.get("source"), str) else None
        checksum = pkg.get("checksum")
        if checksum is None and source:
            checksum = meta.get(f"checksum {name} {version} ({source})")
        records.append((pkg, line, name, version, source, checksum))
    by_name: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_name.setdefault(rec[2], []).append(i)

    def resolve(spec: str) -> int | None:
        parts = spec.split(" ", 2)
        cands = by_name.get(parts[0], [])
        if len(parts) >= 2:
            cands = [j for j in cands if records[j][3] == parts[1]]
        if len(parts) == 3:
            wanted = parts[2].strip("()")
            cands = [j for j in cands if records[j][4] == wanted] or cands
        return cands[0] if cands else None

    comps: dict[int, Component] = {}
    for i, (_pkg, line, name, version, source, checksum) in enumerate(records):
        if source is None:
            continue
        qualifiers: tuple[tuple[str, str], ...] = ()
        if source.startswith("git+"):
            qualifiers = (("vcs_url", source),)
        elif not source.startswith(
            (
                "registry+https://github.com/rust-lang/crates.io-index",
                "sparse+https://index.crates.io/",
            )
        ):
            qualifiers = (("repository_url", source.split("+", 1)[-1]),)
        pair = hex_hash("SHA-256", checksum) if isinstance(checksum, str) else None
        comps[i] = make(
            "crates.io",
            name,
            version,
            source=src.rel,
            line=line,
            hashes=(pair,) if pair else (),
            qualifiers=qualifiers,
        )
    out = []
    for i, comp in comps.items():
        deps = records[i][0].get("dependencies")
        targets = []
        if isinstance(deps, list):
            for spec in deps:
                j = resolve(spec) if isinstance(spec, str) else None
                if j is not None and j in comps and j != i:
                    targets.append(comps[j].purl)
        out.append(replace(comp, dependencies=tuple(dict.fromkeys(targets))) if targets else comp)
    return out
