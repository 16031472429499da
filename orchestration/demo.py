"""`prodsprint demo`: the whole flow on the bundled example, against the real instance.

It is what the daemon would do, done in-process so it finishes in seconds: one new-commit
sensor tick (evaluated as a first tick, with an empty cursor), the partition it adds, and the
readiness-chain run it requests, executed in this process and recorded in the instance that
`make dev` serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
    examples_dir,
)
from prodsprint_dagster.demo.risk_seed import seed_demo_risk
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.registry import add_repo, init_config, set_if_absent
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
    "sbom": "sbom",
    "vulnerability_report": "vulnerabilities",
    "coverage_report": "coverage",
    "perf_baseline": "perf",
    "commit_history": "history",
    "risk_score": "risk",
    "deploy_plan": "plan",
    "readiness": "readiness",
}


# The order stages are reported in: the chain, then the release.
STAGE_ORDER = (
    "snapshot", "audit", "sbom", "vulnerabilities", "coverage", "perf", "history", "risk",
    "plan", "readiness", "approve", "apply", "staging", "canary", "prod",
)  # fmt: skip


def _stage_rank(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


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
    seed_demo_risk(HistoryStore(cfg.history_path), repo_path)  # a few past incidents
    # The bundled OSV fixture database, unless the project configured its own advisories.
    set_if_absent(config_file, "supply", "osv_db", str(examples_dir() / "osv-db"))
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
    extra = describe_gates(outputs, stages)
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
        "stages": dict(sorted(stages.items(), key=lambda kv: _stage_rank(kv[0]))),
        "repo_path": str(repo_path),
        "dagster_home": str(cfg.dagster_home),
        "seconds": round(time.perf_counter() - started, 2),
    }


def describe_gates(outputs: dict, stages: dict) -> dict:
    """The gate stages (SBOM, vulnerabilities, coverage, ...) in one line each, and their
    details for --json."""
    extra: dict = {}
    if "sbom" in outputs:
        sbom = outputs["sbom"]
        stages["sbom"] = f"{sbom['components']} components (CycloneDX {sbom['spec_version']})"
        extra["sbom"] = {"components": sbom["components"], "document": sbom["document"],
                         "by_ecosystem": sbom["by_ecosystem"]}  # fmt: skip
    if "vulnerability_report" in outputs:
        report = outputs["vulnerability_report"]
        findings = report["findings"]
        stages["vulnerabilities"] = (
            ", ".join(f"{f['severity']} {f['id']} in {f['package']} {f['version']}"
                      for f in findings) or "none found"
        )  # fmt: skip
        extra["vulnerabilities"] = [
            {k: f.get(k) for k in ("id", "severity", "package", "version", "fixed_version")}
            for f in findings
        ]
    if "coverage_report" in outputs:
        cov, tests = outputs["coverage_report"]["coverage"], outputs["coverage_report"]["tests"]
        percent = cov.get("percent")
        patch = cov.get("patch_percent")
        stages["coverage"] = (
            (f"{percent:.1f}% of lines" if percent is not None else "not measured")
            + (f", patch {patch:.1f}%" if patch is not None else ", no coverable patch lines")
            + (f"; {tests.get('passed', 0)}/{tests.get('total', 0)} tests passed" if tests else "")
        )
        counts = {k: (tests or {}).get(k) for k in ("total", "passed", "failed", "errors")}
        extra["coverage"] = {"percent": percent, "patch_percent": patch, "tests": counts}
    if "perf_baseline" in outputs and (outputs["perf_baseline"] or {}).get("metrics"):
        perf = outputs["perf_baseline"]
        m = perf["metrics"]
        regressed = [r for r in perf.get("regressions") or [] if r.get("verdict") == "regression"]
        stages["perf"] = (
            f"p95 {m.get('p95_ms', 0):.1f} ms, errors {100 * m.get('error_ratio', 0):.1f}% at "
            f"{perf['load']['rate']:g} req/s; "
            + (f"{len(regressed)} regression(s)" if regressed else
               "no regression" if perf.get("baseline") else "first baseline")
        )  # fmt: skip
        extra["perf"] = {"metrics": m, "regressions": regressed, "k6": perf.get("k6")}
    if "risk_score" in outputs:
        risk = outputs["risk_score"]
        top = ", ".join(f["feature"] for f in risk.get("top_features", [])[:3])
        stages["risk"] = (f"{risk['score']:.2f} ({risk['band']}, {risk['method']}); "
                          f"top features: {top}")  # fmt: skip
        keys = ("score", "percentile", "band", "method", "explanation_method", "top_features")
        extra["risk"] = {k: risk.get(k) for k in keys}
        extra["risk"]["rollout"] = [s["weight"] for s in risk["rollout"]["steps"]]
    return extra


def _chain_and_approve(defs, instance, commit: str) -> bool:
    return _chain(defs, instance, commit) == [] and _approve(defs, instance, commit)


def _chain(defs, instance, commit: str) -> list[str]:
    """Run the readiness chain for ``commit``; returns the failed blocking checks (empty when
    the chain succeeded with a ready verdict)."""
    tags = {TAG_REPO: DEMO_REPO_NAME, TAG_COMMIT: commit}
    run = defs.resolve_job_def(READINESS_CHAIN_JOB).execute_in_process(
        instance=instance, partition_key=DEMO_REPO_NAME, tags=tags, raise_on_error=False
    )
    failed = sorted(
        c.check_name for c in run.get_asset_check_evaluations()
        if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    )  # fmt: skip
    if failed or not run.success:
        return failed or ["readiness_chain_job failed"]
    verdict = run.output_for_node("readiness")["verdict"]
    return [] if verdict == "ready" else [f"readiness {verdict}"]


def _approve(defs, instance, commit: str, waivers: list[dict] | None = None) -> bool:
    reason = "prodsprint demo: " + (
        "waived to show the canary judge" if waivers else "every blocking gate passes"
    )
    config = {"repo": DEMO_REPO_NAME, "commit": commit, "approver": "demo", "reason": reason}
    if waivers:
        config["waivers"] = waivers
    approval = defs.resolve_job_def("approve_release_job").execute_in_process(
        instance=instance, run_config={"ops": {"approve_release_op": {"config": config}}},
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
    bad_change: dict = {"commit": bad, "rolled_back": False}
    # The perf gate measures the bad change before release and blocks it. To show the second
    # line of defence, the demo waives that one gate for a day (reason, ticket, expiry: as a
    # person would) and lets the canary judge catch the change in production traffic.
    blocked = _chain(defs, instance, bad)
    bad_change["blocked_before_release_by"] = blocked
    waivers = [
        {
            "gate": "perf",
            "reason": "demo: let the canary judge catch it",
            "ticket": "DEMO-1",
            "expires": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        }
    ]
    # On a re-run the waiver from the first run may still apply (then nothing is blocked).
    if blocked in ([], ["perf_within_budget"]) and _approve(
        defs, instance, bad, waivers if blocked else None
    ):
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
