"""Seconds to render the deploy plan of a generated 20-service monorepo audit, per target.

The audit is generated (valid against the audit schema): Python, Node and Go services with
secrets, a Postgres and a Redis. Each target is rendered ``--repeat`` times; the best and the
median wall time are reported. Prints one JSON document.

    python benchmarks/bench_plan.py [--services 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.audit import validate_report
from prodsprint_dagster.plan import TARGETS, estimate_cost, render_plan

LANGS = [("Python", "fastapi", 8000), ("TypeScript", "express", 3000), ("Go", "gin", 8080)]


def generate_audit(n: int) -> dict:
    services, env_vars, tests, locks = [], [], [], []
    for i in range(n):
        lang, framework, port = LANGS[i % 3]
        name, root = f"svc-{i:02d}", f"services/svc-{i:02d}"
        role = "worker" if i % 7 == 6 else "app"
        services.append(
            {
                "name": name,
                "root": root,
                "role": role,
                "language": lang,
                "framework": framework,
                "frameworks": [framework],
                "image": None,
                "dockerfile": f"{root}/Dockerfile",
                "build_context": root,
                "start_command": "serve",
                "port": None if role == "worker" else port,
                "port_source": None if role == "worker" else "code_default",
                "port_evidence": [] if role == "worker" else [f"{root}/main:1"],
                "health_evidence": [f"{root}/main:2"],
                "sources": ["dockerfile"],
                "evidence": [f"{root}/Dockerfile:1"],
            }
        )
        env_vars.append(
            {
                "name": f"SVC_{i:02d}_TOKEN",
                "services": [name],
                "evidence": [f"{root}/main:3"],
                "secret_like": True,
                "default": None,
            }
        )
        env_vars.append(
            {
                "name": f"SVC_{i:02d}_MODE",
                "services": [name],
                "evidence": [f"{root}/main:4"],
                "secret_like": False,
                "default": "fast",
            }
        )
        eco = {"Python": "pypi", "TypeScript": "npm", "Go": "go"}[lang]
        locks.append({"path": f"{root}/lock", "ecosystem": eco, "format": "x", "root": root})
        fw = {"Python": "pytest", "TypeScript": "jest", "Go": "go"}[lang]
        tests.append(
            {"framework": fw, "root": root, "command": "test", "evidence": [f"{root}/t:1"]}
        )
    env_vars.append(
        {
            "name": "DATABASE_URL",
            "services": [s["name"] for s in services],
            "evidence": ["x:1"],
            "secret_like": True,
            "default": None,
        }
    )
    audit = {
        "schema_version": "1.0.0",
        "repo": {"name": "mono", "commit": None, "files": 1000, "bytes": 10**6},
        "languages": [],
        "services": services,
        "datastores": [
            {"engine": "postgres", "service": "db", "evidence": ["compose.yml:1"]},
            {"engine": "redis", "service": "cache", "evidence": ["compose.yml:2"]},
        ],
        "env_vars": sorted(env_vars, key=lambda e: e["name"]),
        "migrations": [],
        "tests": tests,
        "ci": [],
        "lockfiles": locks,
        "infra": {
            "dockerfiles": [],
            "compose": [],
            "kubernetes": [],
            "helm_charts": [],
            "terraform": [],
        },
        "secrets": [],
        "gaps": [],
        "skipped": [],
    }
    validate_report(audit)
    return audit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    audit = generate_audit(args.services)
    out: dict = {"services": args.services, "repeat": args.repeat, "targets": {}}
    for target in TARGETS:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            plan = render_plan(audit, target=target, repo="bench__mono", commit="0" * 40)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        estimate_cost(plan)
        cost_s = time.perf_counter() - start
        out["targets"][target] = {
            "best_s": round(min(times), 4),
            "median_s": round(statistics.median(times), 4),
            "files": len(plan["files"]),
            "resources": len(plan["resources"]),
            "bytes": sum(len(t) for t in plan["files"].values()),
            "cost_estimate_s": round(cost_s, 4),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
