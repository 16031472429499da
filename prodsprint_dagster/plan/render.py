"""``render_plan``: the audit report in, every file needed to ship the repository out.

The plan is a plain JSON document (files + resources + notes) so it can be stored as an
artifact, diffed against the last applied plan and evaluated by policy. It is deterministic:
the same audit, target, commit, rollout and options give byte-identical files and the same
``plan_hash``, which the audit log and approvals refer to.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from prodsprint_dagster.plan.aws import render_aws
from prodsprint_dagster.plan.kubernetes import render_kubernetes
from prodsprint_dagster.plan.local import render_local
from prodsprint_dagster.plan.model import TARGETS, PlanError, build_model
from prodsprint_dagster.plan.options import resolve_options
from prodsprint_dagster.plan.rollout import check_rollout
from prodsprint_dagster.plan.workflows import render_workflows

PLAN_FORMAT = 1


def plan_hash(files: dict[str, str]) -> str:
    """sha256 over the files sorted by path (path and content, length-prefixed)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        for part in (path.encode(), files[path].encode()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def render_plan(
    audit: dict[str, Any],
    *,
    target: str,
    repo: str,
    commit: str,
    rollout: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Render the deploy plan of ``audit`` for ``target``; raise :class:`PlanError` on bad input."""
    if target not in TARGETS:
        raise PlanError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
    opts = resolve_options(options)
    plan_rollout = check_rollout(rollout)
    model = build_model(audit, repo=repo, commit=commit)
    notes = list(model.notes)
    if target == "aws":
        module = render_aws(model, opts, notes)
        files, resources = module.files(), module.resources()
    elif target == "local":
        module = render_local(model, opts, plan_rollout)
        files, resources = module.files(), module.resources()
    else:
        files, resources = render_kubernetes(model, opts, plan_rollout, notes)
    files.update(render_workflows(audit, repo=repo))
    files = dict(sorted(files.items()))
    unique_notes = {json.dumps(n, sort_keys=True): n for n in notes}
    return {
        "format": PLAN_FORMAT,
        "target": target,
        "repo": repo,
        "commit": commit,
        "options": opts,
        "files": files,
        "resources": resources,
        "services": [s.name for s in model.services],
        "notes": [unique_notes[k] for k in sorted(unique_notes)],
        "rollout": plan_rollout,
        "plan_hash": plan_hash(files),
    }
