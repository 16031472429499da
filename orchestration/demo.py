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
from prodsprint_dagster.constants import READINESS_CHAIN_JOB, TAG_COMMIT, TAG_REPO
from prodsprint_dagster.definitions import build_definitions, build_resources
from prodsprint_dagster.demo import (
    BAD_CHANGE,
    DEMO_REPO_NAME,
    GOOD_CHANGE,
    build_example_repo,
    commit_change,
)
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.registry import add_repo, init_config
from prodsprint_dagster.store import AuditEntry, HistoryStore
from sensors import new_commit_sensor


def _stop_local_targets(cfg) -> None:
    from prodsprint_dagster.release.local import LocalTarget

    for env in ("staging", "prod"):
        home = cfg.home_path / "targets" / env
        if home.exists():
            LocalTarget(home, env).stop()


# Asset key -> the stage name `prodsprint demo --json` reports.
STAGE_OF_ASSET = {
    "repo_snapshot": "snapshot",
    "audit_report": "audit",
    "deploy_plan": "plan",
    "readiness": "readiness",
}


# The demo's analysis windows and load, as configuration of the demo repository only.
DEMO_RELEASE = {
    "soak_seconds": 3,
    "load_rps": 200,  # ~6 canary requests in a 3 s window at 1 %: enough to judge
    "load_paths": ["/orders"],  # the route the demo's changes touch
    "canary_judge": {"min_samples": 5, "min_latency_samples": 5},
}


def run_demo(
    config_file: Path,
    progress: Callable[[str], None] = lambda _: None,
    *,
    release: bool = True,
    keep_running: bool = False,
) -> dict:
    started = time.perf_counter()
    init_config(config_file)
    cfg = load_config(config_file)
    instance = open_instance(cfg)

    progress("building the example repository")
    repo_path = build_example_repo(cfg.home_path / "demo" / "shop-api")
    _, changed = add_repo(
        config_file, DEMO_REPO_NAME, str(repo_path), branch="main", team="demo",
        policy_pack="demo", release=DEMO_RELEASE, replace=True,
    )  # fmt: skip
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
        approved = _approve(defs, instance, commit)
        stages["approve"] = "approved" if approved else "refused"
        if approved and release:
            try:
                progress("releasing the current version")
                _release(defs, instance, cfg, commit, progress)
                release_stages, release_extra = run_release_demo(
                    defs, instance, cfg, repo_path, progress
                )
                stages.update(release_stages)
                extra.update(release_extra)
            finally:
                if not keep_running:
                    _stop_local_targets(cfg)
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


def _chain_and_approve(defs, instance, commit: str) -> bool:
    tags = {TAG_REPO: DEMO_REPO_NAME, TAG_COMMIT: commit}
    run = defs.resolve_job_def(READINESS_CHAIN_JOB).execute_in_process(
        instance=instance, partition_key=DEMO_REPO_NAME, tags=tags, raise_on_error=False
    )
    if not run.success or run.output_for_node("readiness")["verdict"] != "ready":
        return False
    return _approve(defs, instance, commit)


def _approve(defs, instance, commit: str) -> bool:
    approval = defs.resolve_job_def("approve_release_job").execute_in_process(
        instance=instance,
        run_config={"ops": {"approve_release_op": {"config": {
            "repo": DEMO_REPO_NAME, "commit": commit, "approver": "demo",
            "reason": "prodsprint demo: every blocking gate passes",
        }}}},
        raise_on_error=False,
    )  # fmt: skip
    return approval.success


def _release(defs, instance, cfg, commit: str, progress) -> dict:
    """Start the release of ``commit`` and drive it the way the daemon would."""
    from prodsprint_dagster.release import ReleaseStore
    from sensors import release_sensor

    started = defs.resolve_job_def("start_release_job").execute_in_process(
        instance=instance,
        run_config={"ops": {"start_release_op": {"config": {"repo": DEMO_REPO_NAME,
                                                           "commit": commit}}}},
    )  # fmt: skip
    release_id = started.output_for_node("start_release_op")["release_id"]
    store = ReleaseStore(HistoryStore(cfg.history_path))
    timeline = []
    for _ in range(40):
        if store.get(release_id).terminal:
            break
        with dg.build_sensor_context(instance=instance, resources=build_resources(cfg)) as ctx:
            result = release_sensor(ctx)
        if not isinstance(result, list):
            break  # waiting on a manual gate: a person decides
        for request in result:
            progress(f"{commit[:12]}: {request.job_name}")
            run = defs.resolve_job_def(request.job_name).execute_in_process(
                instance=instance, run_config=request.run_config, tags=request.tags,
                raise_on_error=False,
            )  # fmt: skip
            op = f"{request.job_name.removesuffix('_job')}_op"
            outcome = run.output_for_node(op) if run.success else {"outcome": "failed"}
            timeline.append({"job": request.job_name, **outcome})
    release = store.get(release_id)
    return {"release_id": release_id, "state": release.state, "timeline": timeline,
            "steps": [(s.step_index, s.weight, s.state) for s in release.steps]}  # fmt: skip


def run_release_demo(defs, instance, cfg, repo_path, progress) -> tuple[dict, dict]:
    """Release a good change through the canary steps, then a bad one that rolls back."""
    stages: dict = {}
    good = commit_change(repo_path, GOOD_CHANGE)
    if not _chain_and_approve(defs, instance, good):
        return {"apply": "not reached"}, {}
    done = _release(defs, instance, cfg, good, progress)
    jobs = {t["job"]: t.get("outcome") for t in done["timeline"]}
    stages["apply"] = "ok" if "apply_job" in jobs else "not reached"
    stages["staging"] = "ok" if jobs.get("deploy_staging_job") == "staging" else "failed"
    canaries = [t.get("outcome") for t in done["timeline"] if t["job"] == "canary_step_job"]
    stages["canary"] = "passed" if done["state"] == "promoted" else "failed"
    stages["prod"] = done["state"]
    extra = {"release": {"commit": good, "steps": done["steps"], "canary_outcomes": canaries}}

    bad = commit_change(repo_path, BAD_CHANGE)
    bad_change = {"commit": bad, "rolled_back": False}
    if _chain_and_approve(defs, instance, bad):
        rolled = _release(defs, instance, cfg, bad, progress)
        failing = [t for t in rolled["timeline"] if t.get("outcome") == "rolled_back"]
        bad_change.update(
            rolled_back=rolled["state"] == "rolled_back",
            failed_step=failing[0].get("step") if failing else None,
            rollback_seconds=failing[0].get("rollback_seconds") if failing else None,
            timeline=[{"job": t["job"], "outcome": t.get("outcome"), "step": t.get("step")}
                      for t in rolled["timeline"]],
        )  # fmt: skip
    extra["bad_change"] = bad_change
    return stages, extra
