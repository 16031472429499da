"""pdm.lock (lock_version 4.x with per-package ``groups`` and ``files``; older 3.x/4.0 with
hashes under ``[metadata.files]``). A package in the ``default`` group is required, one only in
other groups is dev; ``dependencies`` give the edges. Local path packages are not emitted.
"""

from __future__ import annotations

import re
from dataclasses import replace

from prodsprint_dagster.supply.lockfiles._base import LockInput
from prodsprint_dagster.supply.lockfiles._purl import make, pep503, prefixed_hash
from prodsprint_dagster.supply.lockfiles._toml_packages import load_toml, packages, require_str
from prodsprint_dagster.supply.model import Component

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def parse(src: LockInput) -> list[Component]:
    data = load_toml(src.text)
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    legacy = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    comps: list[Component] = []
    dep_names: list[list[str]] = []
    for pkg, line in packages(data, src.text):
        name = require_str(pkg, "name", line)
        if "path" in pkg or pkg.get("editable") is True:
            continue
        version = pkg.get("version") if isinstance(pkg.get("version"), str) else None
        groups = pkg.get("groups")
        scope = "required"
        if isinstance(groups, list) and groups and "default" not in groups:
            scope = "dev"
        files = pkg.get("files")
        if not isinstance(files, list):
            files = legacy.get(f"{name} {version}") or legacy.get(f"{pep503(name)} {version}") or []
        hashes = tuple(
            dict.fromkeys(
                p
                for f in files
                if isinstance(f, dict)
                and isinstance(f.get("hash"), str)
                and (p := prefixed_hash(f["hash"]))
            )
        )
        qualifiers: tuple[tuple[str, str], ...] = ()
        if isinstance(pkg.get("git"), str):
            ref = pkg.get("revision") or pkg.get("ref") or ""
            qualifiers = (("vcs_url", f"git+{pkg['git']}" + (f"@{ref}" if ref else "")),)
        comps.append(
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
        deps = pkg.get("dependencies") if isinstance(pkg.get("dependencies"), list) else []
        dep_names.append(
            [pep503(m.group(1)) for d in deps if isinstance(d, str) and (m := _NAME.match(d))]
        )
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(comps):
        by_name.setdefault(pep503(c.name), []).append(i)
    out = []
    for i, c in enumerate(comps):
        deps = tuple(
            dict.fromkeys(comps[j].purl for n in dep_names[i] for j in by_name.get(n, ()) if j != i)
        )
        out.append(replace(c, dependencies=deps) if deps else c)
    return out
