"""bun.lock, Bun's text lockfile (JSONC: JSON with comments and trailing commas).

``packages`` maps an install path (``lodash``, ``@scope/pkg``, or nested ``parent/child`` for a
copy that could not be hoisted) to ``[ "name@version", registry, {dependencies...},
integrity ]``; ``workspaces`` maps member directories to their declared dependencies, which are
the roots for scoping and for ``workspace`` attribution. ``name@workspace:path`` packages are the
members themselves and are not emitted. The binary ``bun.lockb`` is not supported (the
dispatcher reports a gap suggesting ``bun install --save-text-lockfile``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed, merge_component
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._purl import make, sri_hashes
from prodsprint_dagster.supply.lockfiles.yarn import split_descriptor
from prodsprint_dagster.supply.model import Component

_SPECIAL = re.compile(r'[",/]')
_STRING_TAIL = re.compile(r'(?:[^"\\\n]|\\.)*"')
_CLOSER_AHEAD = re.compile(r"\s*[\]}]")
_PACKAGE_KEYS = re.compile(r'(?m)^    "([^"\n]+)"\s*:\s*\[')
_LOCAL = ("workspace:", "link:", "file:", "root:")


def jsonc_to_json(text: str) -> str:
    """Comments and trailing commas removed in one left-to-right pass (no backtracking), with
    newlines kept so that JSON error lines still match the file."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        m = _SPECIAL.search(text, i)
        if m is None:
            out.append(text[i:])
            break
        j = m.start()
        out.append(text[i:j])
        ch = text[j]
        if ch == '"':
            tail = _STRING_TAIL.match(text, j + 1)
            end = tail.end() if tail else n
            out.append(text[j:end])
            i = end
        elif ch == ",":
            if not _CLOSER_AHEAD.match(text, j + 1):
                out.append(",")
            i = j + 1
        elif text.startswith("//", j):
            nl = text.find("\n", j)
            i = n if nl < 0 else nl
        elif text.startswith("/*", j):
            close = text.find("*/", j + 2)
            end = n if close < 0 else close + 2
            out.append("\n" * text.count("\n", j, end))
            i = end
        else:
            out.append(ch)
            i = j + 1
    return "".join(out)


def parse(src: LockInput) -> list[Component]:
    try:
        data = json.loads(jsonc_to_json(src.text))
    except json.JSONDecodeError as exc:
        raise Malformed(f"invalid JSONC: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise Malformed("top level is not an object", 1)
    packages = data.get("packages", {})
    workspaces = data.get("workspaces", {})
    if not isinstance(packages, dict) or not isinstance(workspaces, dict):
        raise Malformed("'packages' and 'workspaces' must be objects", None)
    lines = _lines(src.text)
    comps: dict[str, Component] = {}
    for path, entry in packages.items():
        line = lines.get(path)
        if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
            raise Malformed(f'packages[{path!r}] is not ["name@version", ...]', line)
        name, version = split_descriptor(entry[0])
        if not version or version.startswith(_LOCAL):
            continue
        qualifiers: tuple[tuple[str, str], ...] = ()
        if version.startswith("npm:"):
            name, version = split_descriptor(version[4:])
        elif version.startswith(("github:", "git+", "git:")):
            qualifiers = (("vcs_url", version),)
            version = version.rsplit("#", 1)[1] if "#" in version else None
        integrity = next((x for x in entry[1:] if isinstance(x, str) and "-" in x[:8]), None)
        comps[path] = make(
            "npm",
            name,
            version,
            source=src.rel,
            line=line,
            hashes=sri_hashes(integrity) if integrity else (),
            qualifiers=qualifiers,
        )

    def resolve(base: str, dep: str) -> str | None:
        at = base
        while True:
            candidate = f"{at}/{dep}" if at else dep
            if candidate in packages:
                return candidate if candidate in comps else None
            if not at:
                return None
            at = _parent_path(at)

    edges: dict[str, list[str]] = {}
    optional_edges: dict[str, list[str]] = {}
    for path in comps:
        info = next((x for x in packages[path][1:] if isinstance(x, dict)), {})
        for fld, target in (
            ("dependencies", edges),
            ("peerDependencies", edges),
            ("optionalDependencies", optional_edges),
        ):
            deps = info.get(fld)
            if isinstance(deps, dict):
                for dep in deps:
                    hit = resolve(path, str(dep))
                    if hit is not None and hit != path:
                        target.setdefault(path, []).append(hit)

    roots: dict[str, list[str]] = {"required": [], "optional": [], "dev": []}
    declared_by: dict[str, str] = {}
    multi = len(workspaces) > 1
    for member in sorted(workspaces, key=lambda m: (m != "", m)):
        ws = workspaces[member] if isinstance(workspaces[member], dict) else {}
        for scope, fld in (
            ("required", "dependencies"),
            ("required", "peerDependencies"),
            ("optional", "optionalDependencies"),
            ("dev", "devDependencies"),
        ):
            deps = ws.get(fld)
            if not isinstance(deps, dict):
                continue
            for dep in deps:
                hit = resolve(_member_base(packages, ws, member), str(dep))
                if hit is None:
                    continue
                roots[scope].append(hit)
                if multi:
                    declared_by.setdefault(hit, src.workspace_path(member or "."))
    scopes = reachability_scopes(edges, roots, optional_edges)
    out: dict[str, Component] = {}
    for path, comp in comps.items():
        deps = tuple(
            dict.fromkeys(
                comps[t].purl
                for t in (*edges.get(path, ()), *optional_edges.get(path, ()))
                if comps[t].purl != comp.purl
            )
        )
        new = replace(
            comp,
            scope=scopes.get(path, "required"),
            dependencies=deps,
            workspace=declared_by.get(path),
        )
        merge_component(out, new)
    return list(out.values())


def _member_base(packages: dict, ws: dict, member: str) -> str:
    """Where a member's own non-hoisted copies live: under its package name (``a/lodash``)."""
    name = ws.get("name")
    if member and isinstance(name, str) and name in packages:
        return name
    return ""


def _parent_path(path: str) -> str:
    """``a/@s/b/c`` -> ``a/@s/b``; ``@s/b`` -> ``""``."""
    parts = path.split("/")
    cut = 2 if len(parts) >= 2 and parts[-2].startswith("@") else 1
    return "/".join(parts[:-cut])


def _lines(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    line, pos = 1, 0
    for m in _PACKAGE_KEYS.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        out.setdefault(m.group(1), line)
    return out
