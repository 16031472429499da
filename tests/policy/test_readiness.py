"""The readiness checklist: deterministic, ordered, honest about what was not measured."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

from prodsprint_dagster.policy import (
    GATES,
    Waiver,
    checklist_markdown,
    evaluate_readiness,
    evidence_bundle,
    load_pack,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
BASE = {
    "repo": "shop",
    "commit": "b" * 40,
    "tests": {"passed": 12, "failed": 0},
    "coverage": {"percent": 72.5},
    "vulnerabilities": [
        {"id": "GHSA-aaaa", "severity": "CRITICAL", "package": "django", "version": "3.2",
         "fixed_version": "3.2.25"},
        {"id": "CVE-2024-2", "severity": "HIGH", "package": "requests", "version": "2.0"},
        {"id": "CVE-2024-3", "severity": "MEDIUM", "package": "idna", "version": "2.0"},
    ],
    "audit": {"gaps": [{"code": "no_ci", "severity": "warning", "message": "no CI",
                        "remediation": "add CI"}], "secrets": []},
    "risk": {"score": 0.75},
}  # fmt: skip


def _waiver(gate, finding=None, *, days=7, wid="wv-1", repo="shop"):
    return Waiver(
        repo=repo, gate=gate, finding=finding, reason="accepted for the hotfix", ticket="SEC-42",
        owner="alice", expires_at=NOW + timedelta(days=days), id=wid,
        created_at=NOW - timedelta(days=1),
    )  # fmt: skip


def _item(readiness, gate):
    return next(item for item in readiness["items"] if item["gate"] == gate)


def test_byte_identical_across_runs_and_input_order():
    pack = load_pack("soc2")
    first = evaluate_readiness(BASE, pack, now=NOW, waivers=[_waiver("coverage")])
    shuffled = copy.deepcopy(BASE)
    shuffled["vulnerabilities"].reverse()
    shuffled = dict(reversed(list(shuffled.items())))
    second = evaluate_readiness(shuffled, pack, now=NOW, waivers=[_waiver("coverage")])
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert [item["gate"] for item in first["items"]] == [g for g in GATES if g in pack.gates]


def test_missing_inputs_are_not_measured_never_passed():
    readiness = evaluate_readiness({"repo": "shop", "commit": None}, load_pack("default"), now=NOW)
    statuses = {item["gate"]: item["status"] for item in readiness["items"]}
    assert statuses.pop("freeze_window") == "pass"  # the clock is always measured
    assert set(statuses.values()) == {"not_measured"}
    # default pack: listed but not blocking (the pack setting not_measured_blocking: false)
    assert readiness["verdict"] == "ready" and readiness["blockers"] == []
    assert "sbom" in _item(readiness, "sbom")["detail"]
    soc2 = evaluate_readiness({"repo": "shop"}, load_pack("soc2"), now=NOW)
    assert soc2["verdict"] == "blocked" and "coverage" in soc2["blockers"]


def test_none_counts_as_missing():
    readiness = evaluate_readiness({**BASE, "coverage": None}, load_pack("default"), now=NOW)
    assert _item(readiness, "coverage")["status"] == "not_measured"


def test_blockers_items_and_rollout():
    readiness = evaluate_readiness(BASE, load_pack("default"), now=NOW)
    assert readiness["verdict"] == "blocked"
    assert readiness["blockers"] == ["coverage", "vulnerabilities"]
    vulns = _item(readiness, "vulnerabilities")
    assert vulns["remediation"] == "docs/runbooks/vulnerabilities.md"
    assert [f["finding"] for f in vulns["findings"] if f["level"] == "deny"] == [
        "CVE-2024-2", "GHSA-aaaa",
    ]  # fmt: skip
    assert "fixed in 3.2.25" in vulns["detail"]
    assert _item(readiness, "audit")["status"] == "warn"
    assert _item(readiness, "risk")["status"] == "warn"  # band high: warned, rollout careful
    assert readiness["rollout"]["band"] == "high"
    assert any(step["manual"] for step in readiness["rollout"]["steps"])


def test_gate_waiver_and_finding_waivers():
    pack = load_pack("default")
    waivers = [_waiver("coverage", wid="wv-1"), _waiver("vulnerabilities", "GHSA-aaaa", wid="wv-2")]
    readiness = evaluate_readiness(BASE, pack, now=NOW, waivers=waivers)
    coverage = _item(readiness, "coverage")
    assert coverage["status"] == "waived" and not coverage["blocking"]
    assert coverage["waiver"]["id"] == "wv-1" and coverage["waiver"]["ticket"] == "SEC-42"
    # One of two blocking vulnerabilities waived: the gate still fails.
    assert _item(readiness, "vulnerabilities")["status"] == "fail"
    waivers.append(_waiver("vulnerabilities", "CVE-2024-2", wid="wv-3"))
    readiness = evaluate_readiness(BASE, pack, now=NOW, waivers=waivers)
    assert readiness["verdict"] == "ready"
    assert _item(readiness, "vulnerabilities")["status"] == "waived"


def test_expired_or_foreign_waiver_does_not_apply():
    pack = load_pack("default")
    expired = _waiver("coverage", days=-1)
    readiness = evaluate_readiness(BASE, pack, now=NOW, waivers=[expired])
    coverage = _item(readiness, "coverage")
    assert coverage["status"] == "fail" and coverage["blocking"]
    assert coverage["waiver"]["expired"] is True
    assert "expired" in coverage["detail"]
    other_repo = _waiver("coverage", repo="billing")
    readiness = evaluate_readiness(BASE, pack, now=NOW, waivers=[other_repo])
    assert _item(readiness, "coverage")["status"] == "fail"


def test_hostile_strings_do_not_break_the_rego_result():
    inputs = copy.deepcopy(BASE)
    inputs["audit"] = {
        "gaps": [{"code": 'x"y', "severity": "error", "message": 'say "hi"\\n\nback',
                  "remediation": "\\"}],
        "secrets": [{"path": 'we"ird\\path.py', "line": 1, "kind": "Secret Keyword",
                     "in_test_or_example": False}],
    }  # fmt: skip
    readiness = evaluate_readiness(inputs, load_pack("default"), now=NOW)
    assert {"audit", "secrets"} <= set(readiness["blockers"])
    assert "we'ird/path.py:1" in _item(readiness, "secrets")["detail"]


def test_advisory_gate_warns_instead_of_blocking(tmp_path):
    import yaml

    directory = tmp_path / "advisory"
    directory.mkdir()
    (directory / "pack.yaml").write_text(
        yaml.safe_dump(
            {"name": "advisory", "version": "1", "description": "d", "extends": "default",
             "settings": {"advisory_gates": ["coverage"]}}
        )
    )  # fmt: skip
    readiness = evaluate_readiness(BASE, load_pack(str(directory)), now=NOW)
    coverage = _item(readiness, "coverage")
    assert coverage["status"] == "warn" and not coverage["blocking"]


def test_checklist_markdown_and_evidence_bundle():
    pack = load_pack("default")
    waivers = [_waiver("coverage")]
    readiness = evaluate_readiness(BASE, pack, now=NOW, waivers=waivers)
    markdown = checklist_markdown(readiness)
    assert "**Readiness: BLOCKED**" in markdown
    assert "[runbook](docs/runbooks/coverage.md)" in markdown
    bundle = evidence_bundle(BASE, pack, readiness=readiness, waivers=waivers, now=NOW)
    assert bundle["pack"]["name"] == "default" and bundle["pack"]["digest"] == pack.digest
    assert bundle["readiness"] == readiness and bundle["waivers"][0]["id"] == "wv-1"
    assert bundle["inputs_sha256"].startswith("sha256:")
    assert json.dumps(bundle, sort_keys=True) == json.dumps(
        evidence_bundle(BASE, pack, readiness=readiness, waivers=waivers, now=NOW),
        sort_keys=True,
    )
    assert all(not f["path"].startswith("/") for f in bundle["pack"]["files"])
