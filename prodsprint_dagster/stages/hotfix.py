"""After a rollback: a branch that reverts the offending change, and a pull request for it.

The rollback already put users back on the last good version; the hotfix branch makes the
repository agree with production, so the next commit on the branch does not ship the bad change
again. It is ProdSprint's own branch in the mirror (never a user's checkout), pushed and proposed
as a pull request only when delivery is configured to, exactly like the plan branch.
"""

from __future__ import annotations

import os
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.github import GitHubClient, github_slug
from prodsprint_dagster.release import Release
from prodsprint_dagster.stages.context import StageContext
from prodsprint_dagster.store import AuditEntry


def hotfix_branch_name(commit: str) -> str:
    return f"prodsprint/revert-{commit[:12]}"


def open_hotfix(ctx: StageContext, release: Release, *, actor: str) -> dict[str, Any]:
    """Revert what ``release`` shipped on top of the tracked branch; never raises.

    Everything after the previous good release's commit is reverted when that commit is an
    ancestor of the release's (the whole change that went out); otherwise the release's own
    commit. A revert that cannot apply is reported, not forced.
    """
    bad = release.commit_sha
    good = (release.previous_good or {}).get("commit_sha")
    branch = hotfix_branch_name(bad)
    result: dict[str, Any] = {"branch": branch, "commit": None, "pushed": False,
                              "pull_request": None, "reverts": None}  # fmt: skip
    if good == bad:
        result["skipped"] = "the release's commit is the last good one; nothing to revert"
        return result
    try:
        try:
            base = ctx.git.resolve_branch(ctx.repo.name, ctx.repo.branch)
        except ProdSprintError:
            base = bad
        since = good if good and ctx.git.is_ancestor(ctx.repo.name, good, bad) else None
        result["reverts"] = f"{since[:12]}..{bad[:12]}" if since else bad[:12]
        push = bool(ctx.delivery.get("push_plan_branch"))
        result["commit"] = ctx.git.revert_to_branch(
            ctx.repo.name, base, bad, branch, since_sha=since, push=push,
            message=f"Revert {result['reverts']}: rolled back by ProdSprint\n\n"
            f"Release {release.id} was rolled back: {release_reason(ctx, release)}",
        )  # fmt: skip
        result["pushed"] = push
        token = os.environ.get(ctx.delivery.get("github_token_env") or "GITHUB_TOKEN")
        slug = github_slug(ctx.repo.url)
        if push and token and slug:
            client = GitHubClient(token=token, api_url=ctx.delivery.get("github_api_url") or "")
            pr = client.open_pull_request(
                *slug, head=branch, base=ctx.repo.branch,
                title=f"Revert {bad[:12]} (rolled back in release {release.id})",
                body=f"ProdSprint rolled back release `{release.id}` of `{bad[:12]}` and "
                f"reverts {result['reverts']} so the branch matches production again.\n\n"
                f"Reason: {release_reason(ctx, release)}",
            )  # fmt: skip
            result["pull_request"] = pr.get("html_url")
    except ProdSprintError as exc:
        result["error"] = str(exc)
    ctx.history.append_audit(
        AuditEntry(
            action="release.hotfix_branch", actor=actor, repo=release.repo, commit=bad,
            reason=result.get("error") or result.get("skipped") or f"{branch} reverts "
            f"{result['reverts']}", refs={"release_id": release.id, **result}, run_id=ctx.run_id,
        )
    )  # fmt: skip
    return result


def release_reason(ctx: StageContext, release: Release) -> str:
    rows = ctx.history.query_audit(repo=release.repo, action="release.rolled_back", limit=100_000)
    mine = [r for r in rows if (r.get("refs") or {}).get("release_id") == release.id]
    return (mine[-1]["reason"] or "") if mine else "rolled back"
