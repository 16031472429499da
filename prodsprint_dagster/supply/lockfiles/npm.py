"""package-lock.json / npm-shrinkwrap.json: v1 (nested ``dependencies``) and v2/v3
(``packages`` keyed by ``node_modules/...`` install paths, read in preference when present).

Scopes come from npm's own flags: ``dev`` is dev, ``optional`` is optional, and ``devOptional``
(a dev dependency that is also an optional dependency of a production package, so it may be
installed in production) is optional. Edges are resolved the way Node resolves ``require``:
the nearest ``node_modules`` up the install path. Workspaces: an entry outside any
``node_modules`` is a member (the repository's own code), a ``link: true`` entry points at
one; neither is emitted, and packages a member declares carry that member as ``workspace``.
"""

from __future__ import annotations

import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LineIndex, LockInput, Malformed, json_object
from prodsprint_dagster.supply.lockfiles._purl import make, purl_for, sri_hashes
from prodsprint_dagster.supply.model import Component, Gap

_V2_KEYS = re.compile(r'(?m)^    "([^"\n]*)"\s*:\s*\{')
_ANY_OBJECT_KEY = re.compile(r'(?m)^\s*"([^"\n]*)"\s*:\s*\{')
_EDGE_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies")
_DECLARED_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def parse(src: LockInput) -> list[Component]:
    data = json_object(src)
    packages = data.get("packages")
    if isinstance(packages, dict) and packages:
        return _parse_packages(src, packages)
    deps = data.get("dependencies", {})
    if not isinstance(deps, dict):
        raise Malformed("'dependencies' is not an object", None)
    return _parse_v1(src, deps)


def _name_of(path: str) -> str:
    return path.rsplit("node_modules/", 1)[1]


def _parent(base: str) -> str | None:
    if not base:
        return None
    idx = base.rfind("/node_modules/")
    return base[:idx] if idx >= 0 else ""


def _scope(entry: dict) -> str:
    if entry.get("dev") is True:
        return "dev"
    if entry.get("optional") is True or entry.get("devOptional") is True:
        return "optional"
    return "required"


def _licenses(entry: dict) -> tuple[str, ...]:
    lic = entry.get("license")
    if isinstance(lic, str) and lic:
        return (lic,)
    if isinstance(lic, dict) and isinstance(lic.get("type"), str):
        return (lic["type"],)
    if isinstance(entry.get("licenses"), list):
        return tuple(
            x["type"] if isinstance(x, dict) else x
            for x in entry["licenses"]
            if isinstance(x, str) or (isinstance(x, dict) and isinstance(x.get("type"), str))
        )
    return ()


def _version_and_qualifiers(
    version: str, resolved: object
) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
    """(real name or None, version, qualifiers): ``npm:real@1.0.0`` aliases name the real
    package, git sources keep their URL."""
    if version.startswith("npm:"):
        real, _, ver = version[4:].rpartition("@")
        return real or None, ver or None, ()
    if isinstance(resolved, str) and resolved.startswith(("git+", "git:", "github:")):
        return None, version, (("vcs_url", resolved),)
    if version.startswith(("git+", "git:", "github:")):
        commit = version.rsplit("#", 1)[1] if "#" in version else None
        return None, commit, (("vcs_url", version),)
    return None, version, ()


def _parse_packages(src: LockInput, packages: dict) -> list[Component]:
    lines = LineIndex(src.text, _V2_KEYS)
    links: dict[str, str] = {}
    members: list[str] = []
    # First pass: identity of every installed package (purl by install path); the components
    # are built once, in the second pass, when edges and workspace are known.
    info: dict[str, tuple[str, str | None, tuple[tuple[str, str], ...]]] = {}
    purl_at: dict[str, str] = {}
    for path, entry in packages.items():
        if not isinstance(entry, dict):
            raise Malformed(f"packages[{path!r}] is not an object", lines.get(path))
        if entry.get("link") is True:
            links[path] = entry.get("resolved") if isinstance(entry.get("resolved"), str) else ""
            continue
        if "node_modules/" not in path and not path.startswith("node_modules"):
            members.append(path)
            continue
        name = entry.get("name") if isinstance(entry.get("name"), str) else _name_of(path)
        raw = entry.get("version")
        if not isinstance(raw, str) or not raw:
            src.gaps.append(
                Gap(
                    "unpinned_requirement",
                    src.rel,
                    f"{path} has no version (a file: or unresolved dependency)",
                    lines.get(path),
                )
            )
            continue
        real, version, qualifiers = _version_and_qualifiers(raw, entry.get("resolved"))
        info[path] = (real or name, version, qualifiers)
        purl_at[path] = purl_for("npm", real or name, version, qualifiers)

    def resolve(base: str, name: str) -> str | None:
        at: str | None = base
        while at is not None:
            candidate = f"{at}/node_modules/{name}" if at else f"node_modules/{name}"
            if candidate in purl_at:
                return candidate
            if candidate in links or candidate in packages:
                return None  # a workspace link or a member: not a third-party component
            at = _parent(at)
        return None

    declared_by: dict[str, str] = {}
    if [m for m in members if m]:
        for member in sorted(members, key=lambda m: (m != "", m)):
            entry = packages[member]
            for fld in _DECLARED_FIELDS:
                names = entry.get(fld)
                if not isinstance(names, dict):
                    continue
                for dep in names:
                    target = resolve(member, dep)
                    if target is not None:
                        declared_by.setdefault(target, src.workspace_path(member or "."))
    out: list[Component] = []
    for path, (name, version, _qualifiers) in info.items():
        entry = packages[path]
        deps: list[str] = []
        for fld in _EDGE_FIELDS:
            names = entry.get(fld)
            if isinstance(names, dict):
                for dep in names:
                    target = resolve(path, dep)
                    if target is not None and target != path:
                        deps.append(purl_at[target])
        integrity = entry.get("integrity")
        out.append(
            Component(
                name=name,
                version=version or None,
                ecosystem="npm",
                purl=purl_at[path],
                scope=_scope(entry),
                hashes=sri_hashes(integrity) if isinstance(integrity, str) else (),
                licenses=_licenses(entry),
                dependencies=tuple(dict.fromkeys(deps)),
                source=src.rel,
                line=lines.get(path),
                workspace=declared_by.get(path),
            )
        )
    return out


def _parse_v1(src: LockInput, deps: dict) -> list[Component]:
    lines = _v1_lines(src.text, deps)
    comps: list[Component] = []
    index_of: dict[int, int] = {}
    # Depth-first over the nested tree; each frame keeps the names visible from there.
    requires_of: list[tuple[int, dict, list[dict]]] = []
    stack: list[tuple[dict, list[dict]]] = [(deps, [])]
    while stack:
        level, scopes = stack.pop()
        visible = [level, *scopes]
        for name, entry in level.items():
            if not isinstance(entry, dict):
                raise Malformed(f"dependencies[{name!r}] is not an object", lines.get(id(entry)))
            raw = entry.get("version")
            if not isinstance(raw, str) or raw.startswith(("file:", "link:")):
                continue
            real, version, qualifiers = _version_and_qualifiers(raw, entry.get("resolved"))
            integrity = entry.get("integrity")
            index_of[id(entry)] = len(comps)
            comps.append(
                make(
                    "npm",
                    real or name,
                    version,
                    source=src.rel,
                    line=lines.get(id(entry)),
                    scope=_scope(entry),
                    hashes=sri_hashes(integrity) if isinstance(integrity, str) else (),
                    qualifiers=qualifiers,
                )
            )
            nested = entry.get("dependencies")
            inner = [nested, *visible] if isinstance(nested, dict) else visible
            requires_of.append((len(comps) - 1, entry, inner))
            if isinstance(nested, dict):
                stack.append((nested, visible))
    out = list(comps)
    for index, entry, visible in requires_of:
        req = entry.get("requires")
        if not isinstance(req, dict):
            continue
        targets = []
        for dep in req:
            for scope in visible:
                if dep in scope:
                    hit = index_of.get(id(scope[dep]))
                    if hit is not None:
                        targets.append(comps[hit].purl)
                    break
        targets = [t for t in dict.fromkeys(targets) if t != comps[index].purl]
        if targets:
            out[index] = replace(comps[index], dependencies=tuple(targets))
    return out


def _v1_lines(text: str, deps: dict) -> dict[int, int]:
    """Line of each nested entry, by walking the tree in document order alongside the ordered
    object-valued keys of the text (one key per line, as npm writes it). Empty when the file
    is not laid out that way."""
    index = LineIndex(text, _ANY_OBJECT_KEY)
    keys = [m.group(1) for m in _ANY_OBJECT_KEY.finditer(text)]
    out: dict[int, int] = {}
    cursor = 0
    # The top-level "dependencies" key itself comes first in the ordered list.
    try:
        cursor = keys.index("dependencies") + 1
    except ValueError:
        return out
    stack: list[object] = [iter(deps.items())]
    while stack:
        it = stack[-1]
        item = next(it, None)  # type: ignore[call-overload]
        if item is None:
            stack.pop()
            continue
        key, value = item
        if not isinstance(value, dict):
            continue
        if cursor >= len(keys) or keys[cursor] != key:
            return {}
        out[id(value)] = index.nth(cursor) or 0
        cursor += 1
        stack.append(iter(value.items()))
    return out
