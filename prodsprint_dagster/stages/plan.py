"""The deploy-plan stage: render, price and diff the plan, store it, and deliver it as a branch.

"What is live" is the plan of the most recent approval for the repository and target, until
the release stage records applies; the diff and the cost change are taken against it.
"""

from __future__ import annotations

import os
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.github import GitHubClient, github_slug
from prodsprint_dagster.plan import cost_diff, diff_plans, estimate_cost, render_plan
from prodsprint_dagster.policy import rollout_plan_for
from prodsprint_dagster.stages.context import StageContext


def plan_artifact(target: str, name: str) -> str:
    return f"plan/{target}/{name}"


def build_deploy_plan(
    ctx: StageContext,
    audit: dict,
    commit: str,
    *,
    target: str | None = None,
    risk_band: str | None = None,
    options: dict | None = None,
) -> dict[str, Any]:
    """Render the plan for ``commit`` and store it; returns plan, cost, diff and their base."""
    target = target or ctx.repo.target
    pack = ctx.pack()
    if risk_band is None:  # the risk stage's band for this commit, when it has scored it
        risk_band = (ctx.load(commit, "risk.json") or {}).get("band")
    rollout = rollout_plan_for(risk_band, pack)
    plan = render_plan(
        audit, target=target, repo=ctx.repo.name, commit=commit, rollout=rollout, options=options
    )
    previous_commit, previous = last_approved_plan(ctx, target)
    cost = estimate_cost(plan)
    if previous is not None:
        change = cost_diff(cost, estimate_cost(previous))
        cost = {**cost, "previous_monthly_usd": change["monthly_total_old"], "change": change}
    diff = diff_plans(plan, previous)
    doc = {
        "repo": ctx.repo.name,
        "commit": commit,
        "target": target,
        "plan_hash": plan["plan_hash"],
        "plan": plan,
        "cost": cost,
        "diff": {k: v for k, v in diff.items() if k != "unified"},
        "previous_commit": previous_commit,
    }
    io, name = ctx.artifacts, ctx.repo.name
    io.put_json(name, commit, plan_artifact(target, "plan.json"), plan)
    io.put_json(name, commit, plan_artifact(target, "cost.json"), cost)
    io.put_json(name, commit, plan_artifact(target, "diff.json"), doc["diff"])
    io.put_text(name, commit, plan_artifact(target, "diff.patch"), diff["unified"])
    for rel, text in plan["files"].items():
        io.put_text(name, commit, plan_artifact(target, f"files/{rel}"), text)
    if ctx.home is not None:  # sign what was just stored; apply verifies it
        from prodsprint_dagster.provenance import attest_plan, load_or_create_signing_key

        doc["provenance"] = attest_plan(
            io, load_or_create_signing_key(ctx.home), repo=name, commit=commit, target=target,
            repo_uri=ctx.repo.url, run_id=ctx.run_id, now=ctx.clock(),
        )  # fmt: skip
    doc["unified_diff"] = diff["unified"]
    doc["smoke_tests"] = smoke_tests_for(ctx, audit, commit)
    return doc


def smoke_tests_for(ctx: StageContext, audit: dict, commit: str) -> dict[str, str]:
    """Smoke tests for every HTTP service without tests, from the routes its code declares:
    the audit's `no tests` gap arrives in the plan branch together with its remedy."""
    from prodsprint_dagster.quality.perf.routes import code_routes
    from prodsprint_dagster.quality.scaffold import render_smoke_tests, services_without_tests

    untested = services_without_tests(audit)
    if not untested:
        return {}
    checkout = ctx.git.checkout(ctx.repo.name, commit)
    routes = {
        s["name"]: [f"{r.method} {r.path}" for r in code_routes(checkout / (s.get("root") or "."))]
        for s in untested
    }
    return render_smoke_tests(audit, routes)


def last_approved_plan(ctx: StageContext, target: str) -> tuple[str | None, dict | None]:
    """(commit, plan) of the newest approval whose stored plan is for ``target``."""
    if not ctx.history.path.exists():
        return None, None
    with ctx.history.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT commit_sha, plan_hash FROM approvals WHERE repo = ? ORDER BY id DESC",
            [ctx.repo.name],
        ).fetchall()
    for commit, plan_hash in rows:
        plan = ctx.load(commit, plan_artifact(target, "plan.json"))
        if plan is not None and plan.get("plan_hash") == plan_hash:
            return commit, plan
    return None, None


def deliver_plan(ctx: StageContext, doc: dict[str, Any]) -> dict[str, Any]:
    """Commit the rendered files on ``prodsprint/plan-<sha>``; push and open a PR if configured.

    The branch lives in ProdSprint's mirror (never the user's checkout). Pushing is opt-in
    (delivery.push_plan_branch); a pull request needs a GitHub remote and a token in the
    environment variable delivery.github_token_env.
    """
    commit, plan = doc["commit"], doc["plan"]
    branch = f"prodsprint/plan-{commit[:12]}"
    push = bool(ctx.delivery.get("push_plan_branch"))
    # The plan's own paths (terraform/<target>/, helm/, .github/workflows/) are where the
    # files belong in the repository, so the pull request is ready to merge as it is.
    sha = ctx.git.commit_to_branch(
        ctx.repo.name, commit, branch, {**doc.get("smoke_tests", {}), **plan["files"]},
        message=f"ProdSprint deploy plan ({doc['target']}) for {commit[:12]}\n\n"
        f"Plan hash: {doc['plan_hash']}",
        push=push,
    )  # fmt: skip
    result: dict[str, Any] = {"branch": branch, "commit": sha, "pushed": push, "pull_request": None}
    token = os.environ.get(ctx.delivery.get("github_token_env") or "GITHUB_TOKEN")
    slug = github_slug(ctx.repo.url)
    if push and token and slug:
        client = GitHubClient(token=token, api_url=ctx.delivery.get("github_api_url") or "")
        try:
            pr = client.open_pull_request(
                *slug, head=branch, base=ctx.repo.branch,
                title=f"ProdSprint deploy plan for {commit[:12]} ({doc['target']})",
                body=plan_summary_markdown(doc),
            )  # fmt: skip
        except ProdSprintError as exc:
            result["pull_request_error"] = str(exc)
        else:
            result["pull_request"] = pr.get("html_url")
    return result


def plan_summary_markdown(doc: dict[str, Any]) -> str:
    """What a reviewer reads first: what changes, what it costs, what is risky."""
    summary, cost = doc["diff"]["summary"], doc["cost"]
    lines = [
        f"### Deploy plan `{doc['target']}` for `{doc['commit'][:12]}`",
        "",
        f"Plan hash `{doc['plan_hash'][:16]}`; compared with "
        + (
            f"`{doc['previous_commit'][:12]}`" if doc["previous_commit"] else "nothing (first plan)"
        ),
        "",
        f"- resources: {len(summary['added'])} added, {len(summary['changed'])} changed, "
        f"{len(summary['destroyed'])} destroyed",
        f"- monthly cost: ${cost['monthly_total']:,.2f}"
        + (f" (was ${cost['previous_monthly_usd']:,.2f})" if "previous_monthly_usd" in cost else "")
        + (f"; unknown for {len(cost['unknown'])} resources" if cost["unknown"] else ""),
        f"- rollout: {doc['plan']['rollout']['strategy']} "
        + " → ".join(f"{s['weight']}%" for s in doc["plan"]["rollout"]["steps"]),
    ]
    notes = doc["diff"]["risk_notes"] + [
        n for n in doc["plan"]["notes"] if n.get("severity") in ("warning", "error")
    ]
    if notes:
        lines += ["", "| risk | where | note |", "|---|---|---|"]
        for n in notes:
            lines.append(f"| {n.get('code')} | {n.get('address', '')} | {n.get('message')} |")
    return "\n".join(lines)
