"""perf_baseline and its blocking check, materialized like the readiness chain does."""

import dagster as dg
import yaml
from perf_helpers import use_venv_python, write_service

from assets import audit_report, repo_snapshot
from assets.perf import CHECK_WITHIN_BUDGET, perf_baseline
from prodsprint_dagster.registry import add_repo
from tests.conftest import run_git


def _pack(tmp_path):
    """The default pack with a short load, so the test runs in seconds."""
    directory = tmp_path / "quick-perf"
    directory.mkdir()
    manifest = {"name": "quick-perf", "version": "0.0.1", "description": "short perf runs",
                "extends": "default",
                "settings": {"perf_rate": 120, "perf_duration_seconds": 1.5}}  # fmt: skip
    (directory / "pack.yaml").write_text(yaml.safe_dump(manifest))
    return str(directory)


def _materialize(instance, resources):
    return dg.materialize(
        [repo_snapshot, audit_report, perf_baseline], instance=instance, resources=resources(),
        partition_key="svc", raise_on_error=False,
    )  # fmt: skip


def test_the_asset_measures_and_its_blocking_check_gates(
    project, resources, make_repo, monkeypatch, tmp_path
):
    use_venv_python(monkeypatch)
    repo = make_repo("svc", commits=0)
    write_service(repo.path, slow_ms=20, boom=204)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "service")
    add_repo(project, "svc", str(repo.path), policy_pack=_pack(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["svc"])

    result = _materialize(instance, resources)
    assert result.success
    doc = result.output_for_node("perf_baseline")
    assert doc["commit"] == repo.head() and doc["measured"]
    meta = result.asset_materializations_for_node("perf_baseline")[0].metadata
    assert meta["p95_ms"].value == doc["metrics"]["p95_ms"] > 0
    assert meta["error_pct"].value == 0.0
    rows = {r.data["route"]: r.data for r in meta["routes"].value.records}
    assert float(rows["/slow"]["p50_ms"]) >= 20 and rows["/boom"]["error_pct"] == "0.0"
    assert meta["baseline"].value.startswith("none yet")
    assert "web.k6.js" in meta["k6_scripts"].value
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == CHECK_WITHIN_BUDGET]  # fmt: skip
    assert check.passed and check.metadata["status"].value == "pass"

    # /boom now fails every time: the error budget is blown and the blocking check fails.
    write_service(repo.path, slow_ms=20, boom=503)
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-am", "break /boom")
    broken = _materialize(instance, resources)
    doc = broken.output_for_node("perf_baseline")
    assert {r["route"]: r["error_ratio"] for r in doc["routes"]}["/boom"] == 1.0
    [check] = [c for c in broken.get_asset_check_evaluations()
               if c.check_name == CHECK_WITHIN_BUDGET]  # fmt: skip
    assert not check.passed and check.metadata["status"].value == "fail"
    assert "error_ratio" in check.metadata["findings"].value
