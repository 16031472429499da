"""GitHub Actions workflows, one per stack found by the audit (Python, Node/TypeScript, Go).

Every workflow runs the same gates in the same order, so readiness can read them alike:
lint -> tests with the coverage gate -> SBOM -> SAST -> image build -> Trivy -> cosign signing
-> smoke test -> deploy through ProdSprint (plan + readiness; the release itself is driven by
ProdSprint's sensors after approval, so CI never holds cloud credentials for traffic shifts).
Third-party actions are pinned to release tags; pin them to commit SHAs in regulated setups.
Repository-derived values (paths, service names, commands) only ever reach ``run:`` through
``env:``/matrix values that are validated here, never as raw shell text from the audit.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from prodsprint_dagster.plan.model import PlanError, slug

COVERAGE_MIN = "80"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")

STACKS = {
    "python": {"languages": {"Python"}, "ecosystems": {"pypi"}, "tests": {"pytest", "unittest"}},
    "node": {
        "languages": {"JavaScript", "TypeScript"},
        "ecosystems": {"npm"},
        "tests": {"jest", "vitest", "mocha", "ava", "node:test", "playwright"},
    },
    "go": {"languages": {"Go"}, "ecosystems": {"go"}, "tests": {"go test", "go"}},
}


def _stack_of(language: str | None) -> str | None:
    for name, spec in STACKS.items():
        if language in spec["languages"]:
            return name
    return None


def _safe(path: str | None) -> str:
    path = path or "."
    if not _SAFE_PATH.match(path) or ".." in path.split("/"):
        raise PlanError(f"path {path!r} from the audit is not usable in a workflow")
    return path


def detect_stacks(audit: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stack -> its roots, test frameworks and buildable services."""
    found: dict[str, dict[str, Any]] = {}

    def entry(stack: str) -> dict[str, Any]:
        return found.setdefault(stack, {"roots": set(), "tests": set(), "services": []})

    for svc in audit.get("services") or []:
        stack = _stack_of(svc.get("language"))
        if stack and svc.get("root") is not None:
            e = entry(stack)
            e["roots"].add(_safe(svc["root"]))
            if svc.get("dockerfile") and svc.get("role") in ("app", "frontend", "worker"):
                e["services"].append(svc)
    for lock in audit.get("lockfiles") or []:
        for stack, spec in STACKS.items():
            if lock.get("ecosystem") in spec["ecosystems"]:
                entry(stack)["roots"].add(_safe(lock.get("root") or "."))
    for test in audit.get("tests") or []:
        for stack, spec in STACKS.items():
            if test.get("framework") in spec["tests"]:
                e = entry(stack)
                e["roots"].add(_safe(test.get("root") or "."))
                e["tests"].add(test["framework"])
    return found


def _checkout() -> dict[str, Any]:
    return {"uses": "actions/checkout@v4"}


def _setup(stack: str) -> list[dict[str, Any]]:
    if stack == "python":
        return [
            _checkout(),
            {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
            {
                "name": "Install dependencies",
                "working-directory": "${{ matrix.root }}",
                "run": (
                    "python -m pip install --upgrade pip\n"
                    "if [ -f requirements.txt ]; then pip install -r requirements.txt; fi\n"
                    "if [ -f requirements-dev.txt ]; then pip install -r requirements-dev.txt; fi\n"
                    "if [ -f pyproject.toml ]; then\n"
                    "  pip install -e '.[dev]' || pip install -e .\n"
                    "fi\n"
                    "pip install ruff pytest pytest-cov bandit"
                ),
            },
        ]
    if stack == "node":
        return [
            _checkout(),
            {"uses": "actions/setup-node@v4", "with": {"node-version": "20"}},
            {
                "name": "Install dependencies",
                "working-directory": "${{ matrix.root }}",
                "run": "if [ -f package-lock.json ]; then npm ci; else npm install; fi",
            },
        ]
    return [
        _checkout(),
        {
            "uses": "actions/setup-go@v5",
            "with": {"go-version": "stable", "cache-dependency-path": "${{ matrix.root }}/go.sum"},
        },
    ]


def _lint(stack: str) -> str:
    return {
        "python": "ruff check .",
        "node": "npx --no-install eslint . || npx eslint@9 .",
        "go": 'test -z "$(gofmt -l .)"\ngo vet ./...',
    }[stack]


def _tests(stack: str, frameworks: set[str]) -> str:
    if stack == "python":
        return f"pytest --cov=. --cov-report=xml --cov-fail-under={COVERAGE_MIN}"
    if stack == "go":
        return (
            "go test ./... -coverprofile=coverage.out\n"
            "total=$(go tool cover -func=coverage.out"
            ' | awk \'/^total:/ {sub("%", "", $3); print $3}\')\n'
            'echo "coverage ${total}%"\n'
            f"awk -v t=\"$total\" 'BEGIN {{ exit !(t >= {COVERAGE_MIN}) }}'"
        )
    if "jest" in frameworks:
        return (
            "npx jest --ci --coverage "
            f'--coverageThreshold=\'{{"global":{{"lines":{COVERAGE_MIN}}}}}\''
        )
    if "vitest" in frameworks:
        return f"npx vitest run --coverage --coverage.thresholds.lines={COVERAGE_MIN}"
    return f"npx c8 --check-coverage --lines {COVERAGE_MIN} npm test"


def _sast(stack: str) -> list[dict[str, Any]]:
    if stack == "python":
        run = "bandit -r . -x ./tests,./.venv -ll"
    elif stack == "node":
        run = "npm audit --audit-level=high --omit=dev"
    else:
        run = "go install github.com/securego/gosec/v2/cmd/gosec@latest\ngosec ./..."
    return [{"name": "SAST", "working-directory": "${{ matrix.root }}", "run": run}]


def _matrix(roots: list[str]) -> dict[str, Any]:
    return {"fail-fast": False, "matrix": {"root": roots}}


def _workflow(stack: str, info: dict[str, Any], repo: str) -> dict[str, Any]:
    roots = sorted(info["roots"])
    services = sorted(info["services"], key=lambda s: s["name"])
    image_matrix = [
        {
            "name": slug(s["name"]),
            "context": _safe(s.get("build_context") or s.get("root")),
            "dockerfile": _safe(s["dockerfile"]),
            "port": int(s.get("port") or 0),
        }
        for s in services
    ]
    jobs: dict[str, Any] = {
        "lint": {
            "runs-on": "ubuntu-latest",
            "strategy": _matrix(roots),
            "steps": [
                *_setup(stack),
                {"name": "Lint", "working-directory": "${{ matrix.root }}", "run": _lint(stack)},
            ],
        },
        "test": {
            "runs-on": "ubuntu-latest",
            "strategy": _matrix(roots),
            "steps": [
                *_setup(stack),
                {
                    "name": f"Tests with the coverage gate ({COVERAGE_MIN}%)",
                    "working-directory": "${{ matrix.root }}",
                    "run": _tests(stack, info["tests"]),
                },
            ],
        },
        "sast": {
            "runs-on": "ubuntu-latest",
            "strategy": _matrix(roots),
            "steps": [*_setup(stack), *_sast(stack)],
        },
        "sbom": {
            "runs-on": "ubuntu-latest",
            "steps": [
                _checkout(),
                {
                    "name": "SBOM (CycloneDX)",
                    "uses": "anchore/sbom-action@v0",
                    "with": {
                        "path": ".",
                        "format": "cyclonedx-json",
                        "output-file": f"sbom-{stack}.cdx.json",
                        "artifact-name": f"sbom-{stack}.cdx.json",
                    },
                },
            ],
        },
    }
    deploy_needs = ["lint", "test", "sast", "sbom"]
    if image_matrix:
        image = "ghcr.io/${{ github.repository }}/${{ matrix.service.name }}"
        jobs["image"] = {
            "needs": ["lint", "test", "sast"],
            "runs-on": "ubuntu-latest",
            "permissions": {"contents": "read", "packages": "write", "id-token": "write"},
            "strategy": {"fail-fast": False, "matrix": {"service": image_matrix}},
            "env": {"IMAGE": image},
            "steps": [
                _checkout(),
                {"uses": "docker/setup-buildx-action@v3"},
                {
                    "uses": "docker/login-action@v3",
                    "with": {
                        "registry": "ghcr.io",
                        "username": "${{ github.actor }}",
                        "password": "${{ secrets.GITHUB_TOKEN }}",
                    },
                },
                {
                    "name": "Build image",
                    "id": "build",
                    "uses": "docker/build-push-action@v6",
                    "with": {
                        "context": "${{ matrix.service.context }}",
                        "file": "${{ matrix.service.dockerfile }}",
                        "load": True,
                        "tags": "${{ env.IMAGE }}:${{ github.sha }}",
                    },
                },
                {
                    "name": "Trivy scan",
                    "uses": "aquasecurity/trivy-action@0.28.0",
                    "with": {
                        "image-ref": "${{ env.IMAGE }}:${{ github.sha }}",
                        "severity": "HIGH,CRITICAL",
                        "ignore-unfixed": True,
                        "exit-code": "1",
                    },
                },
                {
                    "name": "Smoke test",
                    "if": "matrix.service.port != 0",
                    "env": {"PORT": "${{ matrix.service.port }}"},
                    "run": (
                        'docker run -d --name smoke -e PORT="$PORT" -p "8080:$PORT" '
                        '"$IMAGE:$GITHUB_SHA"\n'
                        "curl --fail --silent --show-error --retry 15 --retry-delay 2 "
                        "--retry-all-errors http://localhost:8080/health\n"
                        "docker rm -f smoke"
                    ),
                },
                {
                    "name": "Push image",
                    "if": "github.event_name == 'push'",
                    "id": "push",
                    "uses": "docker/build-push-action@v6",
                    "with": {
                        "context": "${{ matrix.service.context }}",
                        "file": "${{ matrix.service.dockerfile }}",
                        "push": True,
                        "tags": "${{ env.IMAGE }}:${{ github.sha }}",
                    },
                },
                {"uses": "sigstore/cosign-installer@v3", "if": "github.event_name == 'push'"},
                {
                    "name": "Sign image (keyless)",
                    "if": "github.event_name == 'push'",
                    "env": {"DIGEST": "${{ steps.push.outputs.digest }}"},
                    "run": 'cosign sign --yes "$IMAGE@$DIGEST"',
                },
            ],
        }
        deploy_needs.append("image")
    jobs["deploy"] = {
        "needs": deploy_needs,
        "if": "github.event_name == 'push' && github.ref == 'refs/heads/main'",
        "runs-on": "ubuntu-latest",
        "environment": "production",
        "env": {
            "PRODSPRINT_REPO": repo,
            "PRODSPRINT_CONFIG": "${{ secrets.PRODSPRINT_CONFIG }}",
        },
        "steps": [
            _checkout(),
            {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
            {"name": "Install ProdSprint", "run": "pip install prodsprint-dagster"},
            {
                "name": "Deploy through ProdSprint",
                "run": (
                    'prodsprint plan . --target "${PRODSPRINT_TARGET:-aws}" --json > plan.json\n'
                    'prodsprint readiness "$PRODSPRINT_REPO" --json'
                ),
            },
        ],
    }
    return {
        "name": f"prodsprint {stack}",
        "on": {
            "push": {"branches": ["main"]},
            "pull_request": {},
            "workflow_dispatch": {},
        },
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": f"prodsprint-{stack}-${{{{ github.ref }}}}",
            "cancel-in-progress": True,
        },
        "env": {"COVERAGE_MIN": COVERAGE_MIN},
        "jobs": jobs,
    }


def render_workflows(audit: dict[str, Any], *, repo: str) -> dict[str, str]:
    """``.github/workflows/prodsprint-<stack>.yml`` -> YAML text, one per stack found."""
    if not isinstance(audit, dict):
        raise PlanError("audit report must be a JSON object")
    out = {}
    for stack, info in sorted(detect_stacks(audit).items()):
        doc = _workflow(stack, info, repo)
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
        out[f".github/workflows/prodsprint-{stack}.yml"] = (
            "# Rendered by ProdSprint from the audit report; edit the plan, not this file.\n" + text
        )
    return out
