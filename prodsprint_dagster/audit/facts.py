"""What the single pass over the tree collects, before services are assembled from it.

Readers of one kind of file (code, manifests, containers, migrations) only append facts here;
deciding what a service is needs every fact at once, so it happens afterwards (services.py).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from prodsprint_dagster.audit.walk import WalkResult


@dataclass(frozen=True, slots=True)
class PortLink:
    """One link of the port evidence chain: where a port was seen and how."""

    source: str
    port: int
    evidence: tuple[str, ...]


class EnvRef(NamedTuple):
    """One place an environment variable is read or set. A tuple: code readers make tens of
    thousands of these, and workers pickle them back to the parent."""

    name: str
    evidence: str
    origin: str  # code | env_example | compose | dockerfile | k8s | spring
    default: str | None = None
    service: str | None = None  # a compose/k8s service name when the origin names one


@dataclass
class Dockerfile:
    path: str
    dir: str
    base_images: list[str] = field(default_factory=list)
    user: str | None = None
    user_line: str | None = None
    env: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, evidence)
    expose: list[tuple[int, str]] = field(default_factory=list)
    cmd: tuple[str, str] | None = None  # (command, evidence); ENTRYPOINT + CMD joined
    healthcheck: str | None = None
    stages: set[str] = field(default_factory=set)


@dataclass
class ComposeService:
    name: str
    file: str
    evidence: str
    image: str | None = None
    build_context: str | None = None
    dockerfile: str | None = None
    command: tuple[str, str] | None = None
    environment: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    ports: list[tuple[int, str]] = field(default_factory=list)  # container side
    healthcheck: str | None = None


@dataclass
class K8sWorkload:
    kind: str
    name: str
    file: str
    evidence: str
    image: str | None = None
    command: tuple[str, str] | None = None
    env: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    container_ports: list[tuple[int, str]] = field(default_factory=list)
    probe: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Facts:
    walk: WalkResult
    roots: list[str]
    lang_bytes: Counter = field(default_factory=Counter)
    gaps: list[dict] = field(default_factory=list)
    deps: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    manifests: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    frameworks: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    code_ports: dict[str, list[PortLink]] = field(default_factory=lambda: defaultdict(list))
    health: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    start_scripts: dict[str, tuple[str, str]] = field(default_factory=dict)
    code_lang_bytes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    env_refs: list[EnvRef] = field(default_factory=list)
    datastore_hits: list[tuple[str, str, str | None]] = field(default_factory=list)
    dockerfiles: dict[str, Dockerfile] = field(default_factory=dict)
    compose: list[ComposeService] = field(default_factory=list)
    compose_files: list[str] = field(default_factory=list)
    k8s: list[K8sWorkload] = field(default_factory=list)
    k8s_manifests: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    procfile: list[tuple[str, str, str, str]] = field(default_factory=list)  # root,name,cmd,ev
    helm_charts: set[str] = field(default_factory=set)
    terraform_dirs: set[str] = field(default_factory=set)
    migration_files: list[tuple[str, str, str, bool]] = field(default_factory=list)
    migration_dirs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tests: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    ci: list[dict] = field(default_factory=list)
    lockfiles: list[dict] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)
    secrets: list[dict] = field(default_factory=list)
    env_files_committed: list[str] = field(default_factory=list)
    workspaces: dict[str, str] = field(default_factory=dict)  # root -> evidence
    prisma_schemas: list[tuple[str, str, str]] = field(default_factory=list)
    pytest_config: dict[str, str] = field(default_factory=dict)
    py_deps_declared: set[str] = field(default_factory=set)
    go_requires: set[str] = field(default_factory=set)
    py_test_files: dict[str, str] = field(default_factory=dict)
    unittest_roots: dict[str, str] = field(default_factory=dict)
    django_manage: dict[str, str] = field(default_factory=dict)
    test_hits: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, root) -> ev
    owners: dict[str, str] = field(default_factory=dict, repr=False)  # owner() cache

    def record(self) -> dict[str, Any]:
        """The facts gathered so far as plain picklable data, for ``absorb`` in another process.

        Only fields that changed are included; ``walk`` and ``roots`` are the caller's.
        """
        out: dict[str, Any] = {}
        for name, how in MERGE.items():
            value = getattr(self, name)
            if value:
                out[name] = value if how in ("list", "set", "assign", "first") else dict(value)
        return out

    def absorb(self, record: dict[str, Any]) -> None:
        """Add facts another ``Facts`` gathered from later files, as if gathered here.

        Each field merges the way the readers write it (append, ``setdefault``, assignment,
        byte counts), so absorbing per-chunk records in file order gives the same facts, in the
        same order, as reading every file into this object.
        """
        for name, value in record.items():
            how = MERGE[name]
            mine = getattr(self, name)
            if how == "list":
                mine.extend(value)
            elif how in ("set", "assign"):
                mine.update(value)
            elif how == "first":
                for k, v in value.items():
                    mine.setdefault(k, v)
            elif how == "count":
                for k, v in value.items():
                    mine[k] += v
            elif how == "keyed_list":
                for k, v in value.items():
                    mine[k].extend(v)
            elif how == "keyed_set":
                for k, v in value.items():
                    mine[k].update(v)
            elif how == "keyed_first":
                for k, v in value.items():
                    target = mine[k]
                    for k2, v2 in v.items():
                        target.setdefault(k2, v2)
            elif how == "keyed_count":
                for k, v in value.items():
                    target = mine[k]
                    for k2, v2 in v.items():
                        target[k2] += v2
            elif how == "migration_dirs":
                for k, v in value.items():
                    entry = mine.get(k)
                    if entry is None:
                        mine[k] = v
                        continue
                    entry["count"] += v["count"]
                    entry["with_down"] += v["with_down"]
                    entry["evidence"].extend(v["evidence"])
                    entry["without_down"].extend(v["without_down"])

    def owner(self, rel_dir: str) -> str:
        """The deepest candidate service root that contains ``rel_dir``."""
        found = self.owners.get(rel_dir)
        if found is not None:
            return found
        found = "."
        i = bisect.bisect_right(self.roots, rel_dir)
        while i > 0 and rel_dir != ".":
            i -= 1
            r = self.roots[i]
            if r == "." or rel_dir == r or rel_dir.startswith(r + "/"):
                found = r
                break
        self.owners[rel_dir] = found
        return found

    def gap(
        self,
        code: str,
        severity: str,
        message: str,
        remediation: str,
        evidence: list[str] | None = None,
        service: str | None = None,
    ) -> None:
        g: dict[str, Any] = {
            "code": code,
            "severity": severity,
            "message": message,
            "remediation": remediation,
            "evidence": sorted(set(evidence or [])),
        }
        if service is not None:
            g["service"] = service
        self.gaps.append(g)

    def malformed(self, rel: str, kind: str, message: str) -> None:
        self.gap(
            "malformed_file",
            "warning",
            f"{rel}: {kind} does not parse: {message}",
            f"Fix the {kind} syntax in {rel}; facts it would have given are missing.",
            [f"{rel}:1"],
        )


# How each field of ``Facts`` is written while files are read, hence how ``absorb`` merges it:
# list (append), set (add), assign (d[k] = v, last wins), first (setdefault, first wins),
# count (Counter +=), keyed_* (a defaultdict of those), migration_dirs (counters and lists per
# directory). ``walk``, ``roots`` and ``helm_charts`` are set before any file is read.
MERGE: dict[str, str] = {
    "lang_bytes": "count",
    "gaps": "list",
    "deps": "keyed_first",
    "manifests": "keyed_list",
    "frameworks": "keyed_first",
    "code_ports": "keyed_list",
    "health": "keyed_list",
    "start_scripts": "assign",
    "code_lang_bytes": "keyed_count",
    "env_refs": "list",
    "datastore_hits": "list",
    "dockerfiles": "assign",
    "compose": "list",
    "compose_files": "list",
    "k8s": "list",
    "k8s_manifests": "keyed_set",
    "procfile": "list",
    "terraform_dirs": "set",
    "migration_files": "list",
    "migration_dirs": "migration_dirs",
    "tests": "assign",
    "ci": "list",
    "lockfiles": "list",
    "unpinned": "list",
    "secrets": "list",
    "env_files_committed": "list",
    "workspaces": "assign",
    "prisma_schemas": "list",
    "pytest_config": "first",
    "py_deps_declared": "set",
    "go_requires": "set",
    "py_test_files": "first",
    "unittest_roots": "first",
    "django_manage": "first",
    "test_hits": "first",
}
NOT_MERGED = frozenset({"walk", "roots", "helm_charts", "owners"})
