"""deploy_plan -> readiness -> approve_release_job on real repositories, and the CLI."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from assets import ALL_ASSETS
from jobs import approve_release_job
from prodsprint_dagster.cli import main
from prodsprint_dagster.config import load_config
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.policy import ApprovalRefused
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.stages import StageContext, approve_release
from tests.conftest import run_git

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop-api"
LEAK = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"


def import_example(make_repo, name: str, leak: bool = False):
    repo = make_repo(name, commits=0)
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    if leak:
        (repo.path / "deploy.env").write_text("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n" + LEAK)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "import")
    return repo


def materialize_chain(project, resources, make_repo, name, leak=False, target="local"):
    repo = import_example(make_repo, name, leak)
    add_repo(project, name, str(repo.path), target=target)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", [name])
    result = dg.materialize(ALL_ASSETS, instance=instance, resources=resources(),
                            partition_key=name)  # fmt: skip
    assert result.success
    return repo, instance, result


def approve_job(instance, resources, **config):
    return approve_release_job.execute_in_process(
        instance=instance, resources=resources(), raise_on_error=False,
        run_config={"ops": {"approve_release_op": {"config": config}}},
    )  # fmt: skip


def test_the_chain_plans_decides_and_approves(project, resources, make_repo):
    repo, instance, result = materialize_chain(project, resources, make_repo, "shop",
                                               target="aws")  # fmt: skip
    plan = result.output_for_node("deploy_plan")
    assert plan["target"] == "aws" and plan["commit"] == repo.head()
    assert plan["cost"]["monthly_total"] > 0
    assert plan["previous_commit"] is None  # nothing approved yet: everything is added
    assert len(plan["diff"]["summary"]["added"]) == len(plan["plan"]["resources"])
    meta = result.asset_materializations_for_node("deploy_plan")[0].metadata
    assert meta["monthly_cost_usd"].value == pytest.approx(plan["cost"]["monthly_total"])
    assert "```diff" in meta["diff"].value and "| risk | where | note |" in meta["plan"].value

    # The plan branch is in ProdSprint's mirror; the user's repository is untouched.
    branch = plan["delivery"]["branch"]
    assert branch == f"prodsprint/plan-{repo.head()[:12]}"
    assert run_git(repo.path, "branch", "--list", branch) == ""
    cfg = load_config(project)
    mirror = cfg.git_path / "mirrors" / "shop.git"
    files = run_git(mirror, "ls-tree", "-r", "--name-only", branch).split()
    assert {"terraform/aws/ecs.tf", ".github/workflows/prodsprint-python.yml"} <= set(files)

    decision = result.output_for_node("readiness")
    assert decision["verdict"] == "ready"
    statuses = {i["gate"]: i["status"] for i in decision["items"]}
    assert statuses["sbom"] == "pass"
    assert statuses["vulnerabilities"] == "not_measured"  # no OSV source: never a silent pass
    assert statuses["secrets"] == "pass" and statuses["audit"] == "pass"
    [check] = [c for c in result.get_asset_check_evaluations() if c.asset_key.path == ["readiness"]]
    assert check.passed

    approval = approve_job(instance, resources, repo="shop", approver="alice", reason="ok")
    assert approval.success
    log = CliRunner().invoke(main, ["audit-log", "--repo", "shop", "--json"])
    assert "release.approve" in [r["action"] for r in json.loads(log.stdout)["rows"]]

    # The next plan of the same commit diffs against the approved one: nothing changes.
    again = dg.materialize(ALL_ASSETS, instance=instance, resources=resources(),
                           partition_key="shop")  # fmt: skip
    replan = again.output_for_node("deploy_plan")
    assert replan["previous_commit"] == repo.head()
    assert replan["diff"]["summary"] == {"added": [], "changed": [], "destroyed": []}


def test_approval_refused_with_a_blocker_then_accepted_with_a_waiver(project, resources, make_repo):
    _, instance, result = materialize_chain(project, resources, make_repo, "leaky", leak=True)
    decision = result.output_for_node("readiness")
    assert decision["verdict"] == "blocked" and "secrets" in decision["blockers"]
    [check] = [c for c in result.get_asset_check_evaluations() if c.asset_key.path == ["readiness"]]
    assert not check.passed

    refused = approve_job(instance, resources, repo="leaky", approver="alice", reason="ship")
    assert not refused.success
    failure = refused.failure_data_for_node("approve_release_op")
    assert "secrets" in failure.user_failure_data.description

    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    waived = approve_job(
        instance, resources, repo="leaky", approver="alice", reason="ship with rotation",
        waivers=[{"gate": "secrets", "reason": "keys rotated", "ticket": "SEC-42",
                  "expires": expires}],
    )  # fmt: skip
    assert waived.success
    assert waived.output_for_node("approve_release_op")["waivers_added"][0]["ticket"] == "SEC-42"


def test_an_expired_waiver_does_not_apply(project, resources, make_repo):
    materialize_chain(project, resources, make_repo, "leaky", leak=True)
    cfg = load_config(project)
    now = datetime.now(UTC)
    ctx = StageContext.from_config(cfg, "leaky", clock=lambda: now)
    waiver = {"gate": "secrets", "reason": "rotating", "ticket": "SEC-1",
              "expires": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
    assert approve_release(ctx, approver="bob", reason="ok", waivers=[waiver])["approver"] == "bob"
    later = StageContext.from_config(cfg, "leaky", clock=lambda: now + timedelta(hours=2))
    with pytest.raises(ApprovalRefused) as info:
        approve_release(later, approver="bob", reason="again")
    assert "secrets" in info.value.blockers


def test_cli_plan_readiness_and_approve(project, resources, make_repo, tmp_path):
    runner = CliRunner()
    for target in ("aws", "kubernetes", "local"):
        result = runner.invoke(main, ["plan", str(EXAMPLE), "--target", target, "--json",
                                      "--out", str(tmp_path / target)])  # fmt: skip
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["services"] == ["shop-api"]
        assert all((tmp_path / target / f).is_file() for f in doc["files"])
    bad = runner.invoke(main, ["plan", str(EXAMPLE), "--target", "mars", "--json"])
    assert bad.exit_code == 2  # click refuses an unknown target with the valid choices

    materialize_chain(project, resources, make_repo, "leaky", leak=True)
    blocked = runner.invoke(main, ["readiness", "leaky", "--json"])
    assert blocked.exit_code == 1
    assert json.loads(blocked.stdout)["blockers"] == ["secrets"]
    refused = runner.invoke(main, ["approve", "leaky", "--approver", "a", "--reason", "r",
                                   "--json"])  # fmt: skip
    assert refused.exit_code == 1 and "secrets" in json.loads(refused.stdout)["error"]
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ok = runner.invoke(main, ["approve", "leaky", "--approver", "a", "--reason", "r", "--json",
                              "--waive", f"gate=secrets,reason=rotated,ticket=SEC-9,"
                              f"expires={expires}"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    listed = json.loads(runner.invoke(main, ["waivers", "list", "leaky", "--json"]).stdout)
    assert [w["ticket"] for w in listed["waivers"]] == ["SEC-9"]


def test_no_snapshot_yet_is_a_clear_error(project, make_repo):
    repo = make_repo("fresh")
    add_repo(project, "fresh", str(repo.path))
    with pytest.raises(ProdSprintError, match="no snapshot yet"):
        StageContext.from_config(load_config(project), "fresh").latest_commit()


def test_a_service_without_tests_gets_smoke_tests_in_the_plan_branch(project, resources, make_repo):
    from assets import audit_report, deploy_plan, repo_snapshot

    repo = make_repo("bare", commits=0)
    repo.commit("requirements.txt", "flask==3.0.3\ngunicorn==22.0.0\n")
    repo.commit("app.py", "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n"
                "@app.get('/health')\ndef health():\n    return 'ok'\n\n\n"
                "@app.get('/orders')\ndef orders():\n    return '[]'\n")  # fmt: skip
    repo.commit("Procfile", "web: gunicorn --bind 0.0.0.0:$PORT app:app\n")
    add_repo(project, "bare", str(repo.path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["bare"])
    result = dg.materialize([repo_snapshot, audit_report, deploy_plan], instance=instance,
                            resources=resources(), partition_key="bare")  # fmt: skip
    plan = result.output_for_node("deploy_plan")
    [smoke] = [f for f in plan["smoke_tests"] if f.endswith(".py")]
    mirror = load_config(project).git_path / "mirrors" / "bare.git"
    text = run_git(mirror, "show", f"{plan['delivery']['branch']}:{smoke}")
    assert "/orders" in text and "/health" in text
