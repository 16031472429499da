"""The code location loads and validates the way `dagster dev` and `dg` load it."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")


def run_dg_check(config: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRODSPRINT_CONFIG": str(config), "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run(
        [str(DG), "check", "defs", "--use-active-venv"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_dg_check_defs_passes(project, make_repo, tmp_path):
    repo = make_repo("shop")
    project.write_text(f"home: home\nrepos:\n  - name: shop\n    url: {repo.path}\n")
    proc = run_dg_check(project, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully" in proc.stdout + proc.stderr


def test_a_broken_config_fails_the_load_naming_the_key(project, tmp_path):
    project.write_text("home: home\nrepos:\n  - name: Bad/Name\n    url: /x\n")
    proc = run_dg_check(project, tmp_path)
    assert proc.returncode != 0
    assert "repos[0].name" in proc.stdout + proc.stderr


def test_the_definitions_object_holds_the_readiness_chain(project):
    from prodsprint_dagster.config import load_config
    from prodsprint_dagster.definitions import build_definitions

    defs = build_definitions(load_config(project))
    job = defs.resolve_job_def("readiness_chain_job")
    assert dg.AssetKey("repo_snapshot") in job.asset_layer.executable_asset_keys
    assert job.partitions_def.name == "repos"
    assert defs.resolve_sensor_def("new_commit_sensor").job_name == "readiness_chain_job"
    assert set(defs.resources) >= {"registry", "git", "history", "artifacts"}
