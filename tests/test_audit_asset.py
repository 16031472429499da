"""audit_report in the readiness chain, its check, and `prodsprint audit`."""

import json
import shutil
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from assets import audit_report, repo_snapshot
from prodsprint_dagster.audit import validate_report
from prodsprint_dagster.cli import main
from prodsprint_dagster.registry import add_repo
from tests.conftest import run_git

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop-api"


def test_snapshot_then_audit_in_one_run(project, resources, make_repo):
    repo = make_repo("shop", commits=0)
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "import shop-api")
    add_repo(project, "shop", str(repo.path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["shop"])

    result = dg.materialize(
        [repo_snapshot, audit_report], instance=instance, resources=resources(),
        partition_key="shop",
    )  # fmt: skip
    assert result.success
    report = result.output_for_node("audit_report")
    validate_report(report)
    assert report["repo"]["commit"] == repo.head()
    [service] = report["services"]
    assert (service["framework"], service["port"]) == ("flask", 8000)

    mat = result.asset_materializations_for_node("audit_report")[0]
    assert mat.metadata["service_count"].value == 1
    assert mat.metadata["error_gaps"].value == 0
    rows = mat.metadata["services"].value.records
    assert rows[0].data["port_source"] == "start_command"
    assert "| severity | gap | message |" in mat.metadata["summary"].value
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "audit_has_no_error_gaps" and check.passed

    stored = project.parent / "home" / "artifacts" / "shop" / repo.head() / "audit.json"
    assert json.loads(stored.read_text()) == report


def test_an_error_gap_fails_the_check_without_blocking(project, resources, make_repo):
    repo = make_repo("leaky", commits=0)
    (repo.path / "app.py").write_text("import os\nprint(os.environ['TOKEN'])\n")
    (repo.path / "deploy.env").write_text(
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "oops")
    add_repo(project, "leaky", str(repo.path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["leaky"])
    result = dg.materialize(
        [repo_snapshot, audit_report], instance=instance, resources=resources(),
        partition_key="leaky",
    )  # fmt: skip
    assert result.success  # non-blocking: the chain goes on
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert "secret" in check.metadata["codes"].value
    text = json.dumps(result.output_for_node("audit_report"))
    assert "wJalrXUtnFEMI" not in text  # the value never reaches the report


def test_cli_audit_json_is_the_report_alone():
    result = CliRunner().invoke(main, ["audit", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    validate_report(report)
    assert [s["name"] for s in report["services"]] == ["shop-api"]


def test_cli_audit_of_a_missing_path_is_a_json_error(tmp_path):
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "nope"), "--json"])
    assert result.exit_code == 1
    assert "nope" in json.loads(result.stdout)["error"]
