"""pnpm-lock.yaml: v5.x (``/name/1.0.0_peer`` keys), v6.x (``/name@1.0.0(peer)``) and v9
(``packages`` for metadata plus ``snapshots`` for the peer-resolved instances and their edges).

Peer suffixes are stripped for identity (one component per name@version), kept for edges.
``importers`` are the workspace members (the repository's own code, not emitted); a member's
``dependencies``/``optionalDependencies``/``devDependencies`` are the roots for scoping, and
pnpm's own ``dev``/``optional`` flags (v5/v6) win where present. ``link:`` versions point at
other members and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LineIndex, LockInput, Malformed, yaml_mapping
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._purl import make, sri_hashes
from prodsprint_dagster.supply.model import Component

_PACKAGE_KEYS = re.compile(r"(?m)^  ('[^'\n]*'|\"[^\"\n]*\"|[^\s'\"#][^\n]*?):[ \t]*$")
_DEP_FIELDS = (
    ("required", "dependencies"),
    ("optional", "optionalDependencies"),
    ("dev", "devDependencies"),
)


def parse(src: LockInput) -> list[Component]:
    data = yaml_mapping(src)
    raw_version = data.get("lockfileVersion")
    try:
        major = int(float(str(raw_version).strip("'\"")))
    except ValueError:
        raise Malformed(f"unknown lockfileVersion {raw_version!r}", 1) from None
    packages = data.get("packages") or {}
    snapshots = data.get("snapshots") or {}
    if not isinstance(packages, dict) or not isinstance(snapshots, dict):
        raise Malformed("'packages'/'snapshots' must be mappings", None)
    lines = LineIndex(src.text, _PACKAGE_KEYS)
    fmt = _V9 if major >= 9 else _V6 if major >= 6 else _V5
    # v9 keeps metadata in packages and the peer-resolved instances in snapshots.
    instances = snapshots if major >= 9 and snapshots else packages
    meta_of = packages

    comps: dict[str, Component] = {}
    instance_purl: dict[str, str] = {}
    explicit: dict[str, str] = {}
    for key, inst in instances.items():
        key = str(key)
        inst = inst if isinstance(inst, dict) else {}
        base = fmt.strip_peers(key)
        meta = meta_of.get(base) if major >= 9 else inst
        if meta is None and major >= 9:
            meta = meta_of.get(key, {})
        meta = meta if isinstance(meta, dict) else {}
        name, version = fmt.name_version(base)
        if isinstance(meta.get("name"), str):
            name = meta["name"]
        if isinstance(meta.get("version"), str):
            version = meta["version"]
        if not name or not version:
            raise Malformed(
                f"cannot read name and version from package key {key!r}", _line(lines, key)
            )
        resolution = meta.get("resolution") if isinstance(meta.get("resolution"), dict) else {}
        if resolution.get("type") == "directory" or version.startswith(("link:", "file:")):
            continue
        qualifiers: tuple[tuple[str, str], ...] = ()
        if isinstance(resolution.get("tarball"), str) and "integrity" not in resolution:
            qualifiers = (("download_url", resolution["tarball"]),)
        if isinstance(resolution.get("repo"), str):
            qualifiers = (("vcs_url", f"{resolution['repo']}#{resolution.get('commit', '')}"),)
        integrity = resolution.get("integrity")
        comp = make(
            "npm",
            name,
            version,
            source=src.rel,
            line=_line(lines, base) or _line(lines, key),
            hashes=sri_hashes(integrity) if isinstance(integrity, str) else (),
            qualifiers=qualifiers,
        )
        instance_purl[key] = comp.purl
        comps.setdefault(comp.purl, comp)
        if major < 9:
            if inst.get("dev") is True:
                explicit[comp.purl] = "dev"
            elif inst.get("optional") is True:
                explicit.setdefault(comp.purl, "optional")
            elif inst.get("dev") is False:
                explicit[comp.purl] = "required"

    def resolve(name: str, ref: object) -> str | None:
        if isinstance(ref, dict):  # v6/v9 importers: {specifier, version}
            ref = ref.get("version")
        if not isinstance(ref, str) or ref.startswith(("link:", "file:")):
            return None
        return instance_purl.get(fmt.instance_key(str(name), ref))

    edges: dict[str, set[str]] = {}
    optional_edges: dict[str, set[str]] = {}
    for key, inst in instances.items():
        src_purl = instance_purl.get(str(key))
        if src_purl is None or not isinstance(inst, dict):
            continue
        for fld, target in (("dependencies", edges), ("optionalDependencies", optional_edges)):
            deps = inst.get(fld)
            if isinstance(deps, dict):
                for name, ref in deps.items():
                    hit = resolve(name, ref)
                    if hit is not None and hit != src_purl:
                        target.setdefault(src_purl, set()).add(hit)

    importers = data.get("importers")
    if not isinstance(importers, dict):
        importers = {".": data}  # single-project v5/v6 lockfiles keep these at the top level
    roots: dict[str, list[str]] = {"required": [], "optional": [], "dev": []}
    declared_by: dict[str, str] = {}
    multi = len(importers) > 1
    for member in sorted(importers, key=lambda m: (m != ".", str(m))):
        imp = importers[member] if isinstance(importers[member], dict) else {}
        for scope, fld in _DEP_FIELDS:
            deps = imp.get(fld)
            if not isinstance(deps, dict):
                continue
            for name, ref in deps.items():
                hit = resolve(name, ref)
                if hit is None:
                    continue
                roots[scope].append(hit)
                if multi:
                    declared_by.setdefault(hit, src.workspace_path(str(member)))
    scopes = reachability_scopes(edges, roots, optional_edges)
    out = []
    for purl, comp in comps.items():
        deps = tuple(sorted(edges.get(purl, set()) | optional_edges.get(purl, set())))
        out.append(
            replace(
                comp,
                scope=explicit.get(purl) or scopes.get(purl, "required"),
                dependencies=deps,
                workspace=declared_by.get(purl),
            )
        )
    return out


def _line(lines: LineIndex, key: str) -> int | None:
    return lines.get(key) or lines.get(f"'{key}'") or lines.get(f'"{key}"')


def _split_at_version(spec: str) -> tuple[str, str]:
    at = spec.find("@", 1)
    return (spec[:at], spec[at + 1 :]) if at > 0 else (spec, "")


class _V5:
    """``/name/1.0.0`` and ``/@scope/name/1.0.0_peer@1.0.0``; refs are ``1.0.0_peer`` or a
    full ``/alias/1.0.0`` key."""

    @staticmethod
    def strip_peers(key: str) -> str:
        head, _, tail = key.rpartition("/")
        return f"{head}/{tail.split('_', 1)[0]}" if head else key

    @staticmethod
    def name_version(base: str) -> tuple[str, str]:
        if not base.startswith("/"):
            return "", ""
        head, _, version = base[1:].rpartition("/")
        return head, version

    @staticmethod
    def instance_key(name: str, ref: str) -> str:
        return ref if ref.startswith("/") else f"/{name}/{ref}"


class _V6:
    """``/name@1.0.0`` and ``/@scope/name@1.0.0(peer@1.0.0)``."""

    @staticmethod
    def strip_peers(key: str) -> str:
        return key.split("(", 1)[0]

    @staticmethod
    def name_version(base: str) -> tuple[str, str]:
        return _split_at_version(base[1:]) if base.startswith("/") else ("", "")

    @staticmethod
    def instance_key(name: str, ref: str) -> str:
        return ref if ref.startswith("/") else f"/{name}@{ref}"


class _V9:
    """``name@1.0.0`` packages, ``name@1.0.0(peer@1.0.0)`` snapshots; an alias ref is
    ``real@1.0.0``."""

    @staticmethod
    def strip_peers(key: str) -> str:
        return key.split("(", 1)[0]

    @staticmethod
    def name_version(base: str) -> tuple[str, str]:
        return _split_at_version(base)

    @staticmethod
    def instance_key(name: str, ref: str) -> str:
        if "@" in ref.split("(", 1)[0][1:]:
            return ref  # npm alias: the ref names the real package
        return f"{name}@{ref}"
