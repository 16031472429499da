"""Waivers in the history store and release approval: refusals, waivers, freezes, audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from prodsprint_dagster.policy import (
    ApprovalRefused,
    PolicyError,
    Waiver,
    WaiverStore,
    approve,
    evaluate_readiness,
    load_pack,
)
from prodsprint_dagster.store import HistoryStore

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday
COMMIT = "c" * 40
BLOCKED = {"repo": "shop", "commit": COMMIT, "coverage": {"percent": 60.0}}


@pytest.fixture
def history(tmp_path):
    return HistoryStore(tmp_path / "history.duckdb")


def _waiver(gate="coverage", *, expires=NOW + timedelta(days=14), **kw):
    return Waiver(
        repo="shop", gate=gate, reason="legacy module, tests in SEC-7", ticket="SEC-7",
        owner="alice", expires_at=expires, **kw,
    )  # fmt: skip


def _approve(history, readiness, pack, waivers=(), now=NOW, approver="bob", **kw):
    return approve(
        history, repo="shop", commit=COMMIT, plan_hash="sha256:plan", approver=approver,
        reason="ship it", readiness=readiness, waivers=list(waivers), now=now, pack=pack, **kw,
    )  # fmt: skip


def test_waiver_add_is_validated_and_audit_logged(history):
    store = WaiverStore(history)
    stored = store.add(_waiver(), now=NOW)
    assert stored.id == "wv-1" and stored.created_at == NOW
    rows = history.query_audit(action="waiver.add")
    assert len(rows) == 1 and rows[0]["actor"] == "alice" and rows[0]["repo"] == "shop"
    assert rows[0]["refs"]["waiver_id"] == "wv-1" and rows[0]["refs"]["ticket"] == "SEC-7"
    with pytest.raises(PolicyError, match="ticket"):
        store.add(Waiver(**{**_kw(), "ticket": ""}), now=NOW)
    with pytest.raises(PolicyError, match="reason"):
        store.add(Waiver(**{**_kw(), "reason": ""}), now=NOW)
    with pytest.raises(PolicyError, match="future"):
        store.add(_waiver(expires=NOW - timedelta(seconds=1)), now=NOW)
    with pytest.raises(PolicyError, match="gate"):
        store.add(_waiver(gate="vibes"), now=NOW)
    assert len(history.query_audit(action="waiver.add")) == 1


def _kw():
    return {
        "repo": "shop", "gate": "coverage", "reason": "r", "ticket": "T-1", "owner": "o",
        "expires_at": NOW + timedelta(days=1),
    }  # fmt: skip


def test_active_all_and_revoke(history):
    store = WaiverStore(history)
    short = store.add(_waiver(expires=NOW + timedelta(hours=1)), now=NOW)
    long = store.add(_waiver("sbom", expires=NOW + timedelta(days=30)), now=NOW)
    later = NOW + timedelta(hours=2)
    assert [w.id for w in store.active("shop", later)] == [long.id]
    everything = store.all("shop", now=later)
    assert {w.id: w.expired for w in everything} == {short.id: True, long.id: False}
    store.revoke(long.id, actor="carol", reason="fixed", now=later)
    assert store.active("shop", later) == []
    assert history.query_audit(action="waiver.revoke")[0]["refs"]["waiver_id"] == long.id
    assert store.all("billing") == []


def test_approval_refused_while_a_blocker_stands(history):
    pack = load_pack("default")
    readiness = evaluate_readiness(BLOCKED, pack, now=NOW)
    with pytest.raises(ApprovalRefused) as err:
        _approve(history, readiness, pack)
    assert err.value.blockers == ["coverage"]
    assert history.query_audit(action="release.approve_refused")[0]["refs"]["blockers"] == [
        "coverage"
    ]
    approvals = history.query_audit(action="release.approve")
    assert [row for row in approvals if row["action"] == "release.approve"] == []


def test_approval_accepted_with_a_valid_waiver(history):
    pack = load_pack("default")
    waiver = WaiverStore(history).add(_waiver(), now=NOW)
    readiness = evaluate_readiness(BLOCKED, pack, now=NOW)
    result = _approve(history, readiness, pack, waivers=[waiver])
    assert result["approved"] and result["waiver_ids"] == [waiver.id]
    assert result["emergency"] is False
    actions = [row["action"] for row in history.query_audit(repo="shop")]
    assert actions == ["waiver.add", "release.approve", "waiver.apply"]
    approve_row = history.query_audit(action="release.approve")[0]
    assert approve_row["refs"]["plan_hash"] == "sha256:plan"
    assert approve_row["commit_sha"] == COMMIT and approve_row["actor"] == "bob"
    with history.connect(read_only=True) as con:
        row = con.execute("SELECT approver, waiver_ids FROM approvals").fetchone()
    assert row[0] == "bob" and waiver.id in row[1]


def test_approval_refused_with_an_expired_waiver(history):
    pack = load_pack("default")
    waiver = WaiverStore(history).add(_waiver(expires=NOW + timedelta(hours=1)), now=NOW)
    # Waived at readiness time, expired by the time someone approves.
    readiness = evaluate_readiness(BLOCKED, pack, now=NOW, waivers=[waiver])
    assert readiness["verdict"] == "ready"
    with pytest.raises(ApprovalRefused) as err:
        _approve(history, readiness, pack, waivers=[waiver], now=NOW + timedelta(hours=2))
    assert err.value.blockers == ["coverage"] and err.value.expired == [waiver.id]
    assert "expired" in str(err.value)


def test_readiness_for_another_commit_or_pack_is_refused(history):
    pack = load_pack("default")
    readiness = evaluate_readiness({**BLOCKED, "commit": "d" * 40}, pack, now=NOW)
    with pytest.raises(ApprovalRefused, match="not shop@"):
        _approve(history, readiness, pack)
    readiness = evaluate_readiness(BLOCKED, load_pack("soc2"), now=NOW)
    with pytest.raises(ApprovalRefused, match="different policy pack"):
        _approve(history, readiness, pack)


def _freeze_pack(tmp_path):
    directory = tmp_path / "frozen"
    directory.mkdir()
    window = {"name": "weekend", "recurring": "Fri 16:00 - Mon 08:00", "timezone": "Europe/Berlin"}
    (directory / "pack.yaml").write_text(
        yaml.safe_dump({"name": "frozen", "version": "1", "description": "d",
                        "extends": "default", "settings": {"freeze_windows": [window]}})
    )  # fmt: skip
    return load_pack(str(directory))


def test_freeze_window_refuses_unless_emergency_and_logs_override(history, tmp_path):
    pack = _freeze_pack(tmp_path)
    saturday = datetime(2025, 6, 7, 10, 0, tzinfo=UTC)
    inputs = {"repo": "shop", "commit": COMMIT}
    readiness = evaluate_readiness(inputs, pack, now=saturday)
    assert readiness["blockers"] == ["freeze_window"] and readiness["freeze"]["name"] == "weekend"
    with pytest.raises(ApprovalRefused) as err:
        _approve(history, readiness, pack, now=saturday)
    assert err.value.blockers == ["freeze_window"]
    result = _approve(
        history, readiness, pack, now=saturday, emergency_reason="payment outage INC-9"
    )
    assert result["emergency"] and result["freeze_window"]["name"] == "weekend"
    override = history.query_audit(action="release.emergency_override")
    assert len(override) == 1 and override[0]["reason"] == "payment outage INC-9"
    # Readiness taken on Saturday, approval on Wednesday: the live clock decides.
    assert _approve(history, readiness, pack, now=NOW)["emergency"] is False


def test_prod_needs_two_distinct_approvers(history):
    pack = load_pack("soc2")
    clean = {
        "repo": "shop", "commit": COMMIT, "environment": "prod",
        "tests": {"passed": 5}, "coverage": {"percent": 95},
        "vulnerabilities": [], "sbom": {"bomFormat": "CycloneDX", "components": [{"name": "a"}]},
        "audit": {"gaps": [], "secrets": []}, "perf": {"p95_ms": 100, "error_ratio": 0},
        "cost": {"monthly_usd": 100}, "risk": {"score": 0.1},
        "plan": {"resources": [], "logging": {"retention_days": 400}},
    }  # fmt: skip
    readiness = evaluate_readiness(clean, pack, now=NOW)
    assert readiness["blockers"] == ["two_approvers_prod"]
    first = _approve(history, readiness, pack, approver="bob")
    assert first["approved"] is False and first["approvers_needed"] == 2
    again = _approve(history, readiness, pack, approver="bob")
    assert again["approved"] is False
    second = _approve(history, readiness, pack, approver="carol")
    assert second["approved"] is True and second["approvers"] == ["bob", "carol"]
