"""PEP 621 pyproject.toml: ``[project].dependencies`` (required), ``optional-dependencies``
(optional) and PEP 735 ``[dependency-groups]`` (dev).

Read only when no lock covers the project (the inventory decides), so versions are usually
ranges: each such dependency becomes a component without a version and an
``unpinned_requirement`` gap. :func:`declared_names` also serves the poetry and uv parsers,
which need the manifest's main/dev split to scope a lock that does not record it.
"""

from __future__ import annotations

import tomllib

from packaging.requirements import InvalidRequirement, Requirement

from prodsprint_dagster.supply.lockfiles._base import LockInput
from prodsprint_dagster.supply.lockfiles._purl import make, pep503
from prodsprint_dagster.supply.lockfiles._toml_packages import load_toml
from prodsprint_dagster.supply.lockfiles.python_requirements import _exact_version
from prodsprint_dagster.supply.model import Component, Gap


def parse(src: LockInput) -> list[Component]:
    data = load_toml(src.text)
    out: list[Component] = []
    for scope, header, specs in _sections(data):
        start = max(src.text.find(header), 0)
        for spec in specs:
            line = _line_of(src.text, spec, start)
            try:
                req = Requirement(spec)
            except InvalidRequirement as exc:
                src.gaps.append(
                    Gap("malformed_lockfile", src.rel, f"not a requirement: {exc}", line)
                )
                continue
            version = None if req.url else _exact_version(req)
            out.append(make("PyPI", req.name, version, source=src.rel, line=line, scope=scope))
            if version is None:
                src.gaps.append(
                    Gap(
                        "unpinned_requirement",
                        src.rel,
                        f"{req.name} is declared without a lock (no exact version); "
                        "lock the project (uv lock, poetry lock, pdm lock)",
                        line,
                    )
                )
    return out


def _sections(data: dict) -> list[tuple[str, str, list[str]]]:
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    out = [("required", "[project]", _strings(project.get("dependencies")))]
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        for extra, specs in optional.items():
            out.append(("optional", str(extra), _strings(specs)))
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for specs in groups.values():
            out.append(("dev", "[dependency-groups]", _strings(specs)))
    return out


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _line_of(text: str, spec: str, start: int) -> int | None:
    for quoted in (f'"{spec}"', f"'{spec}'"):
        pos = text.find(quoted, start)
        if pos < 0:
            pos = text.find(quoted)
        if pos >= 0:
            return text.count("\n", 0, pos) + 1
    return None


def declared_names(text: str, *, poetry: bool = False) -> tuple[set[str], set[str], set[str]]:
    """(main, optional, dev) dependency names (PEP 503) a pyproject.toml declares, from PEP 621,
    PEP 735 and, with ``poetry``, ``[tool.poetry]``. A broken manifest declares nothing."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return set(), set(), set()
    main: set[str] = set()
    optional: set[str] = set()
    dev: set[str] = set()
    for scope, _, specs in _sections(data):
        target = {"required": main, "optional": optional, "dev": dev}[scope]
        for spec in specs:
            try:
                target.add(pep503(Requirement(spec).name))
            except InvalidRequirement:
                continue
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    for spec in _strings(uv.get("dev-dependencies")):
        try:
            dev.add(pep503(Requirement(spec).name))
        except InvalidRequirement:
            continue
    if poetry:
        tp = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
        main |= _poetry_names(tp.get("dependencies"))
        dev |= _poetry_names(tp.get("dev-dependencies"))
        groups = tp.get("group") if isinstance(tp.get("group"), dict) else {}
        for gname, group in groups.items():
            if isinstance(group, dict):
                names = _poetry_names(group.get("dependencies"))
                (main if gname == "main" else dev).update(names)
    main.discard("python")
    return main, optional - main, dev - main - optional


def _poetry_names(section: object) -> set[str]:
    return {pep503(k) for k in section} if isinstance(section, dict) else set()
