"""What a rollback leaves behind: an incident record and a postmortem stub.

An incident is an audit-log row (``incident.recorded``, refs ``release_id``, ``commit``,
``step``, ``verdict``), a row of the ``incidents`` table (caused by the release's commit, source
``rollback``: a label the change-risk model learns from) and a JSON artifact
``incidents/<release_id>.json`` under the release's commit. The postmortem
stub (``release/<release_id>/postmortem.md``) is written from the audit log, so its timeline is
exactly what was recorded, and leaves the parts only people can write (root cause, actions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from prodsprint_dagster.release.state import Release
from prodsprint_dagster.risk.incidents import record_rollback
from prodsprint_dagster.store.history import AuditEntry, HistoryStore

INCIDENT_ACTION = "incident.recorded"


def incident_name(release_id: str) -> str:
    return f"incidents/{release_id}.json"


def postmortem_name(release_id: str) -> str:
    return f"release/{release_id}/postmortem.md"


def verdict_summary(verdict: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The verdict without raw samples: what the audit row and the incident carry."""
    if not verdict:
        return None
    keep = ("overall", "score", "action", "reason", "window", "samples")
    summary = {k: verdict[k] for k in keep if k in verdict}
    summary["metrics"] = [
        {k: m.get(k) for k in ("name", "verdict", "reason")} for m in verdict.get("metrics") or []
    ]
    return summary


def release_timeline(history: HistoryStore, release: Release) -> list[dict[str, Any]]:
    """The release's audit rows, oldest first (transitions, step results, the incident)."""
    rows = history.query_audit(repo=release.repo, since=release.created_at, limit=100_000)
    return [row for row in rows if (row.get("refs") or {}).get("release_id") == release.id]


def record_incident(
    history: HistoryStore,
    artifacts: Any,
    release: Release,
    *,
    reason: str,
    verdict: Mapping[str, Any] | None,
    actor: str,
    run_id: str | None,
    details: Mapping[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append the incident audit row, record it for the risk model and write
    ``incidents/<id>.json``; returns the incident."""
    now = now or datetime.now(UTC)
    summary = verdict_summary(verdict)
    refs = {
        "release_id": release.id,
        "commit": release.commit_sha,
        "step": release.step_index,
        "verdict": (
            {k: summary.get(k) for k in ("overall", "score", "action")} if summary else None
        ),
    }
    row_id = history.append_audit(
        AuditEntry(
            action=INCIDENT_ACTION,
            actor=actor,
            repo=release.repo,
            commit=release.commit_sha,
            reason=reason,
            refs=refs,
            run_id=run_id,
            at=now,
        )
    )
    record_rollback(
        history, repo=release.repo, release_id=release.id, commit=release.commit_sha,
        verdict=summary, reason=reason, service=details.get("service"), opened_at=now,
    )  # fmt: skip
    incident = {
        "id": f"incident-{release.id}",
        "audit_id": row_id,
        "recorded_at": now.isoformat(),
        "release_id": release.id,
        "repo": release.repo,
        "commit": release.commit_sha,
        "environment": release.environment,
        "target": release.target,
        "band": release.rollout.get("band"),
        "step": release.step_index,
        "weight": _step_weight(release),
        "reason": reason,
        "verdict": summary,
        "previous_good": release.previous_good,
        **dict(details),
    }
    incident["uri"] = artifacts.put_json(
        release.repo, release.commit_sha, incident_name(release.id), incident
    )
    return incident


def write_postmortem(
    history: HistoryStore, artifacts: Any, release: Release, incident: Mapping[str, Any]
) -> str:
    """Render and store the postmortem stub; returns its URI."""
    text = render_postmortem(release, incident, release_timeline(history, release))
    return artifacts.put_text(release.repo, release.commit_sha, postmortem_name(release.id), text)


def _step_weight(release: Release) -> int | None:
    if release.step_index is None or release.step_index >= len(release.plan_steps):
        return None
    return int(release.plan_steps[release.step_index].get("weight", 0))


def _cell(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def render_postmortem(
    release: Release, incident: Mapping[str, Any], timeline: list[dict[str, Any]]
) -> str:
    """Markdown: summary, the verdict and metrics at failure, the timeline, open questions."""
    band = release.rollout.get("band") or "?"
    step = release.step_index
    weight = incident.get("weight")
    lines = [
        f"# Postmortem (draft): release {release.id} of {release.repo} rolled back",
        "",
        "_Generated by ProdSprint at rollback time. Fill in the sections marked TODO._",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| release | `{release.id}` |",
        f"| repository | `{release.repo}` |",
        f"| commit | `{release.commit_sha}` |",
        f"| service / version | `{_cell(incident.get('service'))}` / "
        f"`{_cell(incident.get('version'))}` |",
        f"| environment / target | {release.environment} / {release.target} |",
        f"| risk band | {band} |",
        f"| plan hash | `{_cell(release.plan_hash)}` |",
        f"| failed at | {release.state if step is None else f'canary step {step}'}"
        + (f" ({weight} %)" if weight is not None and step is not None else "")
        + " |",
        f"| reason | {_cell(incident.get('reason'))} |",
        f"| detected at | {_cell(_iso(incident.get('detected_at')))} |",
        f"| traffic back on stable at | {_cell(_iso(incident.get('stable_at')))} |",
        f"| rollback seconds | {_cell(incident.get('rollback_seconds'))} |",
        f"| previous good | {_cell(_previous(release.previous_good))} |",
        f"| infrastructure | {_cell(_infra(incident.get('infra')))} |",
        "",
    ]
    verdict = incident.get("verdict") or None
    lines += ["## Verdict and metrics at failure", ""]
    if verdict:
        lines += [
            f"Overall **{verdict.get('overall')}** (score {verdict.get('score')}, action "
            f"{verdict.get('action')}): {_cell(verdict.get('reason'))}",
            "",
        ]
        if verdict.get("metrics"):
            lines += ["| metric | verdict | reason |", "|---|---|---|"]
            lines += [
                f"| {_cell(m.get('name'))} | {_cell(m.get('verdict'))} | {_cell(m.get('reason'))} |"
                for m in verdict["metrics"]
            ]
            lines.append("")
        samples = verdict.get("samples") or {}
        if samples:
            lines += [
                "| version | role | requests | 5xx | error rate | p50 ms | p95 ms |",
                "|---|---|---|---|---|---|---|",
            ]
            for version, s in samples.items():
                lines.append(
                    f"| `{_cell(version)}` | {_cell(s.get('role'))} | {s.get('requests')} | "
                    f"{s.get('errors')} | {_cell(s.get('error_rate'))} | "
                    f"{_cell(s.get('p50_ms'))} | {_cell(s.get('p95_ms'))} |"
                )
            lines.append("")
        window = verdict.get("window") or {}
        if window:
            lines += [
                f"Analysis window: {_cell(_iso(window.get('since')))} to "
                f"{_cell(_iso(window.get('until')))} ({window.get('seconds')} s).",
                "",
            ]
    else:
        lines += ["No canary verdict: the release was rolled back outside an analysis.", ""]
    lines += [
        "## Timeline (audit log)",
        "",
        "| time | actor | action | reason |",
        "|---|---|---|---|",
    ]
    for row in timeline:
        lines.append(
            f"| {_cell(row.get('occurred_at'))} | {_cell(row.get('actor'))} | "
            f"{_cell(row.get('action'))} | {_cell(row.get('reason'))} |"
        )
    lines += [
        "",
        "## Impact",
        "",
        "TODO: who saw the failing version, for how long, and what they saw.",
        "",
        "## Root cause",
        "",
        "TODO",
        "",
        "## Action items",
        "",
        "- [ ] TODO",
        "",
    ]
    return "\n".join(lines)


def _iso(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")
    return value


def _previous(previous: Mapping[str, Any] | None) -> str:
    if not previous:
        return "none (first release)"
    return f"{previous.get('release_id')} ({str(previous.get('commit_sha'))[:12]})"


def _infra(infra: Mapping[str, Any] | None) -> str:
    if not infra:
        return "not touched"
    return str(infra.get("outcome") or infra)


def sample_summary(doc: Mapping[str, Any] | None, role: str) -> dict[str, Any]:
    """Counts and percentiles of one version's metrics (no raw latencies)."""
    doc = doc or {}
    requests = int(doc.get("requests") or 0)
    errors = int(doc.get("errors") or 0)
    lat = np.asarray(doc.get("latencies_ms") or (), dtype=np.float64)
    return {
        "role": role,
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 6) if requests else None,
        "p50_ms": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
        "latency_samples": int(lat.size),
        "truncated": bool(doc.get("truncated", False)),
    }
