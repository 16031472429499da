"""`prodsprint demo`: the whole flow on the bundled example, against the real instance.

It is what the daemon would do, done in-process so it finishes in seconds: one new-commit
sensor tick (evaluated as a first tick, with an empty cursor), the partition it adds, and the
readiness-chain run it requests, executed in this process and recorded in the instance that
`make dev` serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from orchestration.instance import open_instance
from prodsprint_dagster.config import load_config
from prodsprint_dagster.constants import READINESS_CHAIN_JOB, TAG_COMMIT
from prodsprint_dagster.definitions import build_definitions, build_resources
from prodsprint_dagster.demo import DEMO_REPO_NAME, build_example_repo
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.registry import add_repo, init_config
from prodsprint_dagster.store import AuditEntry, HistoryStore
from sensors import new_commit_sensor

# Asset key -> the stage name `prodsprint demo --json` reports.
STAGE_OF_ASSET = {
    "repo_snapshot": "snapshot",
    "audit_report": "audit",
    "deploy_plan": "plan",
    "readiness": "readiness",
}


def run_demo(config_file: Path, progress: Callable[[str], None] = lambda _: None) -> dict:
    started = time.perf_counter()
    init_config(config_file)
    cfg = load_config(config_file)
    instance = open_instance(cfg)

    progress("building the example repository")
    repo_path = build_example_repo(cfg.home_path / "demo" / "shop-api")
    _, changed = add_repo(
        config_file, DEMO_REPO_NAME, str(repo_path), branch="main", team="demo", replace=True
    )
    cfg = load_config(config_file)
    if changed:
        HistoryStore(cfg.history_path).append_audit(
            AuditEntry(action="repo.register", actor="demo", repo=DEMO_REPO_NAME,
                       reason="prodsprint demo", refs={"branch": "main"})
        )  # fmt: skip
    defs = build_definitions(cfg)

    progress("evaluating new_commit_sensor")
    with dg.build_sensor_context(instance=instance, resources=build_resources(cfg)) as context:
        result = new_commit_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    ours = [r for r in result.run_requests or [] if r.partition_key == DEMO_REPO_NAME]
    if len(ours) != 1:
        raise ProdSprintError(
            f"the sensor asked for {len(ours)} runs of {DEMO_REPO_NAME}, expected 1: "
            f"{result.skip_reason or ''}"
        )
    request = ours[0]
    commit = request.tags[TAG_COMMIT]

    progress(f"materializing {DEMO_REPO_NAME}@{commit[:12]}")
    job = defs.resolve_job_def(READINESS_CHAIN_JOB)
    run = job.execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags,
        raise_on_error=False,
    )  # fmt: skip
    stages = {}
    for key in job.asset_layer.executable_asset_keys:
        stage = STAGE_OF_ASSET.get(key.to_user_string(), key.to_user_string())
        stages[stage] = "failed"
    outputs = {}
    for event in run.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        stages[STAGE_OF_ASSET.get(key, key)] = "ok"
        outputs[key] = run.output_for_node(key)
    if "readiness" in outputs:
        stages["readiness"] = outputs["readiness"]["verdict"]
    extra = {}
    if run.success and outputs.get("readiness", {}).get("verdict") == "ready":
        progress("approving the release")
        approval = defs.resolve_job_def("approve_release_job").execute_in_process(
            instance=instance,
            run_config={"ops": {"approve_release_op": {"config": {
                "repo": DEMO_REPO_NAME, "commit": commit, "approver": "demo",
                "reason": "prodsprint demo: every blocking gate passes",
            }}}},
            raise_on_error=False,
        )  # fmt: skip
        stages["approve"] = "approved" if approval.success else "refused"
    if "deploy_plan" in outputs:
        plan = outputs["deploy_plan"]
        extra["plan"] = {
            "target": plan["target"],
            "plan_hash": plan["plan_hash"],
            "monthly_cost_usd": plan["cost"]["monthly_total"],
            "branch": plan["delivery"]["branch"],
            "rollout": [s["weight"] for s in plan["plan"]["rollout"]["steps"]],
        }
    if "readiness" in outputs:
        extra["readiness"] = {
            "verdict": outputs["readiness"]["verdict"],
            "blockers": outputs["readiness"]["blockers"],
            "not_measured": [i["gate"] for i in outputs["readiness"]["items"]
                             if i["status"] == "not_measured"],
        }  # fmt: skip
    return {
        **extra,
        "repo": DEMO_REPO_NAME,
        "commit": commit,
        "run_id": run.run_id,
        "success": run.success,
        "stages": stages,
        "repo_path": str(repo_path),
        "dagster_home": str(cfg.dagster_home),
        "seconds": round(time.perf_counter() - started, 2),
    }
