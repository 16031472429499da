"""What the single pass over the tree collects, before services are assembled from it.

Readers of one kind of file (code, manifests, containers, migrations) only append facts here;
deciding what a service is needs every fact at once, so it happens afterwards (services.py).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from prodsprint_dagster.audit.walk import WalkResult


@dataclass(frozen=True, slots=True)
class PortLink:
    """One link of the port evidence chain: where a port was seen and how."""

    source: str
    port: int
    evidence: tuple[str, ...]


@dataclass(slots=True)
class EnvRef:
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

    def owner(self, rel_dir: str) -> str:
        """The deepest candidate service root that contains ``rel_dir``."""
        if rel_dir == ".":
            return "."
        i = bisect.bisect_right(self.roots, rel_dir)
        while i > 0:
            i -= 1
            r = self.roots[i]
            if r == "." or rel_dir == r or rel_dir.startswith(r + "/"):
                return r
        return "."

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
