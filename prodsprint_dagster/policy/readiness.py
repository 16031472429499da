"""The readiness decision: Rego denies mapped onto a deterministic, ordered checklist.

Python's part is bookkeeping only: normalize the inputs into facts (facts.py), ask the pack's
Rego once for every ``deny`` and ``warn``, then sort them into one item per gate in GATES order,
apply waivers and mark what blocks. A gate whose input has not been built is "not_measured" —
listed, never passed; whether that blocks is the pack's ``not_measured_blocking`` setting.
Nothing here reads the clock: ``now`` is an argument, so the same inputs give byte-identical
JSON (``json.dumps(..., sort_keys=True)``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from prodsprint_dagster.policy import facts as F
from prodsprint_dagster.policy.errors import PolicyError
from prodsprint_dagster.policy.freeze import freeze_status
from prodsprint_dagster.policy.gates import GATE_INPUTS, INPUT_ASSETS, gate_order, runbook
from prodsprint_dagster.policy.pack import PolicyPack
from prodsprint_dagster.policy.rollout import rollout_plan_for
from prodsprint_dagster.policy.waivers import Waiver, covering_waiver

INPUT_KEYS: tuple[str, ...] = (
    "repo", "commit", "audit", "sbom", "vulnerabilities", "coverage", "tests", "perf", "cost",
    "risk", "plan", "environment", "approvers",
)  # fmt: skip
_MAX_DETAIL = 5


def build_facts(
    inputs: dict[str, Any], pack: PolicyPack, now: datetime
) -> tuple[dict[str, Any], set[str]]:
    """The Rego input document and the set of inputs that are present."""
    present = {key for key in INPUT_KEYS if inputs.get(key) is not None}
    facts: dict[str, Any] = {"approvers": []}
    bad: dict[str, str] = {}
    readers = {
        "tests": lambda v: {"tests": F.tests(v)},
        "coverage": lambda v: {"coverage": F.coverage(v)},
        "vulnerabilities": lambda v: {"vulnerabilities": F.vulnerabilities(v)},
        "sbom": lambda v: {"sbom": F.sbom(v)},
        "audit": lambda v: dict(zip(("audit_gaps", "secrets"), F.audit(v), strict=True)),
        "perf": lambda v: {"perf": F.perf(v)},
        "cost": lambda v: {"cost": F.cost(v)},
        "risk": lambda v: {"risk": F.risk(v, pack.settings.get("risk_band_thresholds") or {})},
        "plan": lambda v: F.plan(v),
        "environment": lambda v: {"environment": F.environment(v)},
        "approvers": lambda v: {"approvers": F.approvers(v)},
    }
    for key, read in readers.items():
        if key in present:
            try:
                facts.update(read(inputs[key]))
            except F.Malformed as exc:
                bad[key] = str(exc)
    malformed = {}
    for gate in pack.gates:
        needs = (*GATE_INPUTS.get(gate, ()), *(("approvers",) if gate.startswith("two_") else ()))
        for key in needs:
            if key in bad:
                malformed[gate] = bad[key]
                break
    facts["malformed"] = malformed
    band = facts.get("risk", {}).get("band")
    facts["rollout"] = rollout_plan_for(band, pack)
    freeze = freeze_status(pack, now)
    facts["freeze"] = {"active": False} if freeze is None else {"active": True, **freeze}
    return F.sanitize(facts), present


def _results(raw: Any, kind: str, pack: PolicyPack) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PolicyError(f"policy pack {pack.name}: `{kind}` must be a set of objects")
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("gate"), str):
            raise PolicyError(
                f"policy pack {pack.name}: every `{kind}` must be an object with a `gate`; "
                f"got {json.dumps(entry, sort_keys=True)[:200]}"
            )
        out.append(
            {
                "gate": entry["gate"],
                "finding": str(entry.get("finding") or entry["gate"]),
                "message": str(entry.get("msg") or entry.get("message") or entry["gate"]),
                "control": entry.get("control"),
                "evidence": entry.get("evidence"),
            }
        )
    return out


def _summary(gate: str, facts: dict[str, Any]) -> str:
    """What a passing gate measured, in one line."""
    if gate == "tests":
        t = facts["tests"]
        return f"{t['total']} tests, {t['failed']} failed, {t['errors']} errors"
    if gate == "coverage":
        c = facts["coverage"]
        patch = f", patch {c['patch_percent']:.1f}%" if "patch_percent" in c else ""
        return f"line coverage {c['percent']:.1f}%{patch}"
    if gate == "vulnerabilities":
        return f"{len(facts['vulnerabilities'])} known vulnerabilities, none blocking"
    if gate == "sbom":
        return f"{facts['sbom']['format']} SBOM with {facts['sbom']['components']} components"
    if gate == "secrets":
        return "no plaintext secrets committed"
    if gate == "perf":
        return ", ".join(f"{k} {v:g}" for k, v in facts["perf"]["metrics"].items())[:300]
    if gate == "cost":
        c = facts["cost"]
        was = f" (was ${c['previous_monthly_usd']:,.2f})" if "previous_monthly_usd" in c else ""
        return f"${c['monthly_usd']:,.2f}/month{was}"
    if gate == "risk":
        r = facts["risk"]
        score = f"score {r['score']:.2f}, " if "score" in r else ""
        return f"{score}band {r['band']}"
    if gate == "freeze_window":
        return "no freeze window active"
    if gate == "audit":
        warnings = sum(1 for g in facts["audit_gaps"] if g["severity"] == "warning")
        return f"no error gaps ({warnings} warnings)"
    if gate == "two_approvers_prod":
        if facts.get("environment") != "prod":
            return f"not a prod release ({facts.get('environment')})"
        return f"approved by {', '.join(facts['approvers'])}"
    if gate in ("encryption_at_rest", "backup_retention", "data_classification"):
        return f"{len(facts['resources'])} plan resources checked"
    if gate == "audit_log_retention":
        return f"audit logs kept {facts['logging'].get('retention_days')} days"
    return "no policy denial"


def _join(messages: list[str]) -> str:
    shown = messages[:_MAX_DETAIL]
    more = len(messages) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def _item(
    gate: str,
    pack: PolicyPack,
    facts: dict[str, Any],
    present: set[str],
    denies: list[dict[str, Any]],
    warns: list[dict[str, Any]],
    waivers: list[Waiver],
    repo: str | None,
    now: datetime,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "gate": gate,
        "remediation": runbook(gate),
        "control": pack.control(gate),
        "waiver": None,
        "blocking": False,
        "findings": [],
    }
    missing = [key for key in GATE_INPUTS.get(gate, ()) if key not in present]
    if missing:
        assets = ", ".join(INPUT_ASSETS.get(key, key) for key in missing)
        item.update(status="not_measured", detail=f"not measured: no {assets} yet")
        if pack.not_measured_blocks(gate):
            active, stale = covering_waiver(waivers, repo, gate, None, now)
            item["blocking"] = active is None
            chosen = active or stale
            item["waiver"] = chosen.to_dict(now) if chosen else None
        return item

    findings = []
    applied: list[Waiver] = []
    stale_seen: list[Waiver] = []
    for deny in denies:
        active, stale = covering_waiver(waivers, repo, gate, deny["finding"], now)
        if active:
            applied.append(active)
        if stale:
            stale_seen.append(stale)
        findings.append(
            {
                "finding": deny["finding"],
                "level": "deny",
                "message": deny["message"],
                "evidence": deny["evidence"],
                "waiver": active.id if active else None,
            }
        )
    for warn in warns:
        findings.append(
            {
                "finding": warn["finding"],
                "level": "warn",
                "message": warn["message"],
                "evidence": warn["evidence"],
                "waiver": None,
            }
        )
    item["findings"] = findings
    controls = [d["control"] for d in denies + warns if d["control"]]
    if controls:
        item["control"] = controls[0]
    open_denies = [f["message"] for f in findings if f["level"] == "deny" and not f["waiver"]]
    warn_messages = [f["message"] for f in findings if f["level"] == "warn"]
    if open_denies:
        advisory = gate in (pack.settings.get("advisory_gates") or [])
        detail = _join(open_denies)
        if stale_seen:
            w = stale_seen[0]
            why = "revoked" if w.revoked_at else f"expired {w.expires_at.isoformat()}"
            detail += f" (waiver {w.id or w.ticket} {why}; it does not apply)"
            item["waiver"] = w.to_dict(now)
        item.update(
            status="warn" if advisory else "fail",
            detail=("advisory: " + detail) if advisory else detail,
            blocking=not advisory,
        )
    elif applied:
        w = applied[0]
        item.update(
            status="waived",
            detail=(
                f"waived by {w.id or w.ticket} (ticket {w.ticket}, until "
                f"{w.expires_at.isoformat()}): " + _join([f["message"] for f in findings])
            ),
            waiver=w.to_dict(now),
        )
    elif warn_messages:
        item.update(status="warn", detail=_join(warn_messages))
    else:
        item.update(status="pass", detail=_summary(gate, facts))
    return item


def evaluate_readiness(
    inputs: dict[str, Any],
    pack: PolicyPack,
    *,
    waivers: Iterable[Waiver] = (),
    now: datetime,
) -> dict[str, Any]:
    """The readiness checklist for ``inputs`` under ``pack`` at ``now`` (see module doc)."""
    if now.tzinfo is None:
        raise PolicyError("evaluate_readiness needs a time-zone aware `now`")
    repo, commit = inputs.get("repo"), inputs.get("commit")
    waiver_list = sorted(waivers, key=lambda w: (w.id or "", w.gate, w.finding or ""))
    facts, present = build_facts(inputs, pack, now)
    result = pack.rego.evaluate(facts)
    denies = _results(result.get("deny"), "deny", pack)
    warns = _results(result.get("warn"), "warn", pack)

    def by_gate(rows: list[dict[str, Any]], gate: str) -> list[dict[str, Any]]:
        return sorted(
            (r for r in rows if r["gate"] == gate), key=lambda r: (r["finding"], r["message"])
        )

    items = [
        _item(
            gate, pack, facts, present, by_gate(denies, gate), by_gate(warns, gate),
            waiver_list, repo, now,
        )
        for gate in sorted(pack.gates, key=gate_order)
    ]  # fmt: skip
    blockers = [item["gate"] for item in items if item["blocking"]]
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return {
        "repo": repo,
        "commit": commit,
        "environment": facts.get("environment"),
        "pack": pack.identity(),
        "verdict": "blocked" if blockers else "ready",
        "items": items,
        "blockers": blockers,
        "counts": dict(sorted(counts.items())),
        "freeze": None if not facts["freeze"]["active"] else facts["freeze"],
        "rollout": facts["rollout"],
    }


_ICONS = {"pass": "✅", "fail": "❌", "waived": "🟡", "warn": "⚠️", "not_measured": "⬜"}


def checklist_markdown(readiness: dict[str, Any]) -> str:
    """The checklist as markdown, for the asset's UI metadata and the CLI."""
    pack = readiness["pack"]
    verdict = readiness["verdict"].upper()
    lines = [
        f"**Readiness: {verdict}** · pack `{pack['name']}` {pack['version']}"
        + (f" · blockers: {', '.join(readiness['blockers'])}" if readiness["blockers"] else ""),
        "",
        "| | gate | status | detail | control | runbook |",
        "|---|---|---|---|---|---|",
    ]
    for item in readiness["items"]:
        detail = str(item["detail"]).replace("|", "\\|").replace("\n", " ")
        block = " (blocking)" if item["blocking"] else ""
        lines.append(
            f"| {_ICONS.get(item['status'], '')} | {item['gate']} | {item['status']}{block} | "
            f"{detail} | {item['control'] or ''} | [runbook]({item['remediation']}) |"
        )
    rollout = readiness["rollout"]
    steps = " → ".join(
        f"{s['weight']}%" + (" (manual)" if s["manual"] else "") for s in rollout["steps"]
    )
    lines += ["", f"Rollout ({rollout['band']} risk, {rollout['strategy']}): {steps}"]
    return "\n".join(lines) + "\n"


def _sha256(doc: Any) -> str:
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def evidence_bundle(
    inputs: dict[str, Any],
    pack: PolicyPack,
    *,
    readiness: dict[str, Any],
    waivers: Iterable[Waiver] = (),
    now: datetime,
) -> dict[str, Any]:
    """Everything needed to re-check one decision later: inputs, pack, facts, results, waivers.

    The lead stores it as an artifact next to the readiness asset; its hashes let an auditor
    verify that a recorded verdict came from exactly these inputs and this pack.
    """
    safe_inputs = json.loads(json.dumps(inputs, sort_keys=True, default=str))
    facts, _ = build_facts(inputs, pack, now)
    base = pack.path.parent
    files = []
    for path in pack.files:
        try:
            name = str(path.relative_to(base))
        except ValueError:
            name = str(path)
        files.append({"path": name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return {
        "kind": "prodsprint.readiness.evidence",
        "version": 1,
        "repo": readiness.get("repo"),
        "commit": readiness.get("commit"),
        "decided_at": now.isoformat(),
        "pack": {
            **pack.identity(),
            "chain": list(pack.chain),
            "files": files,
            "settings": json.loads(json.dumps(pack.settings, sort_keys=True, default=str)),
        },
        "inputs": safe_inputs,
        "inputs_sha256": _sha256(safe_inputs),
        "facts": facts,
        "readiness": readiness,
        "readiness_sha256": _sha256(readiness),
        "waivers": [w.to_dict(now) for w in sorted(waivers, key=lambda w: w.id or "")],
    }
