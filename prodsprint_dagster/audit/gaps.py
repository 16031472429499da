"""Gaps: what stands between this repository and a safe, repeatable deploy.

Each gap names the evidence and says what to do, because the person reading the report is
deciding whether the deploy plan can be trusted.
"""

from __future__ import annotations

from prodsprint_dagster.audit.facts import Facts
from prodsprint_dagster.audit.manifests import UNSUPPORTED_LOCKFILES

_NEEDS_LOCK = {
    "package.json": "npm",
    "Pipfile": "pypi",
    "pyproject.toml": "pypi",
    "Gemfile": "rubygems",
    "go.mod": "go",
    "Cargo.toml": "cargo",
    "composer.json": "packagist",
}


def compute(facts: Facts, report: dict) -> None:
    services = report["services"]
    for svc in services:
        name = svc["name"]
        if svc["port"] is None and svc["role"] in ("app", "frontend", "proxy"):
            facts.gap(
                "port_unknown",
                "error",
                f"service {name}: no evidence says which port it listens on",
                "Set PORT in the Dockerfile (ENV PORT=...) or EXPOSE the port the process binds.",
                svc["evidence"],
                name,
            )
        if svc["role"] == "app" and not svc["health_evidence"]:
            facts.gap(
                "no_health_endpoint",
                "warning",
                f"service {name}: no health endpoint, probe or HEALTHCHECK found",
                "Add a cheap GET /health (or /healthz) route; readiness and canaries use it.",
                svc["evidence"],
                name,
            )
        if (
            svc["sources"]
            and set(svc["sources"]) <= {"k8s", "framework", "dockerfile"}
            and ("k8s" in svc["sources"])
        ):
            facts.gap(
                "k8s_only_service",
                "info",
                f"service {name} is defined only in Kubernetes manifests (no compose or Procfile)",
                "Add a compose entry so the service can run locally and in the embedded target.",
                svc["evidence"],
                name,
            )
        if svc["root"] is None and not svc["image"]:
            facts.gap(
                "service_source_unknown",
                "warning",
                f"service {name}: no directory of this repository builds it",
                "Point the compose build context or the Kubernetes image at a directory here.",
                svc["evidence"],
                name,
            )
        cands = svc["port_candidates"]
        port = svc["port"]
        compose_ports = [
            c for c in cands if c["source"] in ("compose_command", "compose_environment")
        ]
        code_ports = [c for c in cands if c["source"] in ("code_default", "start_command")]
        if (
            port is not None
            and compose_ports
            and code_ports
            and compose_ports[0]["port"] != code_ports[0]["port"]
        ):
            facts.gap(
                "compose_port_mismatch",
                "warning",
                f"service {name}: compose says port {compose_ports[0]['port']} but the code "
                f"defaults to {code_ports[0]['port']}",
                "Make the compose command/environment and the code agree.",
                compose_ports[0]["evidence"] + code_ports[0]["evidence"],
                name,
            )
        expose = [c for c in cands if c["source"] == "dockerfile_expose"]
        if port is not None and expose and expose[0]["port"] != port:
            facts.gap(
                "expose_mismatch",
                "warning",
                f"service {name}: Dockerfile EXPOSE {expose[0]['port']} but it listens on {port}",
                "EXPOSE the port the process binds; probes and generated manifests read it.",
                expose[0]["evidence"] + svc["port_evidence"],
                name,
            )
    for cs in facts.compose:
        published = {p for p, _ in cs.ports}
        svc = next((s for s in services if s["name"] == cs.name), None)
        if svc and svc["port"] and published and svc["port"] not in published:
            facts.gap(
                "compose_port_mismatch",
                "error",
                f"service {cs.name}: compose maps container port(s) {sorted(published)} but the "
                f"process listens on {svc['port']} ({svc['port_source']})",
                "Map the container side of `ports:` to the port the process listens on.",
                [e for _, e in cs.ports] + svc["port_evidence"],
                cs.name,
            )
    for df in facts.dockerfiles.values():
        if df.user in (None, "root", "0"):
            facts.gap(
                "container_runs_as_root",
                "warning",
                f"{df.path}: the final image runs as root (no USER, or USER root)",
                "Add a non-root user (RUN useradd ...; USER app) before CMD.",
                [df.user_line or f"{df.path}:1"],
            )
        for img in df.base_images:
            if (
                img
                and ":" not in img.split("/")[-1]
                and "@" not in img
                and img.lower() != "scratch"
            ):
                if img.lower() in df.stages:
                    continue
                facts.gap(
                    "unpinned_base_image",
                    "info",
                    f"{df.path}: base image {img} has no tag or digest",
                    "Pin the base image to a tag (better: a digest) for repeatable builds.",
                    [f"{df.path}:1"],
                )
    if not report["tests"]:
        facts.gap(
            "no_tests",
            "error",
            "no test suite found",
            "Add tests and a test command; the release gates need a passing suite.",
        )
    if not report["ci"]:
        facts.gap(
            "no_ci",
            "warning",
            "no CI configuration found",
            "Add a CI workflow (e.g. .github/workflows/ci.yml) that runs the tests on every push.",
        )
    locked = {(lf["root"], lf["ecosystem"]) for lf in facts.lockfiles}
    for lf in facts.lockfiles:
        if lf["path"].rsplit("/", 1)[-1] in UNSUPPORTED_LOCKFILES:
            facts.gap(
                "unsupported_lockfile",
                "warning",
                f"{lf['path']}: {lf['format']} lockfile cannot be read for SBOM and CVE scans",
                "Also commit a supported lockfile (package-lock.json, pnpm-lock.yaml, yarn.lock).",
                [f"{lf['path']}:1"],
            )
    for root, manifests in sorted(facts.manifests.items()):
        for manifest in sorted(set(manifests)):
            eco = _NEEDS_LOCK.get(manifest)
            if eco is None or (manifest == "pyproject.toml" and root not in facts.py_deps_declared):
                continue
            if manifest == "go.mod" and root not in facts.go_requires:
                continue
            if manifest == "package.json" and not facts.deps.get(root):
                continue
            ancestors = _ancestors(root)
            if any((a, eco) in locked for a in ancestors):
                continue
            path = manifest if root == "." else f"{root}/{manifest}"
            facts.gap(
                "no_lockfile",
                "warning",
                f"{path}: dependencies are not locked ({eco})",
                "Commit the lockfile your package manager writes, so builds are reproducible.",
                [f"{path}:1"],
            )
    if facts.unpinned:
        facts.gap(
            "unpinned_dependencies",
            "warning",
            "requirements files with unpinned versions: "
            + ", ".join(sorted({e.rsplit(":", 1)[0] for e in facts.unpinned})),
            "Pin every requirement (==) or compile a lock with pip-tools/uv.",
            facts.unpinned,
        )
    real = [s for s in report["secrets"] if not s["in_test_or_example"]]
    if report["secrets"]:
        facts.gap(
            "committed_secrets",
            "error" if real else "warning",
            f"{len(report['secrets'])} plaintext secret(s) committed "
            f"({len(real)} outside tests and examples)",
            "Revoke and rotate each secret, remove it from the tree and its history, and load it "
            "from the environment or a secret manager.",
            [f"{s['path']}:{s['line']}" for s in report["secrets"]][:50],
        )
    for path in facts.env_files_committed:
        facts.gap(
            "env_file_committed",
            "warning",
            f"{path}: a .env file is committed",
            "Commit a .env.example with placeholders instead and add .env to .gitignore.",
            [f"{path}:1"],
        )
    for mig in report["migrations"]:
        if not mig["has_down"]:
            facts.gap(
                "migrations_without_down",
                "warning",
                f"{mig['tool']} migrations in {mig['path']}: {mig['count'] - mig['with_down']} of "
                f"{mig['count']} have no down/rollback step",
                "Write down steps (or an expand/contract plan) so a release can be rolled back.",
                mig["without_down"] or mig["evidence"],
            )
    if not services:
        facts.gap(
            "no_services",
            "warning",
            "no deployable service found",
            "Add a Dockerfile, a compose file or a web framework dependency to the service root.",
        )
    if facts.walk.truncated:
        facts.gap(
            "tree_truncated",
            "warning",
            "the file limit was reached; the audit covers only part of the tree",
            "Raise max_files or audit a sub-directory.",
        )


def _ancestors(root: str) -> list[str]:
    out = [root]
    while root not in (".", ""):
        root = root.rsplit("/", 1)[0] if "/" in root else "."
        out.append(root)
    return out
