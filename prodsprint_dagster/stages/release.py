"""The release stage: from an approved plan to a Conductor transition, shared by jobs and CLI.

What to run is derived from the commit's audit each time (start command, health path,
non-secret env defaults) and its checkout is the working directory, so nothing the
repository's author controls is stored as a command line, and secret values are never
read here: a secret-like variable must come from the environment the operator provides.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.release import Conductor, Release, ReleaseStore
from prodsprint_dagster.runtime import python_runtime
from prodsprint_dagster.stages.context import StageContext
from prodsprint_dagster.stages.hotfix import open_hotfix
from prodsprint_dagster.stages.plan import plan_artifact

# $PORT / ${PORT} / ${PORT:-8000} in a start command -> the port the target assigns.
_PORT_REF = re.compile(r"\$\{PORT(?::-[^}]*)?\}|\$PORT\b")


def conductor_for(ctx: StageContext) -> Conductor:
    """A Conductor on the local target, with the release settings from prodsprint.yaml."""
    from prodsprint_dagster.release.local import LocalTarget

    if ctx.home is None:
        raise ProdSprintError("the release stage needs the ProdSprint home directory")
    targets = Path(ctx.home) / "targets"
    own = ("load_paths", "prometheus_url", "prometheus_labels")
    settings = {k: v for k, v in ctx.release_settings.items() if k not in own}
    source = None
    if ctx.release_settings.get("prometheus_url"):
        from prodsprint_dagster.release.prometheus import PrometheusMetrics

        labels = ctx.release_settings.get("prometheus_labels")
        source = PrometheusMetrics(ctx.release_settings["prometheus_url"], selector_labels=labels)
    return Conductor(
        ctx.history, ctx.artifacts, lambda env: LocalTarget(targets / env, env),
        Path(ctx.home), settings=settings, metrics_source=source,
    )  # fmt: skip


def service_spec_for(ctx: StageContext, commit: str) -> dict[str, Any]:
    """How to run the commit's first deployable HTTP service on the local target."""
    audit = ctx.load(commit, "audit.json")
    plan = ctx.load(commit, plan_artifact(ctx.repo.target, "plan.json"))
    if audit is None or plan is None:
        raise ProdSprintError(f"{ctx.repo.name}@{commit[:12]} has no audit or plan to release")
    wanted = set(plan.get("services") or [])
    services = [
        s for s in audit["services"] if s.get("port") and (not wanted or s["name"] in wanted)
    ]
    if not services:
        raise ProdSprintError(f"{ctx.repo.name}@{commit[:12]}: no HTTP service to release")
    service = services[0]
    if not service.get("start_command"):
        raise ProdSprintError(
            f"{ctx.repo.name}: service {service['name']!r} has no start command in the audit"
        )
    command = [_PORT_REF.sub("{port}", part) for part in shlex.split(service["start_command"])]
    worktree = ctx.git.checkout(ctx.repo.name, commit)
    env = {
        v["name"]: str(v["default"])
        for v in audit.get("env_vars", [])
        if service["name"] in (v.get("services") or [service["name"]])
        and not v.get("secret_like")
        and v.get("default") is not None
        and v["name"] != "PORT"
    }
    health = "/health" if service.get("health_evidence") else "/"
    cwd = worktree / service.get("root", ".")
    if service.get("language") == "Python" and (cwd / "requirements.txt").is_file():
        venv = python_runtime(Path(ctx.home or "."), [cwd / "requirements.txt"])
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
        if (venv / "bin" / command[0]).is_file():
            command[0] = str(venv / "bin" / command[0])
    load_paths = ctx.release_settings.get("load_paths") or [health, "/"]
    return {
        "service": service["name"],
        "version": commit[:12],
        "command": command,
        "cwd": str(cwd),
        "env": env,
        "health_path": health,
        "load_paths": list(load_paths),
    }


def terraform_files_for(ctx: StageContext, commit: str) -> dict[str, str]:
    plan = ctx.load(commit, plan_artifact(ctx.repo.target, "plan.json"))
    return dict(plan["files"]) if plan else {}


def start_release(ctx: StageContext, *, actor: str, commit: str | None = None) -> Release:
    """Create the release of an approved commit (planned -> approved)."""
    commit = commit or ctx.latest_commit()
    plan = ctx.load(commit, plan_artifact(ctx.repo.target, "plan.json"))
    if plan is None:
        raise ProdSprintError(f"{ctx.repo.name}@{commit[:12]} has no deploy plan")
    with ctx.history.connect(read_only=True) as con:
        approved = con.execute(
            "SELECT approver FROM approvals WHERE repo = ? AND commit_sha = ? AND plan_hash = ?"
            " ORDER BY id DESC LIMIT 1",
            [ctx.repo.name, commit, plan["plan_hash"]],
        ).fetchone()
    if not approved:
        raise ProdSprintError(
            f"{ctx.repo.name}@{commit[:12]} is not approved for plan {plan['plan_hash'][:12]}: "
            "run approve_release_job (or `prodsprint approve`) first"
        )
    return conductor_for(ctx).start(
        ctx.repo.name, commit, plan["plan_hash"], plan["rollout"], service_spec_for(ctx, commit),
        actor=actor, reason=f"approved by {approved[0]}", target=ctx.repo.target,
        run_id=ctx.run_id,
    )  # fmt: skip


def run_release_action(
    ctx: StageContext, release_id: str, action: str, *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Perform one transition (apply, deploy_staging, canary_step, bluegreen_switch, promote,
    rollback). ``bluegreen_switch`` is the canary step that moves a blue/green release to
    100 % and runs its post-promotion analysis; a failure switches back in the same call."""
    conductor = conductor_for(ctx)
    release = ReleaseStore(ctx.history).get(release_id)
    if release.repo != ctx.repo.name:
        raise ProdSprintError(
            f"release {release_id} belongs to {release.repo}, not {ctx.repo.name}"
        )
    commit, run_id = release.commit_sha, ctx.run_id
    if action == "apply":
        verify_plan_provenance(ctx, commit, release.target)
        outcome = conductor.apply(release_id, terraform_files_for(ctx, commit), actor=actor,
                                  run_id=run_id)  # fmt: skip
        if outcome.outcome == "applied":
            outcome.details["provenance"] = attest_applied_release(ctx, release)
    elif action == "deploy_staging":
        outcome = conductor.deploy_staging(release_id, service_spec_for(ctx, commit),
                                           actor=actor, run_id=run_id)  # fmt: skip
    elif action in ("canary_step", "bluegreen_switch"):
        if action == "bluegreen_switch" and release.strategy != "bluegreen":
            raise ProdSprintError(f"release {release_id} is a {release.strategy} release")
        outcome = conductor.canary_step(release_id, service_spec_for(ctx, commit), actor=actor,
                                        run_id=run_id)  # fmt: skip
    elif action == "promote":  # the sensor's promotion, or a person passing a manual gate
        outcome = conductor.pass_gate(release_id, service_spec_for(ctx, commit), actor=actor,
                                      run_id=run_id)  # fmt: skip
    elif action == "rollback":
        if release.terminal:  # the failure sensor and release_sensor may both ask
            return {"action": "rollback", "outcome": "skipped",
                    "reason": f"release is already {release.state}"}  # fmt: skip
        outcome = conductor.rollback(release_id, reason or "rollback requested", actor=actor,
                                     run_id=run_id)  # fmt: skip
    else:
        raise ProdSprintError(f"unknown release action {action!r}")
    result = outcome.to_dict()
    if outcome.outcome == "rolled_back":
        result["details"]["database"] = database_after_rollback(ctx, outcome.release)
        result["details"]["hotfix"] = open_hotfix(ctx, outcome.release, actor=actor)
    return result


def database_after_rollback(ctx: StageContext, release: Release) -> dict[str, Any]:
    """What the rollback did not undo: migrations without a down step, as the plan warned."""
    plan = ctx.load(release.commit_sha, plan_artifact(release.target, "plan.json")) or {}
    warned = [
        n["message"] for n in plan.get("notes") or [] if n["code"] == "irreversible_migrations"
    ]
    if not warned:
        return {"rolled_back": None, "note": "the plan found no migration without a down step"}
    note = "the application is back on the last good version; the schema is not"
    return {"rolled_back": False, "warnings": warned, "note": note}


def verify_plan_provenance(ctx: StageContext, commit: str, target: str) -> None:
    """Refuse to apply a plan whose signed attestation does not match what is stored."""
    from prodsprint_dagster.provenance import load_public_key, public_key_path, verify_plan

    key = load_public_key(public_key_path(Path(ctx.home or ".")))
    verify_plan(ctx.artifacts, key, repo=ctx.repo.name, commit=commit, target=target)


def attest_applied_release(ctx: StageContext, release: Release) -> dict[str, Any]:
    """Sign what this release applied (its Terraform) and what it came from (the plan)."""
    from prodsprint_dagster.provenance import attest_release, load_or_create_signing_key

    return attest_release(
        ctx.artifacts, load_or_create_signing_key(Path(ctx.home or ".")), repo=release.repo,
        commit=release.commit_sha, target=release.target, release_id=release.id,
        repo_uri=ctx.repo.url, run_id=ctx.run_id, now=ctx.clock(),
    )  # fmt: skip
