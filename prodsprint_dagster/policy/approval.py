"""Approving a release: refused while unwaived blockers stand or a freeze window is active.

The readiness verdict may be minutes old when someone approves, so approval re-judges it at
``now``: waivers are applied again (one that expired since does not count), the freeze window is
looked up again, and a readiness decided under a different pack is refused. A freeze can only be
overridden with an emergency reason, and the override is its own audit-log row. For packs with
the ``two_approvers_prod`` gate an approval that is not yet the second distinct one is recorded
but reports ``approved: false``; that gate never refuses, it counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.policy.errors import ApprovalRefused, PolicyError
from prodsprint_dagster.policy.freeze import freeze_status
from prodsprint_dagster.policy.pack import PolicyPack
from prodsprint_dagster.policy.waivers import Waiver, covering_waiver
from prodsprint_dagster.store.history import AuditEntry, HistoryStore

# Gates approval judges itself, at approval time, instead of trusting the readiness snapshot.
_LIVE_GATES = ("freeze_window", "two_approvers_prod")


def _standing(
    readiness: dict[str, Any], repo: str, waivers: list[Waiver], now: datetime
) -> tuple[list[str], list[Waiver], list[Waiver]]:
    """(gates still blocking, waivers that clear blockers, expired waivers that would have)."""
    standing: list[str] = []
    used: dict[str, Waiver] = {}
    stale: dict[str, Waiver] = {}
    for item in readiness.get("items", []):
        gate = item["gate"]
        if gate in _LIVE_GATES:
            continue
        if item["status"] == "waived" and item.get("waiver"):
            # Waived when readiness ran: the waiver must still hold now.
            carried = [Waiver.from_dict(item["waiver"])]
            findings = [f["finding"] for f in item.get("findings", []) if f["level"] == "deny"]
        elif item.get("blocking"):
            carried = []
            if item["status"] == "not_measured":
                findings = [None]
            else:
                findings = [
                    f["finding"]
                    for f in item.get("findings", [])
                    if f["level"] == "deny" and not f.get("waiver")
                ] or [None]
        else:
            continue
        cleared = True
        for finding in findings:
            active, expired = covering_waiver([*waivers, *carried], repo, gate, finding, now)
            if active:
                used[active.id or active.ticket] = active
            else:
                cleared = False
                if expired:
                    stale[expired.id or expired.ticket] = expired
        if not cleared:
            standing.append(gate)
    return standing, list(used.values()), list(stale.values())


def _approvers_so_far(history: HistoryStore, repo: str, commit: str, plan_hash: str) -> set[str]:
    if not history.path.exists():
        return set()
    with history.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT approver FROM approvals WHERE repo = ? AND commit_sha = ?"
            " AND plan_hash IS NOT DISTINCT FROM ?",
            [repo, commit, plan_hash],
        ).fetchall()
    return {row[0] for row in rows}


def approve(
    history: HistoryStore,
    *,
    repo: str,
    commit: str,
    plan_hash: str,
    approver: str,
    reason: str,
    readiness: dict[str, Any],
    waivers: Iterable[Waiver],
    now: datetime,
    emergency_reason: str | None = None,
    pack: PolicyPack,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Record an approval, or raise ApprovalRefused naming the unwaived blockers."""
    validate_repo_name(repo)
    if now.tzinfo is None:
        raise PolicyError("approve needs a time-zone aware `now`")
    if not str(approver or "").strip():
        raise PolicyError("an approval needs an approver")
    if not str(reason or "").strip():
        raise PolicyError("an approval needs a reason")
    waiver_list = [w for w in waivers if w.repo == repo]

    def refuse(message: str, blockers: list[str], expired: list[Waiver] = ()) -> ApprovalRefused:
        history.append_audit(
            AuditEntry(
                action="release.approve_refused",
                actor=approver,
                repo=repo,
                commit=commit,
                reason=message,
                refs={"plan_hash": plan_hash, "blockers": blockers, "pack": pack.name},
                run_id=run_id,
                at=now,
            )
        )
        return ApprovalRefused(
            message, blockers=blockers, expired=[w.id or w.ticket for w in expired]
        )

    if readiness.get("repo") != repo or readiness.get("commit") != commit:
        raise refuse(
            f"the readiness decision is for {readiness.get('repo')}@{readiness.get('commit')}, "
            f"not {repo}@{commit}; evaluate readiness for this commit first",
            ["readiness"],
        )
    if (readiness.get("pack") or {}).get("digest") != pack.digest:
        raise refuse(
            f"the readiness decision was made under a different policy pack than "
            f"{pack.name} {pack.version}; evaluate readiness again",
            ["readiness"],
        )
    standing, used, stale = _standing(readiness, repo, waiver_list, now)
    if standing:
        note = (
            " (expired or revoked waivers: " + ", ".join(w.id or w.ticket for w in stale) + ")"
            if stale
            else ""
        )
        raise refuse(
            f"approval refused: unwaived blockers {', '.join(standing)}{note}", standing, stale
        )
    freeze = freeze_status(pack, now)
    emergency = bool(freeze) and bool(str(emergency_reason or "").strip())
    if freeze and not emergency:
        raise refuse(
            f"approval refused: freeze window {freeze['name']} is active until "
            f"{freeze['ends_at']}; an emergency reason is needed to override it",
            ["freeze_window"],
        )

    needed = 1
    if "two_approvers_prod" in pack.gates and readiness.get("environment") == "prod":
        needed = int(pack.settings.get("prod_min_approvers", 2))
    approvers = _approvers_so_far(history, repo, commit, plan_hash) | {approver}
    waiver_ids = sorted(w.id or w.ticket for w in used)
    with history.connect() as con:
        approval_id = con.execute(
            "INSERT INTO approvals (repo, commit_sha, plan_hash, approver, reason, emergency,"
            " emergency_reason, created_at, waiver_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            [
                repo, commit, plan_hash, approver, reason, emergency,
                emergency_reason if emergency else None, now, json.dumps(waiver_ids),
            ],
        ).fetchone()[0]  # fmt: skip
    approved = len(approvers) >= needed
    entries = [
        AuditEntry(
            action="release.approve",
            actor=approver,
            repo=repo,
            commit=commit,
            reason=reason,
            refs={
                "approval_id": approval_id,
                "plan_hash": plan_hash,
                "pack": pack.identity(),
                "waiver_ids": waiver_ids,
                "emergency": emergency,
                "approved": approved,
                "approvers": sorted(approvers),
            },
            run_id=run_id,
            at=now,
        )
    ]
    for waiver in sorted(used, key=lambda w: w.id or w.ticket):
        entries.append(
            AuditEntry(
                action="waiver.apply",
                actor=approver,
                repo=repo,
                commit=commit,
                reason=waiver.reason,
                refs={
                    "approval_id": approval_id,
                    "waiver_id": waiver.id,
                    "gate": waiver.gate,
                    "finding": waiver.finding,
                    "ticket": waiver.ticket,
                    "expires_at": waiver.expires_at.astimezone(UTC).isoformat(),
                },
                run_id=run_id,
                at=now,
            )
        )
    if emergency:
        entries.append(
            AuditEntry(
                action="release.emergency_override",
                actor=approver,
                repo=repo,
                commit=commit,
                reason=str(emergency_reason),
                refs={"approval_id": approval_id, "freeze_window": freeze, "plan_hash": plan_hash},
                run_id=run_id,
                at=now,
            )
        )
    history.append_audit_many(entries)
    return {
        "id": approval_id,
        "repo": repo,
        "commit": commit,
        "plan_hash": plan_hash,
        "approver": approver,
        "reason": reason,
        "emergency": emergency,
        "emergency_reason": emergency_reason if emergency else None,
        "freeze_window": freeze,
        "created_at": now.astimezone(UTC).isoformat(),
        "waiver_ids": waiver_ids,
        "approvers": sorted(approvers),
        "approvers_needed": needed,
        "approved": approved,
    }
