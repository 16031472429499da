"""The foundation commands: init, repos, status, audit, plan, readiness, approval, release."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click
from rich.table import Table

from prodsprint_dagster.cli.base import Ctx, actor, command, err, main, out
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.home import ensure_home
from prodsprint_dagster.registry import add_repo, init_config, remove_repo


@command(main, "init")
def init(ctx: Ctx):
    """Create prodsprint.yaml (if missing), the home directory and the Dagster instance config."""
    wrote = init_config(ctx.config_file)
    paths = ensure_home(ctx.config())
    result = {"ok": True, "config": str(ctx.config_file), "config_created": wrote, **paths}

    def human():
        verb = "created" if wrote else "kept"
        out.print(f"{verb} {ctx.config_file}")
        for key, value in paths.items():
            out.print(f"  {key:13} {value}")

    return result, human


@main.group()
def repos() -> None:
    """Register, list and remove repositories."""


@command(repos, "add")
@click.argument("name")
@click.argument("url_or_path")
@click.option("--branch", default="main", show_default=True)
@click.option("--team", default="default", show_default=True)
@click.option("--target", type=click.Choice(["local", "kubernetes", "aws"]), default="local")
@click.option("--policy-pack", default="default", show_default=True)
def repos_add(ctx: Ctx, name, url_or_path, branch, team, target, policy_pack):
    """Register NAME (a slug such as team__service) at a git URL or local path."""
    repo, changed = add_repo(ctx.config_file, name, url_or_path, branch=branch, team=team,
                    target=target, policy_pack=policy_pack)  # fmt: skip
    if changed:
        ctx.audit("repo.register", repo.name, branch=repo.branch, team=repo.team)
    data = _repo_dict(repo)

    def human():
        verb = "registered" if changed else "already registered:"
        out.print(f"{verb} {repo.name} ({_redacted(repo.url)}, branch {repo.branch})")
        out.print("the new-commit sensor picks it up at its next tick")

    return {"ok": True, "changed": changed, "repo": data}, human


@command(repos, "list")
def repos_list(ctx: Ctx):
    """List registered repositories."""
    items = [_repo_dict(r) for r in ctx.config().repos]

    def human():
        table = Table("name", "url", "branch", "team", "target", "policy pack")
        for r in items:
            table.add_row(
                r["name"], r["url"], r["branch"], r["team"], r["target"], r["policy_pack"]
            )
        out.print(table if items else "no repositories registered (prodsprint repos add ...)")

    return {"ok": True, "repos": items}, human


@command(repos, "remove")
@click.argument("name")
def repos_remove(ctx: Ctx, name):
    """Unregister NAME; its history, artifacts and Dagster partition are kept."""
    remove_repo(ctx.config_file, name)
    ctx.audit("repo.unregister", name)
    return {"ok": True, "removed": name}, lambda: out.print(f"removed {name}")


@command(main, "status")
def status(ctx: Ctx):
    """Per repository: the last commit seen and the latest materializations."""
    from orchestration.instance import repo_status
    from prodsprint_dagster.definitions import build_definitions

    cfg = ctx.config()
    rows = repo_status(cfg, build_definitions(cfg))

    def human():
        table = Table("repo", "branch", "last commit seen", "latest materializations")
        for row in rows:
            mats = ", ".join(
                f"{k} @ {(v['commit'] or '?')[:12]} ({v['at'][:19]})"
                for k, v in row["materializations"].items()
            )
            table.add_row(row["repo"], row["branch"], (row["last_commit_seen"] or "-")[:12],
                          mats or "-")  # fmt: skip
        out.print(table if rows else "no repositories registered")

    return {"ok": True, "repos": rows}, human


@command(main, "audit-log")
@click.option("--repo", default=None, help="Only rows of this repository.")
@click.option("--action", default=None, help="Only actions starting with this prefix.")
@click.option("--limit", default=200, show_default=True)
def audit_log(ctx: Ctx, repo, action, limit):
    """The append-only audit log, oldest first."""
    rows = ctx.history().query_audit(repo=repo, action=action, limit=limit)

    def human():
        table = Table("time", "actor", "action", "repo", "commit", "reason")
        for r in rows:
            table.add_row(r["occurred_at"][:19], r["actor"], r["action"], r["repo"] or "",
                          (r["commit_sha"] or "")[:12], r["reason"] or "")  # fmt: skip
        out.print(table)

    return {"ok": True, "rows": rows}, human


@command(main, "audit")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Repository name to report (default: the folder's).")
def audit(ctx: Ctx, path: Path, name: str | None):
    """Audit a checkout: services, ports, env vars, datastores, migrations, tests, CI, gaps.

    Nothing from the repository is executed. With --json the report is all of stdout.
    """
    from rich.markdown import Markdown

    from prodsprint_dagster.audit import audit_repository, render_markdown

    report = audit_repository(path.resolve(), repo_name=name)
    return report, lambda: out.print(Markdown(render_markdown(report)))


@command(main, "plan")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--target", type=click.Choice(["aws", "kubernetes", "local"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the rendered files below this folder.")  # fmt: skip
@click.option("--name", default=None, help="Repository name (default: the folder's, slugified).")
def plan(ctx: Ctx, path: Path, target: str, out_dir: Path | None, name: str | None):
    """Render the deploy plan of a checkout: Terraform, Kubernetes, CI/CD, cost, risk notes."""
    from prodsprint_dagster.audit import audit_repository
    from prodsprint_dagster.names import slugify
    from prodsprint_dagster.plan import diff_plans, estimate_cost, render_plan

    path = path.resolve()
    repo = name or slugify(path.name)
    report = audit_repository(path, repo_name=repo)
    commit = head_commit(path)
    rendered = render_plan(report, target=target, repo=repo, commit=commit)
    cost = estimate_cost(rendered)
    diff = diff_plans(rendered, None)
    if out_dir:
        for rel, text in rendered["files"].items():
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
    result = {
        "repo": repo, "commit": commit, "target": target, "plan_hash": rendered["plan_hash"],
        "files": sorted(rendered["files"]), "resources": rendered["resources"],
        "services": rendered["services"], "notes": rendered["notes"],
        "rollout": rendered["rollout"], "cost": cost,
        "risk_notes": diff["risk_notes"], "out": str(out_dir) if out_dir else None,
    }  # fmt: skip

    def human():
        unpriced = f" (+{len(cost['unknown'])} unpriced)" if cost["unknown"] else ""
        counts = f"{len(rendered['resources'])} resources, {len(rendered['files'])} files"
        out.print(
            f"{target} plan for {repo}: {counts}, ${cost['monthly_total']:,.2f}/month{unpriced}"
        )
        for note in rendered["notes"] + diff["risk_notes"]:
            out.print(f"  [{note.get('severity', 'risk')}] {note['code']}: {note['message']}")
        if out_dir:
            out.print(f"files written below {out_dir}")

    return result, human


@command(main, "readiness")
@click.argument("repo")
@click.option("--commit", default=None, help="Commit to decide (default: the latest snapshot).")
@click.option("--environment", default="prod", show_default=True)
def readiness_cmd(ctx: Ctx, repo: str, commit: str | None, environment: str):
    """The readiness checklist of REPO's commit; exits 1 while blockers stand."""
    from rich.markdown import Markdown

    from prodsprint_dagster.policy import checklist_markdown
    from prodsprint_dagster.stages import StageContext, decide_readiness

    stage = StageContext.from_config(ctx.config(), repo)
    decision = decide_readiness(stage, commit, environment=environment)
    exit_code = 1 if decision["blockers"] else 0
    return ({"ok": not exit_code, **decision}, lambda: out.print(
        Markdown(checklist_markdown(decision)))), exit_code  # fmt: skip


@command(main, "approve")
@click.argument("repo")
@click.option("--approver", required=True)
@click.option("--reason", required=True)
@click.option("--commit", default=None, help="Commit to approve (default: the latest snapshot).")
@click.option(
    "--waive", "waive", multiple=True, metavar="gate=G,reason=R,ticket=T,expires=ISO[,finding=F]",
    help="Waive a blocker (repeatable); needs a reason, a ticket and an expiry.",
)  # fmt: skip
@click.option("--emergency", default=None, help="Reason to approve inside a freeze window.")
def approve_cmd(ctx: Ctx, repo, approver, reason, commit, waive, emergency):
    """Approve REPO's commit; refused (exit 1) while unwaived blockers stand."""
    from prodsprint_dagster.stages import StageContext, approve_release

    stage = StageContext.from_config(ctx.config(), repo)
    result = approve_release(
        stage, approver=approver, reason=reason, commit=commit,
        waivers=[_key_values(w) for w in waive], emergency_reason=emergency,
    )  # fmt: skip
    result.pop("readiness")

    def human():
        state = "approved" if result.get("approved") else "recorded (more approvals needed)"
        out.print(f"{repo}@{result.get('commit', '')[:12]} {state} by {approver}")

    return {"ok": True, **result}, human


@main.group()
def release() -> None:
    """Start, follow, inspect, promote and roll back releases (same engine as the jobs)."""


def _release_ctx(ctx: Ctx, repo: str):
    from prodsprint_dagster.stages import StageContext

    return StageContext.from_config(ctx.config(), repo)


def _release_dict(rel) -> dict:
    return {
        "id": rel.id, "repo": rel.repo, "commit": rel.commit_sha, "state": rel.state,
        "step_index": rel.step_index, "strategy": rel.strategy, "plan_hash": rel.plan_hash,
        "rollout": [s["weight"] for s in rel.rollout.get("steps", [])],
        "updated_at": rel.updated_at.isoformat(),
        "steps": [{"step": s.step_index, "weight": s.weight, "state": s.state}
                  for s in rel.steps],
    }  # fmt: skip


@command(release, "start")
@click.argument("repo")
@click.option("--commit", default=None, help="Approved commit (default: the latest snapshot).")
@click.option("--follow", is_flag=True, help="Run every step here until done or a manual gate.")
def release_start(ctx: Ctx, repo: str, commit: str | None, follow: bool):
    """Create the release of an approved commit; release_sensor (or --follow) advances it."""
    from prodsprint_dagster.release import ReleaseStore, next_action
    from prodsprint_dagster.stages.release import run_release_action, start_release

    stage = _release_ctx(ctx, repo)
    rel = start_release(stage, actor=actor(), commit=commit)
    timeline = []
    store = ReleaseStore(stage.history)
    while follow:
        rel = store.get(rel.id)
        action = next_action(rel, stage.clock())
        if action.kind not in (
            "apply", "deploy_staging", "canary_step", "bluegreen_switch", "promote", "rollback"
        ):  # fmt: skip
            break
        err.print(f"{rel.id}: {action.kind} {'' if action.step is None else action.step}")
        outcome = run_release_action(stage, rel.id, action.kind, actor=actor(),
                                     reason=action.reason)  # fmt: skip
        timeline.append(outcome)
    rel = store.get(rel.id)
    result = {"ok": True, "release": _release_dict(rel), "timeline": timeline}
    return result, lambda: out.print(f"release {rel.id} of {repo}@{rel.commit_sha[:12]}: "
                                     f"{rel.state}")  # fmt: skip


@command(release, "status")
@click.argument("repo")
def release_status(ctx: Ctx, repo: str):
    """The repository's latest release and its steps."""
    from prodsprint_dagster.release import ReleaseStore

    stage = _release_ctx(ctx, repo)
    rel = ReleaseStore(stage.history).latest(repo)
    if rel is None:
        raise ProdSprintError(f"{repo} has no release yet (prodsprint release start {repo})")
    data = _release_dict(rel)

    def human():
        step = f" (step {rel.step_index})" if rel.step_index is not None else ""
        out.print(f"{rel.id} {repo}@{rel.commit_sha[:12]}: {rel.state}{step}")
        for step in data["steps"]:
            out.print(f"  step {step['step']} at {step['weight']}%: {step['state']}")

    return {"ok": True, "release": data}, human


@command(release, "promote")
@click.argument("repo")
def release_promote(ctx: Ctx, repo: str):
    """Promote the repository's active release (refused unless its last step passed)."""
    from prodsprint_dagster.release import ReleaseStore
    from prodsprint_dagster.stages.release import run_release_action

    stage = _release_ctx(ctx, repo)
    rel = ReleaseStore(stage.history).latest(repo)
    if rel is None or rel.terminal:
        raise ProdSprintError(f"{repo} has no active release to promote")
    outcome = run_release_action(stage, rel.id, "promote", actor=actor())
    return {"ok": True, **outcome}, lambda: out.print(f"{rel.id}: {outcome['outcome']}")


@command(release, "rollback")
@click.argument("repo")
@click.option("--reason", required=True)
def release_rollback(ctx: Ctx, repo: str, reason: str):
    """Roll the repository's active release back to the last good version now."""
    from prodsprint_dagster.release import ReleaseStore
    from prodsprint_dagster.stages.release import run_release_action

    stage = _release_ctx(ctx, repo)
    rel = ReleaseStore(stage.history).latest(repo)
    if rel is None or rel.terminal:
        raise ProdSprintError(f"{repo} has no active release to roll back")
    outcome = run_release_action(stage, rel.id, "rollback", actor=actor(), reason=reason)
    return {"ok": True, **outcome}, lambda: out.print(f"{rel.id}: {outcome['outcome']}")


@main.group()
def waivers() -> None:
    """Waivers: time-boxed exceptions to policy gates."""


@command(waivers, "list")
@click.argument("repo", required=False)
def waivers_list(ctx: Ctx, repo: str | None):
    """All waivers (active, expired and revoked), newest last."""
    from prodsprint_dagster.policy import WaiverStore

    items = [w.to_dict() for w in WaiverStore(ctx.history()).all(repo)]

    def human():
        table = Table("id", "repo", "gate", "finding", "ticket", "expires", "state")
        for w in items:
            state = (
                "revoked" if w.get("revoked_at") else ("expired" if w.get("expired") else "active")
            )
            table.add_row(str(w.get("id")), w["repo"], w["gate"], w.get("finding") or "",
                          w["ticket"], str(w["expires_at"])[:19], state)  # fmt: skip
        out.print(table)

    return {"ok": True, "waivers": items}, human


@command(main, "waive")
@click.argument("repo")
@click.option("--gate", required=True, help="The gate to waive (vulnerabilities, coverage, ...).")
@click.option("--finding", default=None,
              help="Only this finding: a vulnerability id, package@version, a test.")  # fmt: skip
@click.option("--reason", required=True, help="Why shipping with this is acceptable.")
@click.option("--ticket", required=True, help="The ticket that tracks the fix.")
@click.option("--owner", default=None, help="Who answers for it (default: you).")
@click.option("--expires", required=True,
              help="When it stops applying: YYYY-MM-DD, ISO date-time, or +Nd.")  # fmt: skip
def waive(ctx: Ctx, repo, gate, finding, reason, ticket, owner, expires):
    """Waive a gate (or one finding) for REPO until --expires; audit-logged, never open-ended."""
    from prodsprint_dagster.policy import Waiver, WaiverStore

    owner = owner or actor().removeprefix("cli:")
    waiver = WaiverStore(ctx.history()).add(
        Waiver(
            repo=repo,
            gate=gate,
            finding=finding,
            reason=reason,
            ticket=ticket,
            owner=owner,
            expires_at=parse_expiry(expires),
        )
    )
    doc = waiver.to_dict(datetime.now(UTC))
    return {"ok": True, "waiver": doc}, lambda: out.print(
        f"{doc['id']}: {gate}{'/' + finding if finding else ''} waived for {repo} until "
        f"{doc['expires_at'][:19]} ({ticket})"
    )


@command(waivers, "revoke")
@click.argument("waiver_id")
@click.option("--reason", required=True, help="Why the waiver ends early.")
def waivers_revoke(ctx: Ctx, waiver_id: str, reason: str):
    """End a waiver before its expiry (it stays on record as revoked)."""
    from prodsprint_dagster.policy import WaiverStore

    waiver = WaiverStore(ctx.history()).revoke(waiver_id, actor=actor(), reason=reason)
    return {"ok": True, "waiver": waiver.to_dict(datetime.now(UTC))}, lambda: out.print(
        f"{waiver_id} revoked"
    )


def parse_expiry(text: str) -> datetime:
    """YYYY-MM-DD (end of that day, UTC), an ISO date-time (UTC unless it says), or +Nd."""
    text = text.strip()
    try:
        if text.startswith("+") and text.endswith("d"):
            return datetime.now(UTC) + timedelta(days=int(text[1:-1]))
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ProdSprintError(
            f"--expires {text!r}: expected YYYY-MM-DD, an ISO date-time or +Nd"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@command(main, "demo")
@click.option("--no-release", is_flag=True, help="Stop after approval (no local processes).")
@click.option("--keep-running", is_flag=True, help="Leave the released service running.")
def demo(ctx: Ctx, no_release: bool, keep_running: bool):
    """Take the bundled example through every stage: audit, plan, approval, canary, rollback."""
    from orchestration.demo import run_demo

    with err.status("demo") as spinner:
        summary = run_demo(ctx.config_file, progress=lambda msg: spinner.update(msg),
                           release=not no_release, keep_running=keep_running)  # fmt: skip
    if not summary["success"]:
        raise ProdSprintError(f"demo run {summary['run_id']} failed: {summary['stages']}")

    def human():
        table = Table("stage", "outcome", title=f"{summary['repo']} @ {summary['commit'][:12]}")
        for stage, outcome in summary["stages"].items():
            table.add_row(stage, outcome)
        out.print(table)
        if "release" in summary:
            steps = " → ".join(f"{w}% {state}" for _, w, state in summary["release"]["steps"])
            out.print(f"good change {summary['release']['commit'][:12]}: {steps}")
        bad = summary.get("bad_change")
        if bad and bad.get("blocked_before_release_by"):
            out.print(f"bad change {bad['commit'][:12]} blocked before release by "
                      f"{', '.join(bad['blocked_before_release_by'])}; waived for the demo so "
                      "the canary judge can catch it too")  # fmt: skip
        if bad:
            for event in bad.get("timeline", []):
                step = "" if event["step"] is None else f" (step {event['step']})"
                out.print(f"  bad change {bad['commit'][:12]}: {event['job']}{step}: "
                          f"{event['outcome']}")  # fmt: skip
            if bad["rolled_back"]:
                out.print(f"bad change rolled back at step {bad['failed_step']}: "
                          f"{bad['rollback_seconds']}s from detection to 100 % stable")  # fmt: skip
        out.print(f"done in {summary['seconds']}s; run {summary['run_id']}")
        out.print("open the Dagster UI with `make dev` (http://127.0.0.1:3000)")

    return summary, human


def _key_values(text: str) -> dict[str, str]:
    pairs = [p for p in text.split(",") if p.strip()]
    out_: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ProdSprintError(f"--waive {text!r}: expected key=value pairs separated by ','")
        out_[key.strip()] = value.strip()
    return out_


def head_commit(path: Path) -> str:
    """The checkout's HEAD, or a zero id when PATH is not a git work tree."""
    import subprocess

    from prodsprint_dagster.git import git_env

    proc = subprocess.run(
        ["git", "-c", "core.fsmonitor=false", "rev-parse", "--verify", "--quiet", "HEAD"],
        cwd=path, env=git_env(), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and len(sha) in (40, 64) else "0" * 40


def _repo_dict(repo) -> dict:
    data = repo.model_dump()
    data["url"] = _redacted(data["url"])
    return data


def _redacted(url: str) -> str:
    from prodsprint_dagster.names import redact_url

    return redact_url(url)
