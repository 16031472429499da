"""Milliseconds per readiness decision (Rego evaluation with regopy), pack loaded once.

Two inputs, each evaluated N times under the chosen pack; prints one JSON object with the
median and p95 per input. ``typical``: every gate measured, a handful of findings (a few
vulnerabilities, one error gap, coverage and cost slightly off). ``heavy``: findings in every
gate (60 vulnerabilities, 20 gaps, 10 secrets, 8 plan resources; about 90 findings). The
issue's target is < 20 ms per decision; regopy's cost grows with the number of findings
(roughly 0.2-0.4 ms per denial object), so the heavy case is reported separately.

    python benchmarks/bench_readiness.py [--pack hipaa] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.policy import evaluate_readiness, load_pack


def typical() -> dict:
    doc = heavy()
    doc["vulnerabilities"] = {"findings": doc["vulnerabilities"]["findings"][:6]}
    doc["audit"] = {"gaps": doc["audit"]["gaps"][:3], "secrets": []}
    doc["plan"] = {
        "resources": [r for r in doc["plan"]["resources"] if r["encrypted"]][:2],
        "logging": {"retention_days": 2555},
    }
    doc["approvers"] = ["alice", "bob"]
    return doc


def heavy() -> dict:
    vulns = [
        {"id": f"CVE-2024-{i:04d}", "severity": ("LOW", "MEDIUM", "HIGH", "CRITICAL")[i % 4],
         "package": f"pkg{i}", "version": "1.0.0", "fixed_version": "1.0.1"}
        for i in range(60)
    ]  # fmt: skip
    gaps = [
        {"code": code, "severity": sev, "message": f"{code} found", "remediation": "fix it",
         "service": f"svc{i}"}
        for i, (code, sev) in enumerate(
            [("port_unknown", "error"), ("no_health_endpoint", "warning"), ("no_ci", "warning"),
             ("container_runs_as_root", "warning"), ("committed_secrets", "error")] * 4
        )
    ]  # fmt: skip
    secrets = [
        {"path": f"src/m{i}.py", "line": i + 1, "kind": "Secret Keyword",
         "in_test_or_example": i % 2 == 0}
        for i in range(10)
    ]  # fmt: skip
    resources = [
        {"address": f"aws_db_instance.db{i}", "kind": "database", "encrypted": i % 2 == 0,
         "backup_retention_days": 7 * i, "tags": {"data_classification": "phi"} if i % 3 else {}}
        for i in range(8)
    ]  # fmt: skip
    return {
        "repo": "bench",
        "commit": "f" * 40,
        "tests": {"passed": 480, "failed": 2, "errors": 0, "skipped": 5},
        "coverage": {"percent": 78.4, "patch_percent": 65.0},
        "vulnerabilities": {"findings": vulns},
        "sbom": {"bomFormat": "CycloneDX", "components": [{"name": f"c{i}"} for i in range(300)]},
        "audit": {"gaps": gaps, "secrets": secrets},
        "perf": {"p95_ms": 540, "p99_ms": 900, "error_ratio": 0.004, "baseline": {"p95_ms": 400}},
        "cost": {"monthly_usd": 2400.0, "previous_monthly_usd": 1800.0, "unknown": ["aws_nat"]},
        "risk": {"score": 0.74},
        "plan": {"resources": resources, "logging": {"retention_days": 90}},
        "environment": "prod",
        "approvers": ["alice"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="hipaa", help="default, soc2, hipaa or a pack path")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    start = time.perf_counter()
    pack = load_pack(args.pack)
    load_ms = (time.perf_counter() - start) * 1000
    now = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
    report: dict = {"pack": pack.name, "runs": args.runs, "pack_load_ms": round(load_ms, 2)}
    for name, doc in (("typical", typical()), ("heavy", heavy())):
        evaluate_readiness(doc, pack, now=now)  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = evaluate_readiness(doc, pack, now=now)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        report[name] = {
            "decision_ms_median": round(statistics.median(times), 3),
            "decision_ms_p95": round(p95, 3),
            "decision_ms_max": round(times[-1], 3),
            "findings": sum(len(item["findings"]) for item in result["items"]),
            "blockers": len(result["blockers"]),
        }
    report["target_ms"] = 20
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
