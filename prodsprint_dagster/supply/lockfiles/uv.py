"""uv.lock (version 1, any revision), including workspaces.

Workspace members are the packages whose source is ``editable`` or ``virtual`` (and local
``directory`` projects): they are the repository's own code and are not emitted. Their
``dependencies``, ``optional-dependencies`` and ``dev-dependencies`` are the roots from which
every other package's scope follows; extras are followed only where a dependant asks for them.
"""

from __future__ import annotations

from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput, Malformed
from prodsprint_dagster.supply.lockfiles._graph import reachability_scopes
from prodsprint_dagster.supply.lockfiles._purl import make, pep503, prefixed_hash
from prodsprint_dagster.supply.lockfiles._toml_packages import (
    load_toml,
    packages,
    require_str,
)
from prodsprint_dagster.supply.model import Component

_LOCAL = ("editable", "virtual", "directory", "path")


def parse(src: LockInput) -> list[Component]:
    data = load_toml(src.text)
    version = data.get("version")
    if not isinstance(version, int):
        raise Malformed("missing integer 'version' (is this a uv.lock?)", 1)
    pkgs = []
    for pkg, line in packages(data, src.text):
        name = pep503(require_str(pkg, "name", line))
        ver = pkg.get("version")
        source = pkg.get("source") if isinstance(pkg.get("source"), dict) else {}
        local = next((source[k] for k in _LOCAL if isinstance(source.get(k), str)), None)
        pkgs.append((pkg, line, name, ver if isinstance(ver, str) else None, source, local))
    by_name: dict[str, list[int]] = {}
    for i, p in enumerate(pkgs):
        by_name.setdefault(p[2], []).append(i)

    def targets(entries: object) -> list[tuple[int, tuple[str, ...]]]:
        out = []
        if not isinstance(entries, list):
            return out
        for dep in entries:
            if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                continue
            cands = by_name.get(pep503(dep["name"]), [])
            if isinstance(dep.get("version"), str):
                cands = [j for j in cands if pkgs[j][3] == dep["version"]] or cands
            extras = tuple(e for e in dep.get("extra", ()) if isinstance(e, str))
            out.extend((j, extras) for j in cands)
        return out

    direct: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
    optional_of: dict[int, dict[str, list]] = {}
    wanted_extras: dict[int, set[str]] = {}
    for i, (pkg, *_rest) in enumerate(pkgs):
        direct[i] = targets(pkg.get("dependencies"))
        opt = pkg.get("optional-dependencies")
        optional_of[i] = {k: targets(v) for k, v in opt.items()} if isinstance(opt, dict) else {}
        for j, extras in direct[i]:
            wanted_extras.setdefault(j, set()).update(extras)
    edges: dict[int, list[int]] = {}
    for i in range(len(pkgs)):
        ts = [j for j, _ in direct[i]]
        for extra in sorted(wanted_extras.get(i, ())):
            ts.extend(j for j, _ in optional_of[i].get(extra, ()))
        edges[i] = ts

    members = [i for i, p in enumerate(pkgs) if p[5] is not None]
    roots: dict[str, list[int]] = {"required": [], "optional": [], "dev": []}
    declared_by: dict[int, str] = {}
    multi = len(members) > 1
    for m in sorted(members, key=lambda i: (pkgs[i][5] != ".", pkgs[i][5])):
        pkg, member_dir = pkgs[m][0], pkgs[m][5]
        groups = [("required", direct[m])]
        groups += [("optional", ts) for ts in optional_of[m].values()]
        dev = pkg.get("dev-dependencies")
        if isinstance(dev, dict):
            groups += [("dev", targets(v)) for v in dev.values()]
        for scope, ts in groups:
            for j, _ in ts:
                roots[scope].append(j)
                if multi and pkgs[j][5] is None:
                    declared_by.setdefault(j, src.workspace_path(member_dir))
    scopes = reachability_scopes(edges, roots)

    comps: dict[int, Component] = {}
    for i, (pkg, line, _name, ver, source, local) in enumerate(pkgs):
        if local is not None:
            continue
        qualifiers: tuple[tuple[str, str], ...] = ()
        if isinstance(source.get("git"), str):
            qualifiers = (("vcs_url", "git+" + source["git"]),)
        elif isinstance(source.get("url"), str):
            qualifiers = (("download_url", source["url"]),)
        comps[i] = make(
            "PyPI",
            require_str(pkg, "name", line),
            ver,
            source=src.rel,
            line=line,
            scope=scopes.get(i, "required"),
            hashes=_hashes(pkg),
            workspace=declared_by.get(i),
            qualifiers=qualifiers,
        )
    out = []
    for i, comp in comps.items():
        deps = tuple(dict.fromkeys(comps[j].purl for j in edges[i] if j in comps and j != i))
        out.append(replace(comp, dependencies=deps) if deps else comp)
    return out


def _hashes(pkg: dict) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    artifacts = []
    if isinstance(pkg.get("sdist"), dict):
        artifacts.append(pkg["sdist"])
    if isinstance(pkg.get("wheels"), list):
        artifacts.extend(w for w in pkg["wheels"] if isinstance(w, dict))
    for art in artifacts:
        if isinstance(art.get("hash"), str):
            pair = prefixed_hash(art["hash"])
            if pair and pair not in found:
                found.append(pair)
    return tuple(found)
