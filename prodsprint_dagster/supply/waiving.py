"""Waivers applied to vulnerability findings: which finding a human has accepted, until when.

A waiver of gate ``vulnerabilities`` covers a finding when its ``finding`` is the finding's
preferred id or any of its merged ids and aliases (so a waiver written against the GHSA id
still holds when the report prefers the CVE), ``package@version``, or ``package`` (any version
of it); a waiver without ``finding`` waives the whole gate. Package names compare the way the
ecosystem compares them (PyYAML == pyyaml on PyPI).

Only an active waiver applies. When the only matching waivers have expired (or were revoked),
the finding stays unwaived and says so (``waiver_expired`` / ``waiver_revoked``), so the report
tells the reader why yesterday's accepted risk is back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from prodsprint_dagster.policy import Waiver
from prodsprint_dagster.supply.osv.records import normalize_name

GATE = "vulnerabilities"


def _split(target: str) -> tuple[str, str | None]:
    """``name@version`` -> (name, version); ``@scope/pkg`` alone is a name (npm scopes)."""
    if "@" in target[1:]:
        name, version = target.rsplit("@", 1)
        return name, version
    return target, None


def _specificity(waiver: Waiver, finding: dict[str, Any]) -> int | None:
    """How precisely ``waiver`` names ``finding`` (higher is more precise); None: it does not."""
    target = waiver.finding
    if target is None:
        return 0
    if target == finding.get("id"):
        return 4
    if target in (finding.get("ids") or ()):
        return 3
    ecosystem = str(finding.get("ecosystem") or "")
    package = normalize_name(ecosystem, str(finding.get("package") or ""))
    name, version = _split(target)
    if normalize_name(ecosystem, name) != package:
        return None
    if version is None:
        return 1
    return 2 if version == str(finding.get("version") or "") else None


def apply_waivers(
    findings: list[dict[str, Any]], waivers: Iterable[Waiver], *, repo: str, now: datetime
) -> list[dict[str, Any]]:
    """Copies of ``findings`` with ``waived`` (and ``waiver``, or ``waiver_expired`` /
    ``waiver_revoked`` when only a stale waiver matched) set."""
    relevant = [w for w in waivers if w.repo == repo and w.gate == GATE]
    out = []
    for finding in findings:
        marked = {
            k: v
            for k, v in finding.items()
            if k not in ("waived", "waiver", "waiver_expired", "waiver_revoked")
        }
        best: tuple[int, str, Waiver] | None = None
        stale: tuple[int, str, Waiver] | None = None
        for waiver in relevant:
            rank = _specificity(waiver, finding)
            if rank is None:
                continue
            entry = (rank, waiver.id or "", waiver)
            if waiver.is_active(now):
                if best is None or entry[:2] > best[:2]:
                    best = entry
            elif stale is None or entry[:2] > stale[:2]:
                stale = entry
        marked["waived"] = best is not None
        if best is not None:
            marked["waiver"] = best[2].id
        elif stale is not None:
            waiver = stale[2]
            key = "waiver_revoked" if waiver.revoked_at is not None else "waiver_expired"
            marked[key] = waiver.id
        out.append(marked)
    return out
