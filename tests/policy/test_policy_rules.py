"""Every deny rule of every pack: one input that triggers it and a near miss that does not.

The table is checked against the Rego sources: each pack directory's ``deny contains`` rules
must all appear here, so a new rule without a test fails this module.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from prodsprint_dagster.policy import evaluate_readiness, load_pack
from prodsprint_dagster.policy.pack import BUILTIN_DIR

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday

CLEAN = {
    "repo": "shop",
    "commit": "a" * 40,
    "tests": {"passed": 40, "failed": 0, "errors": 0},
    "coverage": {"percent": 91.0, "patch_percent": 88.0},
    "vulnerabilities": {
        "findings": [
            {"id": "CVE-2024-0001", "severity": "LOW", "package": "left-pad", "version": "1.0"}
        ]
    },
    "sbom": {"bomFormat": "CycloneDX", "components": [{"name": "flask"}]},
    "audit": {"gaps": [], "secrets": []},
    "perf": {"p95_ms": 120, "error_ratio": 0.001, "baseline": {"p95_ms": 110}},
    "cost": {"monthly_usd": 300.0, "previous_monthly_usd": 280.0},
    "risk": {"score": 0.2, "band": "low"},
    "plan": {
        "resources": [
            {
                "address": "aws_db_instance.main",
                "kind": "database",
                "encrypted": True,
                "backup_retention_days": 30,
                "tags": {"data_classification": "phi"},
            }
        ],
        "logging": {"retention_days": 2555},
    },
    "environment": "prod",
    "approvers": ["alice", "bob"],
}

NO_MANUAL_HIGH = {
    "rollout": {
        "default_band": "medium",
        "analysis": {"interval_seconds": 60, "min_samples": 50},
        "bands": {
            band: {
                "steps": [{"weight": 10, "pause_seconds": 60, "analysis": True}, {"weight": 100}]
            }
            for band in ("low", "medium", "high")
        },
    }
}
FREEZE_NOW = {
    "freeze_windows": [
        {"name": "release-freeze", "start": "2025-06-01", "end": "2025-06-10", "timezone": "UTC"}
    ]
}
FREEZE_LATER = {
    "freeze_windows": [
        {"name": "release-freeze", "start": "2025-07-01", "end": "2025-07-10", "timezone": "UTC"}
    ]
}


def _db(**changes):
    resource = {**CLEAN["plan"]["resources"][0], **changes}
    return {"plan": {**CLEAN["plan"], "resources": [resource]}}


def _gap(code, severity):
    gap = {"code": code, "severity": severity, "message": "m", "remediation": "r", "service": "web"}
    return {"audit": {"gaps": [gap], "secrets": []}}


def _secret(in_tests):
    secret = {"path": "app/settings.py", "line": 3, "kind": "AWS Access Key"}
    return {"audit": {"gaps": [], "secrets": [{**secret, "in_test_or_example": in_tests}]}}


# (rule file, gate, finding, trigger, near miss, pack settings overrides for trigger/near miss)
CASES = [
    ("default/common.rego", "coverage", "malformed",
     {"coverage": "lots"}, {"coverage": {"percent": 90}}, None),
    ("default/tests.rego", "tests", "failed",
     {"tests": {"passed": 9, "failed": 1}}, {"tests": {"passed": 10, "failed": 0}}, None),
    ("default/tests.rego", "tests", "too_few",
     {"tests": {"total": 0}}, {"tests": {"total": 1, "passed": 1}}, None),
    ("default/coverage.rego", "coverage", "total",
     {"coverage": {"percent": 79.9}}, {"coverage": {"percent": 80.0}}, None),
    ("default/coverage.rego", "coverage", "patch",
     {"coverage": {"percent": 90, "patch_percent": 79}},
     {"coverage": {"percent": 90, "patch_percent": 80}}, None),
    ("default/vulnerabilities.rego", "vulnerabilities", "CVE-2024-9999",
     {"vulnerabilities": [{"id": "CVE-2024-9999", "severity": "HIGH", "package": "x"}]},
     {"vulnerabilities": [{"id": "CVE-2024-9999", "severity": "MEDIUM", "package": "x"}]}, None),
    ("default/sbom.rego", "sbom", "format",
     {"sbom": {"format": "mystery", "components": 3}},
     {"sbom": {"format": "spdx-2.3", "components": 3}}, None),
    ("default/sbom.rego", "sbom", "components",
     {"sbom": {"bomFormat": "CycloneDX", "components": []}},
     {"sbom": {"bomFormat": "CycloneDX", "components": [{"name": "a"}]}}, None),
    ("default/secrets.rego", "secrets", "app/settings.py:3",
     _secret(False), {"audit": {"gaps": [], "secrets": []}}, None),
    ("default/perf.rego", "perf", "p95_ms",
     {"perf": {"p95_ms": 501, "baseline": {"p95_ms": 480}}},
     {"perf": {"p95_ms": 500, "baseline": {"p95_ms": 480}}}, None),
    ("default/perf.rego", "perf", "p95_ms_regression",
     {"perf": {"p95_ms": 200, "baseline": {"p95_ms": 100}}},
     {"perf": {"p95_ms": 119, "baseline": {"p95_ms": 100}}}, None),
    ("default/cost.rego", "cost", "ceiling",
     {"cost": {"monthly_usd": 2500, "previous_monthly_usd": 2400}},
     {"cost": {"monthly_usd": 2000, "previous_monthly_usd": 2000}}, None),
    ("default/cost.rego", "cost", "increase",
     {"cost": {"monthly_usd": 400, "previous_monthly_usd": 300}},
     {"cost": {"monthly_usd": 375, "previous_monthly_usd": 300}}, None),
    ("default/risk.rego", "risk", "score",
     {"risk": {"score": 0.9}}, {"risk": {"score": 0.89}}, None),
    ("default/risk.rego", "risk", "rollout_manual_gate",
     {"risk": {"band": "high"}}, {"risk": {"band": "medium"}}, (NO_MANUAL_HIGH, NO_MANUAL_HIGH)),
    ("default/freeze_window.rego", "freeze_window", "release-freeze",
     {}, {}, (FREEZE_NOW, FREEZE_LATER)),
    ("default/audit.rego", "audit", "port_unknown:web",
     _gap("port_unknown", "error"), _gap("port_unknown", "warning"), None),
    ("soc2/controls.rego", "encryption_at_rest", "aws_db_instance.main",
     _db(encrypted=False), _db(encrypted=True), None),
    ("soc2/controls.rego", "audit_log_retention", "missing",
     {"plan": {**CLEAN["plan"], "logging": {}}}, {}, None),
    ("soc2/controls.rego", "audit_log_retention", "too_short",
     {"plan": {**CLEAN["plan"], "logging": {"retention_days": 100}}}, {}, None),
    ("soc2/controls.rego", "two_approvers_prod", "approvers",
     {"approvers": ["alice", "alice"]}, {"approvers": ["alice", "bob"]}, None),
    ("soc2/controls.rego", "backup_retention", "aws_db_instance.main",
     _db(backup_retention_days=5), _db(backup_retention_days=30), None),
    ("hipaa/data_classification.rego", "data_classification", "aws_db_instance.main",
     _db(tags={}), _db(tags={"data_classification": "phi"}), None),
]  # fmt: skip

# A pack includes the rules of the packs it extends.
PACKS_WITH = {
    "default": ("default", "soc2", "hipaa"),
    "soc2": ("soc2", "hipaa"),
    "hipaa": ("hipaa",),
}


def _pack(tmp_path: Path, base: str, overrides: dict | None, tag: str):
    if overrides is None:
        return load_pack(base)
    directory = tmp_path / f"{base}-{tag}"
    directory.mkdir(exist_ok=True)
    manifest = {
        "name": f"{base}-{tag}",
        "version": "0.0.1",
        "description": "test pack",
        "extends": base,
        "settings": overrides,
    }
    (directory / "pack.yaml").write_text(yaml.safe_dump(manifest))
    return load_pack(str(directory))


def _denied(readiness: dict, gate: str, finding: str) -> bool:
    for item in readiness["items"]:
        if item["gate"] == gate:
            return any(f["finding"] == finding and f["level"] == "deny" for f in item["findings"])
    raise AssertionError(f"gate {gate} not in the checklist")


PARAMS = [
    pytest.param(case, pack, id=f"{pack}:{case[0].split('/')[1]}:{case[2]}")
    for case in CASES
    for pack in PACKS_WITH[case[0].split("/")[0]]
]


@pytest.mark.parametrize(("case", "pack_name"), PARAMS)
def test_rule_triggers_and_near_miss_passes(case, pack_name, tmp_path):
    _file, gate, finding, trigger, near_miss, overrides = case
    hit_overrides, miss_overrides = overrides or (None, None)
    hit = evaluate_readiness(
        {**copy.deepcopy(CLEAN), **trigger},
        _pack(tmp_path, pack_name, hit_overrides, "hit"),
        now=NOW,
    )
    assert _denied(hit, gate, finding), hit["items"]
    assert gate in hit["blockers"]
    miss = evaluate_readiness(
        {**copy.deepcopy(CLEAN), **near_miss},
        _pack(tmp_path, pack_name, miss_overrides, "miss"),
        now=NOW,
    )
    assert not _denied(miss, gate, finding)
    assert gate not in miss["blockers"]


@pytest.mark.parametrize("pack_name", ["default", "soc2", "hipaa"])
def test_clean_inputs_are_ready_under_every_pack(pack_name):
    readiness = evaluate_readiness(CLEAN, load_pack(pack_name), now=NOW)
    assert readiness["verdict"] == "ready", readiness["blockers"]
    statuses = {item["gate"]: item["status"] for item in readiness["items"]}
    assert set(statuses.values()) <= {"pass", "warn"}


def test_every_deny_rule_has_a_case():
    """Counts `deny contains` rules per file and compares with the table above."""
    for path in sorted(BUILTIN_DIR.glob("*/*.rego")):
        rel = f"{path.parent.name}/{path.name}"
        rules = len(re.findall(r"^deny contains", path.read_text(), flags=re.MULTILINE))
        cases = sum(1 for case in CASES if case[0] == rel)
        assert cases == rules, f"{rel}: {rules} deny rules, {cases} test cases"


def test_soc2_blocks_secrets_in_tests_that_default_only_warns_about():
    inputs = {**CLEAN, **_secret(True)}
    default = evaluate_readiness(inputs, load_pack("default"), now=NOW)
    soc2 = evaluate_readiness(inputs, load_pack("soc2"), now=NOW)
    assert [i["status"] for i in default["items"] if i["gate"] == "secrets"] == ["warn"]
    assert "secrets" in soc2["blockers"]


def test_every_denial_names_control_and_evidence_in_compliance_packs():
    inputs = {**CLEAN, **_db(encrypted=False, backup_retention_days=1, tags={})}
    inputs["approvers"] = ["alice"]
    readiness = evaluate_readiness(inputs, load_pack("hipaa"), now=NOW)
    for item in readiness["items"]:
        if item["status"] == "fail":
            assert item["control"], item
            assert all(f["evidence"] for f in item["findings"])
    assert {"encryption_at_rest", "backup_retention", "data_classification",
            "two_approvers_prod"} <= set(readiness["blockers"])  # fmt: skip
