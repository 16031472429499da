"""A release driven the way the daemon drives it: release_sensor ticks launching one job each.

The service is a small standard-library HTTP app committed to a real repository; its bad
version returns 10 % 500s and adds 200 ms. Soak and load are shortened in prodsprint.yaml.
"""

import json
import shutil
import time

import dagster as dg
import pytest
import requests

from assets import ALL_ASSETS
from jobs import ALL_JOBS, approve_release_job, start_release_job
from prodsprint_dagster.config import load_config
from prodsprint_dagster.git import GitClient
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.release import ReleaseStore
from prodsprint_dagster.release.local import LocalTarget
from prodsprint_dagster.stages.hotfix import hotfix_branch_name
from prodsprint_dagster.store import HistoryStore
from sensors import release_sensor

SERVICE = '''\
"""A tiny orders service on the standard library."""

import json
import os
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_RATE = {error_rate}
EXTRA_MS = {extra_ms}


class Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            return self._send(200, {{"status": "ok"}})
        time.sleep(EXTRA_MS / 1000)
        if random.random() < ERROR_RATE:
            return self._send(500, {{"error": "boom"}})
        return self._send(200, {{"orders": []}})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''
DOCKERFILE = (
    "FROM python:3.11-slim\nCOPY app.py .\nRUN useradd app\nUSER app\nEXPOSE 8000\n"
    'CMD ["python", "app.py"]\n'
)


FASTLANE = """\
name: fastlane
version: 0.1.0
description: The default gates with canary windows short enough for a test.
extends: default
settings:
  rollout:
    default_band: medium
    analysis: {interval_seconds: 1, min_samples: 10}
    bands:
      low:
        strategy: canary
        steps: [{weight: 50, pause_seconds: 1, analysis: true}, {weight: 100}]
      medium:
        strategy: canary
        steps:
          - {weight: 10, pause_seconds: 1, analysis: true}
          - {weight: 50, pause_seconds: 1, analysis: true}
          - {weight: 100}
      high:
        strategy: canary
        steps: [{weight: 10, pause_seconds: 1, analysis: true}, {weight: 100}]
  # This suite is about the canary judge: the pre-release gates that would stop the bad change
  # first (perf) or that the one-function service cannot meet (coverage) are loosened here;
  # tests/quality exercises them.
  coverage_min: 0
  patch_coverage_min: 0
  sbom_min_components: 0  # a standard-library service locks nothing
  risk_band_thresholds: {medium: 0.0, high: 0.99}  # every change takes the 3-step medium plan
  perf_rate: 20
  perf_duration_seconds: 2
  perf_budgets: {p95_ms: 5000, error_ratio: 0.5}
  perf_max_regression_pct: 100000
  perf_max_error_increase: 1.0
"""


@pytest.fixture
def service_repo(project, make_repo):
    pack = project.parent / "packs" / "fastlane"
    pack.mkdir(parents=True)
    (pack / "pack.yaml").write_text(FASTLANE)
    project.write_text(
        "home: home\npolicy:\n  pack_dirs: [packs]\n"
        "release:\n  soak_seconds: 1.5\n  load_rps: 200\n"
        "  canary_judge:\n    min_samples: 10\n    min_latency_samples: 10\nrepos: []\n"
    )
    repo = make_repo("orders", commits=0)
    repo.commit("Dockerfile", DOCKERFILE, "container")
    repo.commit(
        "tests/test_app.py",
        # The unit test knows nothing of the bad change's failures: the canary must catch it.
        "import app\n\n\ndef test_rate():\n    assert 0 <= app.ERROR_RATE <= 1\n",
        "tests",
    )
    repo.commit("app.py", SERVICE.format(error_rate=0.0, extra_ms=0), "orders service")
    add_repo(project, "orders", str(repo.path), policy_pack="fastlane")
    home = load_config(project).home_path
    yield repo
    for env in ("staging", "prod"):
        if (home / "targets" / env).exists():
            LocalTarget(home / "targets" / env, env).stop()
    shutil.rmtree(home / "targets", ignore_errors=True)


def build_and_approve(instance, resources, commit):
    chain = dg.materialize(ALL_ASSETS, instance=instance, resources=resources(),
                           partition_key="orders")  # fmt: skip
    decision = chain.output_for_node("readiness")
    assert chain.success and decision["verdict"] == "ready", decision["blockers"]
    approval = approve_release_job.execute_in_process(
        instance=instance, resources=resources(),
        run_config={"ops": {"approve_release_op": {"config": {
            "repo": "orders", "commit": commit, "approver": "alice", "reason": "test"}}}},
    )  # fmt: skip
    assert approval.success
    started = start_release_job.execute_in_process(
        instance=instance, resources=resources(),
        run_config={"ops": {"start_release_op": {"config": {"repo": "orders"}}}},
    )  # fmt: skip
    return started.output_for_node("start_release_op")["release_id"]


def drive(instance, resources, store, release_id, max_ticks=30):
    """Tick release_sensor and run what it asks for until the release is terminal."""
    jobs = {j.name: j for j in ALL_JOBS}
    ran = []
    for _ in range(max_ticks):
        if store.get(release_id).terminal:
            break
        with dg.build_sensor_context(instance=instance, resources=resources()) as context:
            result = release_sensor(context)
        requests = result if isinstance(result, list) else []
        assert requests, getattr(result, "skip_message", result)
        for request in requests:
            ran.append(request.job_name)
            jobs[request.job_name].execute_in_process(
                instance=instance, resources=resources(), run_config=request.run_config,
                tags=request.tags, raise_on_error=False,
            )  # fmt: skip
    return store.get(release_id), ran


def test_a_good_release_is_promoted_and_a_bad_one_rolled_back(project, resources, service_repo):
    cfg = load_config(project)
    store = ReleaseStore(HistoryStore(cfg.history_path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["orders"])

    first = build_and_approve(instance, resources, service_repo.head())
    release, ran = drive(instance, resources, store, first)
    assert release.state == "promoted", (release.state, ran)
    assert ran[:2] == ["apply_job", "deploy_staging_job"] and ran[-1] == "promote_job"

    good = service_repo.commit("app.py", SERVICE.format(error_rate=0.0, extra_ms=0) + "\n",
                               "harmless change")  # fmt: skip
    second = build_and_approve(instance, resources, good)
    release, ran = drive(instance, resources, store, second)
    assert release.state == "promoted", (release.state, ran)
    assert ran.count("canary_step_job") >= 3

    bad = service_repo.commit("app.py", SERVICE.format(error_rate=0.10, extra_ms=200),
                              "speed up orders (bad)")  # fmt: skip
    third = build_and_approve(instance, resources, bad)
    release, ran = drive(instance, resources, store, third)
    assert release.state == "rolled_back", (release.state, ran)
    failed = [s for s in release.steps if s.state == "failed"]
    assert failed and failed[0].step_index == 0

    # Traffic is back on the last good version only: no 500s, no +200 ms.
    url = LocalTarget(cfg.home_path / "targets" / "prod", "prod").url("orders")
    for _ in range(60):
        started = time.perf_counter()
        assert requests.get(f"{url}/orders", timeout=5).status_code == 200
        assert time.perf_counter() - started < 0.15

    # Every transition of every release is in the audit log.
    actions = [r["action"] for r in HistoryStore(cfg.history_path).query_audit(
        repo="orders", action="release.", limit=10_000)]  # fmt: skip
    assert actions.count("release.promoted") == 2 and actions.count("release.rolled_back") == 1
    assert "incident.recorded" in [
        r["action"] for r in HistoryStore(cfg.history_path).query_audit(repo="orders")
    ]

    # The hotfix branch reverts the bad change on top of the tracked branch: app.py is the
    # good version again, and the branch is recorded in the audit log.
    git = GitClient(cfg.git_path)
    hotfix = git.resolve_branch("orders", hotfix_branch_name(bad))
    assert git.read_file("orders", hotfix, "app.py") == git.read_file("orders", good, "app.py")
    assert git.commit_info("orders", hotfix).parents == (bad,)
    [row] = HistoryStore(cfg.history_path).query_audit(repo="orders", action="release.hotfix")
    assert row["refs"]["commit"] == hotfix and row["refs"]["reverts"] == f"{good[:12]}..{bad[:12]}"


def test_cli_release_start_follow_status_and_refusals(project, resources, service_repo):
    from click.testing import CliRunner

    from prodsprint_dagster.cli import main

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["orders"])
    runner = CliRunner()
    none = runner.invoke(main, ["release", "status", "orders", "--json"])
    assert none.exit_code == 1 and "no release yet" in json.loads(none.stdout)["error"]

    chain = dg.materialize(ALL_ASSETS, instance=instance, resources=resources(),
                           partition_key="orders")  # fmt: skip
    assert chain.success
    unapproved = runner.invoke(main, ["release", "start", "orders", "--json"])
    assert unapproved.exit_code == 1 and "not approved" in json.loads(unapproved.stdout)["error"]

    assert (
        runner.invoke(main, ["approve", "orders", "--approver", "a", "--reason", "r"]).exit_code
        == 0
    )
    started = runner.invoke(main, ["release", "start", "orders", "--follow", "--json"])
    assert started.exit_code == 0, started.output
    doc = json.loads(started.stdout)
    assert doc["release"]["state"] == "promoted"
    assert [t["action"] for t in doc["timeline"]][:2] == ["apply", "deploy_staging"]

    status = json.loads(runner.invoke(main, ["release", "status", "orders", "--json"]).stdout)
    assert status["release"]["state"] == "promoted"
    refused = runner.invoke(main, ["release", "promote", "orders", "--json"])
    assert refused.exit_code == 1 and "no active release" in json.loads(refused.stdout)["error"]
