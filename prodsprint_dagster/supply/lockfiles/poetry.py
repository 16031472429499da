"""poetry.lock: lock-version 1.1 (hashes under ``[metadata.files]``, ``category``), 2.0 (hashes
in ``files``, no scope at all) and 2.1 (Poetry 2: ``groups``).

Where the lock records no scope (2.0), the sibling pyproject.toml names the main and the
dev/group dependencies and the scope follows the ``[package.dependencies]`` graph. Path
(``directory``) packages are the project's own code and are not emitted.
"""

from __future__ import annotations

from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._purl import make, pep503, prefixed_hash
from prodsprint_dagster.supply.lockfiles._toml_packages import (
    load_toml,
    packages,
    require_str,
)
from prodsprint_dagster.supply.lockfiles.pyproject import declared_names
from prodsprint_dagster.supply.model import Component


def parse(src: LockInput) -> list[Component]:
    data = load_toml(src.text)
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    legacy_files = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    records = []
    for pkg, line in packages(data, src.text):
        name = require_str(pkg, "name", line)
        version = require_str(pkg, "version", line)
        source = pkg.get("source") if isinstance(pkg.get("source"), dict) else {}
        kind = source.get("type")
        if kind == "directory":
            continue  # a path dependency: the project's own code
        files = pkg.get("files")
        if not isinstance(files, list):
            files = legacy_files.get(name) or legacy_files.get(pep503(name)) or []
        hashes = _hashes(files)
        qualifiers: tuple[tuple[str, str], ...] = ()
        if kind == "git" and isinstance(source.get("url"), str):
            ref = source.get("resolved_reference") or source.get("reference") or ""
            qualifiers = (("vcs_url", f"git+{source['url']}" + (f"@{ref}" if ref else "")),)
        elif kind == "url" and isinstance(source.get("url"), str):
            qualifiers = (("download_url", source["url"]),)
        deps = pkg.get("dependencies") if isinstance(pkg.get("dependencies"), dict) else {}
        records.append(
            {
                "name": name,
                "version": version,
                "line": line,
                "hashes": hashes,
                "qualifiers": qualifiers,
                "deps": [pep503(d) for d in deps],
                "scope": _explicit_scope(pkg),
            }
        )
    by_name: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_name.setdefault(pep503(rec["name"]), []).append(i)
    edges = {
        i: [j for d in rec["deps"] for j in by_name.get(d, ())] for i, rec in enumerate(records)
    }
    scopes: dict = {}
    if any(rec["scope"] is None for rec in records):
        scopes = _scopes_from_manifest(src, by_name, edges)
    comps = [
        make(
            "PyPI",
            rec["name"],
            rec["version"],
            source=src.rel,
            line=rec["line"],
            scope=rec["scope"] or scopes.get(i, "required"),
            hashes=rec["hashes"],
            qualifiers=rec["qualifiers"],
        )
        for i, rec in enumerate(records)
    ]
    return [
        _with_deps(c, tuple(dict.fromkeys(comps[j].purl for j in edges[i] if j != i)))
        for i, c in enumerate(comps)
    ]


def _with_deps(comp: Component, deps: tuple[str, ...]) -> Component:
    return replace(comp, dependencies=deps) if deps else comp


def _explicit_scope(pkg: dict) -> str | None:
    optional = pkg.get("optional") is True
    groups = pkg.get("groups")
    category = pkg.get("category")
    if isinstance(groups, list) and groups:
        base = "required" if "main" in groups else "dev"
    elif isinstance(category, str):
        base = "dev" if category == "dev" else "required"
    else:
        return "optional" if optional else None
    return "optional" if optional and base == "required" else base


def _hashes(files: object) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if isinstance(files, list):
        for f in files:
            if isinstance(f, dict) and isinstance(f.get("hash"), str):
                pair = prefixed_hash(f["hash"])
                if pair and pair not in out:
                    out.append(pair)
    return tuple(out)


def _scopes_from_manifest(src: LockInput, by_name: dict, edges: dict) -> dict:
    found = src.sibling("pyproject.toml")
    if found is None:
        return {}
    main, optional, dev = declared_names(found[1], poetry=True)
    roots = {
        "required": [j for n in main for j in by_name.get(n, ())],
        "optional": [j for n in optional for j in by_name.get(n, ())],
        "dev": [j for n in dev for j in by_name.get(n, ())],
    }
    return reachability_scopes(edges, roots)
