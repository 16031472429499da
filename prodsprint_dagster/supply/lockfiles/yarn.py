"""yarn.lock: classic (v1, its own line format, read by a hand-written line parser) and berry
(Yarn 2+, YAML with ``__metadata``, read with the C YAML loader).

Neither records dev-ness, so scopes follow the graph from the package.json files (root and
workspace members). Berry specifics: ``resolution`` names the real package, so
``alias@npm:real@1.0.0`` aliases resolve to ``real`` and ``patch:`` locators reduce to the
package they patch; ``workspace:`` entries are members (the repository's own code, not
emitted); ``link:``/``portal:``/``file:`` entries are local and skipped; berry's ``checksum``
hashes Yarn's cache archive, not the registry tarball, so it is kept as a
``yarn-checksum`` property rather than a CycloneDX hash.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import unquote

from prodsprint_dagster.supply.lockfiles._base import (
    LineIndex,
    LockInput,
    Malformed,
    merge_component,
    yaml_mapping,
)
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._js_manifest import (
    Manifest,
    read_manifest,
    workspace_manifests,
)
from prodsprint_dagster.supply.lockfiles._purl import make, sri_hashes
from prodsprint_dagster.supply.model import Component

_BERRY = re.compile(r"(?m)^__metadata:")
_BERRY_KEYS = re.compile(r'(?m)^("[^"\n]*"|[^\s"#][^\n]*?):[ \t]*$')
_LOCAL_PROTOCOLS = ("link:", "portal:", "file:")


def parse(src: LockInput) -> list[Component]:
    if _BERRY.search(src.text):
        return _berry(src)
    return _classic(src)


def split_descriptor(desc: str) -> tuple[str, str]:
    """``@scope/name@range`` -> (``@scope/name``, ``range``)."""
    at = desc.find("@", 1)
    if at < 0:
        return desc, ""
    return desc[:at], desc[at + 1 :]


# ---------------------------------------------------------------- classic


def _unquote(token: str) -> str:
    token = token.strip()
    if token.startswith('"'):
        if len(token) < 2 or not token.endswith('"'):
            raise ValueError(f"unterminated quote in {token[:60]!r}")
        return token[1:-1]
    return token


def _key_value(body: str) -> tuple[str, str]:
    """``"@a/b" "^1.0.0"`` or ``version "1.2.3"`` or ``integrity sha512-...``."""
    if body.startswith('"'):
        end = body.find('"', 1)
        if end < 0:
            raise ValueError("unterminated quote")
        return body[1:end], _unquote(body[end + 1 :])
    key, _, value = body.partition(" ")
    return key, _unquote(value)


def _classic(src: LockInput) -> list[Component]:
    entries: list[dict] = []
    by_descriptor: dict[str, int] = {}
    current: dict | None = None
    section: str | None = None
    for number, raw in enumerate(src.text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        body = raw.strip()
        if indent == 0:
            if not body.endswith(":"):
                raise Malformed("expected 'specifier[, specifier]:' at column 0", number)
            current = {"line": number, "deps": {}, "optional": {}, "specs": []}
            for raw_spec in body[:-1].split(","):
                try:
                    spec = _unquote(raw_spec)
                except ValueError as exc:
                    raise Malformed(str(exc), number) from None
                if spec:
                    current["specs"].append(spec)
                    by_descriptor[spec] = len(entries)
            entries.append(current)
            section = None
        elif current is None:
            raise Malformed("indented line before any entry", number)
        elif indent == 2:
            if body.endswith(":"):
                section = body[:-1]
                continue
            section = None
            try:
                key, value = _key_value(body)
            except ValueError as exc:
                raise Malformed(str(exc), number) from None
            current[key] = value
        elif indent >= 4 and section in ("dependencies", "optionalDependencies"):
            try:
                key, value = _key_value(body)
            except ValueError as exc:
                raise Malformed(str(exc), number) from None
            target = current["deps"] if section == "dependencies" else current["optional"]
            target[key] = value
        elif indent >= 4:
            continue
        else:
            raise Malformed(f"unexpected indentation ({indent} spaces)", number)

    comps: dict[int, Component] = {}
    for i, entry in enumerate(entries):
        name, rng = split_descriptor(entry["specs"][0]) if entry["specs"] else ("", "")
        if not name or rng.startswith(_LOCAL_PROTOCOLS) or rng.startswith("workspace:"):
            continue
        version = entry.get("version")
        if not version:
            raise Malformed(f"entry {entry['specs'][0]!r} has no version", entry["line"])
        if rng.startswith("npm:"):
            name = split_descriptor(rng[4:])[0] if "@" in rng[5:] else name
        qualifiers: tuple[tuple[str, str], ...] = ()
        resolved = entry.get("resolved", "")
        if resolved.startswith(("git+", "git:", "github:")) or "codeload.github.com" in resolved:
            qualifiers = (("vcs_url", resolved),)
        comps[i] = make(
            "npm",
            name,
            version,
            source=src.rel,
            line=entry["line"],
            hashes=sri_hashes(entry.get("integrity", "")),
            qualifiers=qualifiers,
        )
    edges = {
        i: [by_descriptor[f"{k}@{v}"] for k, v in e["deps"].items() if f"{k}@{v}" in by_descriptor]
        for i, e in enumerate(entries)
    }
    optional_edges = {
        i: [
            by_descriptor[f"{k}@{v}"]
            for k, v in e["optional"].items()
            if f"{k}@{v}" in by_descriptor
        ]
        for i, e in enumerate(entries)
    }

    def lookup(name: str, rng: str) -> int | None:
        return by_descriptor.get(f"{name}@{rng}")

    return _finish(src, comps, edges, optional_edges, lookup, _classic_members(src))


def _classic_members(src: LockInput) -> list[Manifest]:
    root = read_manifest(src)
    if root is None:
        return []
    return [root, *workspace_manifests(src, root)]


# ---------------------------------------------------------------- berry


def _locator(resolution: str) -> tuple[str, str]:
    """(name, reference) of a berry locator, with ``patch:`` reduced to what it patches."""
    name, ref = split_descriptor(resolution)
    if ref.startswith("patch:"):
        inner = unquote(ref[len("patch:") :].split("#", 1)[0])
        name, ref = split_descriptor(inner)
    return name, ref


def _berry(src: LockInput) -> list[Component]:
    data = yaml_mapping(src)
    lines = LineIndex(src.text, _BERRY_KEYS)
    entries: list[tuple[str, dict, int | None]] = []
    by_descriptor: dict[str, int] = {}
    for key, entry in data.items():
        if key == "__metadata":
            continue
        line = lines.get(f'"{key}"') or lines.get(str(key))
        if not isinstance(entry, dict):
            raise Malformed(f"entry {key!r} is not a mapping", line)
        for desc in str(key).split(","):
            by_descriptor[desc.strip()] = len(entries)
        entries.append((str(key), entry, line))

    comps: dict[int, Component] = {}
    members: dict[int, str] = {}
    for i, (key, entry, line) in enumerate(entries):
        resolution = entry.get("resolution")
        if not isinstance(resolution, str):
            raise Malformed(f"entry {key!r} has no resolution", line)
        name, ref = _locator(resolution)
        if ref.startswith("workspace:"):
            members[i] = ref[len("workspace:") :] or "."
            continue
        if ref.startswith(_LOCAL_PROTOCOLS):
            continue
        version = entry.get("version")
        version = str(version) if version is not None else None
        if ref.startswith("npm:"):
            version = version or ref[4:]
        qualifiers: tuple[tuple[str, str], ...] = ()
        if ref.startswith(("git", "https://github.com", "github:")) or ".git#" in ref:
            qualifiers = (("vcs_url", ref),)
        elif ref.startswith(("http://", "https://")):
            qualifiers = (("download_url", ref),)
        checksum = entry.get("checksum")
        comps[i] = make(
            "npm",
            name,
            version,
            source=src.rel,
            line=line,
            hashes=(("yarn-checksum", str(checksum)),) if checksum else (),
            qualifiers=qualifiers,
        )

    def lookup(name: str, rng: str) -> int | None:
        hit = by_descriptor.get(f"{name}@{rng}")
        if hit is None and ":" not in rng:
            hit = by_descriptor.get(f"{name}@npm:{rng}")
        return hit

    edges: dict[int, list[int]] = {}
    optional_edges: dict[int, list[int]] = {}
    for i, (_, entry, _) in enumerate(entries):
        deps = entry.get("dependencies") if isinstance(entry.get("dependencies"), dict) else {}
        meta = entry.get("dependenciesMeta")
        meta = meta if isinstance(meta, dict) else {}
        req, opt = [], []
        for dep, rng in deps.items():
            hit = lookup(str(dep), str(rng))
            if hit is None:
                continue
            dep_meta = meta.get(dep)
            is_opt = isinstance(dep_meta, dict) and dep_meta.get("optional") is True
            (opt if is_opt else req).append(hit)
        edges[i], optional_edges[i] = req, opt

    manifests = []
    for i, path in sorted(members.items(), key=lambda kv: (kv[1] != ".", kv[1])):
        manifest = read_manifest(src, path) or Manifest(directory=path)
        # A member's lock entry lists every dependency it declares; the manifest says which
        # of them are dev. Without a manifest they all count as production.
        entry = entries[i][1]
        deps = entry.get("dependencies") if isinstance(entry.get("dependencies"), dict) else {}
        for dep, rng in deps.items():
            dep = str(dep)
            if dep in manifest.dev and dep not in manifest.required:
                manifest.dev[dep] = str(rng)
            elif dep in manifest.optional:
                manifest.optional[dep] = str(rng)
            else:
                manifest.required[dep] = str(rng)
        manifests.append(manifest)
    return _finish(src, comps, edges, optional_edges, lookup, manifests)


# ---------------------------------------------------------------- shared


def _finish(
    src: LockInput,
    comps: dict[int, Component],
    edges: dict[int, list[int]],
    optional_edges: dict[int, list[int]],
    lookup,
    manifests: list[Manifest],
) -> list[Component]:
    roots: dict[str, list[int]] = {"required": [], "optional": [], "dev": []}
    declared_by: dict[int, str] = {}
    multi = len(manifests) > 1
    for manifest in manifests:
        for scope, declared in (
            ("required", manifest.required),
            ("optional", manifest.optional),
            ("dev", manifest.dev),
        ):
            for dep, rng in declared.items():
                hit = lookup(dep, rng)
                if hit is None:
                    continue
                roots[scope].append(hit)
                if multi and hit in comps:
                    declared_by.setdefault(hit, src.workspace_path(manifest.directory))
    scopes = reachability_scopes(edges, roots, optional_edges) if manifests else {}
    # One package can sit under several entries (berry's patch: locator beside the plain one);
    # its scope is the best any reached entry has, and unreached entries do not vote.
    rank = {"required": 0, "optional": 1, "dev": 2}
    by_purl: dict[str, str] = {}
    for i, scope in scopes.items():
        if i in comps:
            purl = comps[i].purl
            if purl not in by_purl or rank[scope] < rank[by_purl[purl]]:
                by_purl[purl] = scope
    out: dict[str, Component] = {}
    for i, comp in comps.items():
        deps = tuple(
            dict.fromkeys(
                comps[j].purl
                for j in (*edges.get(i, ()), *optional_edges.get(i, ()))
                if j in comps and comps[j].purl != comp.purl
            )
        )
        out_comp = replace(
            comp,
            scope=by_purl.get(comp.purl, "required"),
            dependencies=deps,
            workspace=declared_by.get(i),
        )
        merge_component(out, out_comp)  # one package may sit under several descriptor groups
    return list(out.values())
