"""`prodsprint demo --json` end to end, in a fresh project directory, twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

PRODSPRINT = Path(sys.executable).with_name("prodsprint")


def run(args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODSPRINT_", "DAGSTER_"))}
    return subprocess.run(
        [str(PRODSPRINT), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def test_demo_reaches_the_snapshot_stage_and_reruns(tmp_path):
    first = run(["demo", "--json"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout)
    stages = summary["stages"]
    gates = {k: stages.pop(k) for k in ("sbom", "vulnerabilities", "coverage", "perf", "history",
                                        "risk")}  # fmt: skip
    assert stages == {
        "snapshot": "ok", "audit": "ok", "plan": "ok", "readiness": "ready", "approve": "approved",
        "apply": "ok", "staging": "ok", "canary": "passed", "prod": "promoted",
    }  # fmt: skip
    # The gate stages say what they found: the example pins requests 2.31.0, which the bundled
    # OSV fixture database knows a MEDIUM advisory for (warned, not blocking).
    assert gates["sbom"] == "7 components (CycloneDX 1.6)"
    assert gates["vulnerabilities"] == "MEDIUM CVE-2024-35195 in requests 2.31.0"
    assert summary["coverage"]["percent"] >= 80 and summary["coverage"]["tests"]["failed"] == 0
    assert "tests passed" in gates["coverage"]
    assert summary["perf"]["metrics"]["p95_ms"] > 0 and gates["perf"].startswith("p95 ")
    # A risk score with its explanation; the demo pack puts it in the medium band.
    risk = summary["risk"]
    assert 0 < risk["score"] < 1 and risk["band"] == "medium" and risk["top_features"]
    assert risk["rollout"] == [1, 5, 25, 100] and "top features" in gates["risk"]
    # Attempts, in order; a step may be retried (more data) before it passes.
    weights = [w for _, w, _ in summary["release"]["steps"]]
    assert list(dict.fromkeys(weights)) == [1, 5, 25, 100]
    assert summary["release"]["steps"][-1][2] == "passed"
    bad = summary["bad_change"]
    # The perf gate blocks the bad change before release; waived for the demo, the canary
    # judge catches it again in production traffic and rolls it back.
    assert bad["blocked_before_release_by"] == ["perf_within_budget"]
    assert bad["rolled_back"] is True and bad["failed_step"] is not None
    assert bad["rollback_seconds"] < 5
    assert summary["plan"]["rollout"] == [1, 5, 25, 100]  # medium risk until risk is scored
    assert not subprocess.run(["pgrep", "-f", summary["repo_path"]], capture_output=True).stdout
    assert summary["readiness"]["not_measured"] == []
    assert summary["repo"] == "demo__shop-api"
    assert len(summary["commit"]) == 40

    # The example is a real repository with a multi-author history.
    log = subprocess.run(
        ["git", "-C", summary["repo_path"], "log", "--format=%an"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert len([a for a in log if a]) >= 5 and len(set(log) - {""}) >= 3

    again = run(["demo", "--json", "--no-release"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["commit"] == summary["commit"]

    # The persistent instance (the one `make dev` serves) holds the partition and the runs.
    instance = dg.DagsterInstance.from_config(summary["dagster_home"])
    assert instance.get_dynamic_partitions("repos") == ["demo__shop-api"]
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("repo_snapshot"),
                              asset_partitions=["demo__shop-api"]), limit=10,
    ).records  # fmt: skip
    assert len(records) == 4  # base, good and bad change, then the re-run's base

    audit = json.loads(
        (tmp_path / ".prodsprint" / "artifacts" / "demo__shop-api" / summary["commit"]
         / "audit.json").read_text()
    )  # fmt: skip
    assert [(s["framework"], s["port"]) for s in audit["services"]] == [("flask", 8000)]

    status = json.loads(run(["status", "--json"], tmp_path).stdout)
    [row] = status["repos"]
    assert row["materializations"]["repo_snapshot"]["commit"] == summary["commit"]
    assert row["materializations"]["audit_report"]["commit"] == summary["commit"]

    log_rows = json.loads(run(["audit-log", "--json"], tmp_path).stdout)["rows"]
    assert [r["action"] for r in log_rows].count("repo.register") == 1  # re-run: no duplicate
    assert [r["action"] for r in log_rows].count("repo.snapshot") == 4
    assert [r["action"] for r in log_rows].count("release.rolled_back") == 1
    assert "incident.recorded" in [r["action"] for r in log_rows]
