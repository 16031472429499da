"""The release state machine in the history store: edges, audit rows, races, next actions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from prodsprint_dagster.policy import load_pack, rollout_plan_for
from prodsprint_dagster.release import (
    ConcurrentTransition,
    IllegalTransition,
    ReleaseError,
    ReleaseStore,
    Samples,
    deadline_for,
    judge,
    judge_policy_for,
    next_action,
)
from prodsprint_dagster.release import state as state_module
from prodsprint_dagster.store import HistoryStore

T0 = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
SHA = "a" * 40
PLAN = {
    "strategy": "canary",
    "band": "medium",
    "steps": [
        {"weight": 5, "pause_seconds": 60, "analysis": True, "manual": False},
        {"weight": 25, "pause_seconds": 60, "analysis": True, "manual": False},
        {"weight": 100, "pause_seconds": 0, "analysis": False, "manual": False},
    ],
    "analysis": {"interval_seconds": 60, "min_samples": 200},
}
PASS = {"overall": "pass", "score": 100.0, "action": "continue", "reason": "all good"}


@pytest.fixture
def history(tmp_path):
    return HistoryStore(tmp_path / "history.duckdb")


@pytest.fixture
def store(history):
    return ReleaseStore(history)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def to_canary(store, rel, *, now=T0):
    for state in ("approved", "applied", "staging"):
        rel = store.transition(rel.id, state, actor="test", reason=state, now=now)
    return store.transition(rel.id, "canary", actor="test", reason="step 0", now=now)


def test_legal_path_and_audit_row_for_every_transition(store, history):
    rel = store.create("shop", SHA, "plan-1", PLAN, "canary", "local", actor="cli:alice", now=T0)
    assert (rel.state, rel.step_index, rel.previous_good) == ("planned", None, None)
    rel = to_canary(store, rel)
    assert (rel.state, rel.step_index, rel.weight) == ("canary", 0, 5)
    rel = store.record_step(rel.id, step_index=0, actor="run", verdict=PASS, run_id="r1", now=at(2))
    rel = store.transition(rel.id, "canary", step_index=1, actor="sensor", reason="next", now=at(3))
    rel = store.record_step(rel.id, step_index=1, actor="run", verdict=PASS, now=at(5))
    rel = store.transition(rel.id, "canary", actor="sensor", reason="next", now=at(6))
    assert (rel.step_index, rel.weight) == (2, 100)
    rel = store.record_step(rel.id, step_index=2, actor="run", now=at(6))  # no analysis: passed
    rel = store.transition(rel.id, "promoted", actor="sensor", reason="done", now=at(7))
    assert rel.terminal and rel.weight == 100
    assert [(s.step_index, s.state) for s in rel.steps] == [(0, "passed"), (1, "passed"),
                                                            (2, "passed")]  # fmt: skip
    rows = history.query_audit(repo="shop", action="release.")
    actions = [r["action"] for r in rows]
    assert actions == [
        "release.planned", "release.approved", "release.applied", "release.staging",
        "release.canary", "release.step_passed", "release.canary", "release.step_passed",
        "release.canary", "release.step_passed", "release.promoted",
    ]  # fmt: skip
    transitions = [a for a in actions if not a.startswith("release.step_")]
    assert len(transitions) == 8  # planned + 3 + one per canary step + promoted
    for row in rows:
        assert row["commit_sha"] == SHA
        assert row["refs"]["release_id"] == rel.id and row["refs"]["plan_hash"] == "plan-1"
    assert rows[6]["refs"]["step"] == 1 and rows[6]["refs"]["from"] == "canary(step 0)"
    assert rows[0]["actor"] == "cli:alice"
    assert store.active("shop") == [] and store.latest("shop").id == rel.id
    # The next release remembers this one as the version to roll back to.
    nxt = store.create("shop", "b" * 40, "plan-2", PLAN, "canary", "local", now=at(10))
    assert nxt.previous_good["release_id"] == rel.id
    assert nxt.previous_good["commit_sha"] == SHA


def test_illegal_transitions_name_from_and_to(store):
    rel = store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0)
    with pytest.raises(IllegalTransition, match="planned -> applied") as info:
        store.transition(rel.id, "applied", actor="t", reason="skip", now=T0)
    assert (info.value.from_state, info.value.to_state) == ("planned", "applied")
    with pytest.raises(IllegalTransition):
        store.transition(rel.id, "planned", actor="t", reason="again", now=T0)
    rel = to_canary(store, rel)
    with pytest.raises(IllegalTransition, match="not passed"):  # step 0 still running
        store.transition(rel.id, "canary", step_index=1, actor="t", reason="x", now=at(1))
    with pytest.raises(IllegalTransition, match="next step is 1"):
        store.transition(rel.id, "canary", step_index=2, actor="t", reason="x", now=at(1))
    with pytest.raises(IllegalTransition, match="last step"):
        store.transition(rel.id, "promoted", actor="t", reason="x", now=at(1))
    with pytest.raises(IllegalTransition, match="re-run only after"):
        store.transition(rel.id, "canary", step_index=0, actor="t", reason="x", now=at(1))
    with pytest.raises(ReleaseError, match="still canary"):  # one active release per repo
        store.create("shop", "c" * 40, "p", PLAN, "canary", "local", now=at(1))
    bad = {"overall": "fail", "score": 0.0, "reason": "errors 5% vs 1%"}
    rel = store.transition(rel.id, "rolled_back", actor="run", reason="judge failed", verdict=bad,
                           now=at(2))  # fmt: skip
    assert rel.state == "rolled_back" and rel.steps[-1].state == "failed"
    assert rel.steps[-1].verdict["reason"] == "errors 5% vs 1%"
    with pytest.raises(IllegalTransition, match="already rolled_back"):
        store.transition(rel.id, "rolled_back", actor="t", reason="again", now=at(3))
    with pytest.raises(ReleaseError, match="not found"):
        store.get("rel-999")


def test_rollback_is_allowed_from_every_non_terminal_state(store):
    for i, state in enumerate(("planned", "approved", "applied", "staging", "canary")):
        rel = store.create(f"svc{i}", SHA, "p", PLAN, "canary", "local", now=T0)
        path = ["approved", "applied", "staging", "canary"]
        for step in path[: path.index(state) + 1] if state != "planned" else []:
            rel = store.transition(rel.id, step, actor="t", reason=step, now=T0)
        assert rel.state == state
        rel = store.transition(rel.id, "rolled_back", actor="t", reason="abort", now=at(1))
        assert rel.state == "rolled_back"


def test_stale_expectation_raises_concurrent_transition(store, history):
    rel = to_canary(store, store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0))
    seen = store.get(rel.id)  # what a sensor tick read
    store.record_step(rel.id, step_index=0, actor="run", verdict=PASS, now=at(1))
    store.transition(rel.id, "canary", actor="cli:bob", reason="manual", expect_state="canary",
                     expect_step=0, now=at(2))  # fmt: skip
    with pytest.raises(ConcurrentTransition, match=r"canary\(step 1\), not canary\(step 0\)") as e:
        store.transition(rel.id, "canary", actor="sensor", reason="tick", now=at(2),
                         expect_state=seen.state, expect_step=seen.step_index)  # fmt: skip
    assert e.value.expected == ("canary", 0) and e.value.actual == ("canary", 1)
    with pytest.raises(ConcurrentTransition):  # a run recording a step that was left
        store.record_step(rel.id, step_index=0, actor="run", verdict=PASS, now=at(3))
    assert store.get(rel.id).step_index == 1
    assert len(history.query_audit(action="release.canary")) == 2


def test_racing_threads_move_a_release_once(store):
    rel = store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def approve(n: int) -> None:
        barrier.wait()
        try:
            store.transition(rel.id, "approved", actor=f"t{n}", reason="go",
                             expect_state="planned", now=T0)  # fmt: skip
            results.append("ok")
        except ConcurrentTransition:
            results.append("raced")

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["ok", "raced", "raced", "raced"]
    assert len(store.history.query_audit(action="release.approved")) == 1


def test_state_change_and_audit_row_commit_together(store, history, monkeypatch):
    rel = store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(state_module, "_audit", broken)
    with pytest.raises(RuntimeError):
        store.transition(rel.id, "approved", actor="t", reason="go", now=T0)
    assert store.get(rel.id).state == "planned"
    assert [r["action"] for r in history.query_audit(repo="shop")] == ["release.planned"]


def test_next_action_walks_the_states(store):
    rel = store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0)
    assert next_action(rel, T0).kind == "manual_gate"  # awaiting approval
    rel = store.transition(rel.id, "approved", actor="t", reason="ok", now=T0)
    assert next_action(rel, T0).kind == "apply"
    rel = store.transition(rel.id, "applied", actor="t", reason="ok", now=T0)
    assert next_action(rel, T0).kind == "deploy_staging"
    rel = store.transition(rel.id, "staging", actor="t", reason="ok", now=T0)
    assert (next_action(rel, T0).kind, next_action(rel, T0).step) == ("canary_step", 0)
    deadline = deadline_for(PLAN, "canary", T0, step_index=0)
    rel = store.transition(rel.id, "canary", actor="t", reason="ok", deadline=deadline, now=T0,
                           run_id="run-7")  # fmt: skip
    waiting = next_action(rel, at(1))
    assert waiting.kind == "wait" and waiting.until == deadline and "run-7" in waiting.reason
    assert next_action(rel, at(1), last_run_failed=True).kind == "rollback"
    rel = store.record_step(rel.id, step_index=0, actor="run", verdict=PASS, now=at(2))
    assert (next_action(rel, at(2)).kind, next_action(rel, at(2)).step) == ("canary_step", 1)
    rel = store.transition(rel.id, "canary", actor="t", reason="ok", now=at(3))
    rel = store.record_step(rel.id, step_index=1, actor="run", verdict=PASS, now=at(4))
    rel = store.transition(rel.id, "canary", actor="t", reason="ok", now=at(5))
    rel = store.record_step(rel.id, step_index=2, actor="run", now=at(5))
    assert next_action(rel, at(5)).kind == "promote"
    rel = store.transition(rel.id, "promoted", actor="t", reason="ok", now=at(6))
    assert next_action(rel, at(6)).kind == "none"


def test_next_action_pause_manual_gate_and_deadline(store, history):
    plan = rollout_plan_for("high", load_pack("default"))  # step 3 (25 %) is manual
    assert plan["steps"][3]["manual"]
    rel = to_canary(store, store.create("shop", SHA, "p", plan, None, "local", now=T0))
    for i in range(3):
        rel = store.record_step(rel.id, step_index=i, actor="run", verdict=PASS, now=at(i))
        assert next_action(rel, at(i)).kind == "canary_step"
        rel = store.transition(rel.id, "canary", actor="sensor", reason="next", now=at(i))
    rel = store.record_step(rel.id, step_index=3, actor="run", verdict=PASS, now=at(10))
    gate = next_action(rel, at(10))
    assert gate.kind == "manual_gate" and "explicit promote" in gate.reason
    # The explicit promote is a person's transition past the gate.
    rel = store.transition(rel.id, "canary", actor="cli:alice", reason="looks good",
                           expect_state="canary", expect_step=3, now=at(11))  # fmt: skip
    assert rel.step_index == 4

    # A timed pause holds the release and shifts its deadline by the pause's length.
    deadline = at(30)
    rel = store.record_step(rel.id, step_index=4, actor="run", verdict=PASS, deadline=deadline,
                            now=at(12))  # fmt: skip
    rel = store.pause(
        rel.id, actor="cli:bob", reason="incident elsewhere", until=at(42), now=at(12)
    )
    assert rel.deadline_at == at(60)
    held = next_action(rel, at(20))
    assert held.kind == "wait" and held.until == at(42)
    with pytest.raises(IllegalTransition, match="paused"):
        store.transition(rel.id, "canary", actor="sensor", reason="next", now=at(20))
    assert next_action(rel, at(43)).kind == "canary_step"  # pause over, deadline not reached
    stuck = next_action(rel, at(61))
    assert stuck.kind == "rollback" and "past its deadline" in stuck.reason

    # An indefinite pause outlives the deadline; resume sets a fresh one.
    rel = store.pause(rel.id, actor="cli:bob", reason="hold", now=at(50))
    assert next_action(rel, at(500)).kind == "wait" and next_action(rel, at(500)).until is None
    rel = store.resume(rel.id, actor="cli:bob", reason="go on", deadline=at(600), now=at(500))
    assert next_action(rel, at(501)).kind == "canary_step"
    assert [r["action"] for r in history.query_audit(action="release.paused")] == [
        "release.paused",
        "release.paused",
    ]
    assert len(history.query_audit(action="release.resumed")) == 1


def test_next_action_reruns_no_data_then_hands_to_a_person(store):
    rel = to_canary(store, store.create("shop", SHA, "p", PLAN, "canary", "local", now=T0))
    no_data = {"overall": "no_data", "score": None, "action": "generate_load", "reason": "idle"}
    for attempt in range(1, 4):
        rel = store.record_step(rel.id, step_index=0, actor="run", verdict=no_data, now=at(attempt))
        action = next_action(rel, at(attempt))
        if attempt < 3:
            assert (action.kind, action.step, action.hint) == ("canary_step", 0, "generate_load")
            rel = store.transition(rel.id, "canary", step_index=0, actor="sensor", reason="again",
                                   expect_step=0, now=at(attempt))  # fmt: skip
        else:
            assert action.kind == "manual_gate"  # never silently passed
    assert [s.state for s in rel.steps] == ["no_data"] * 3
    marginal = {"overall": "marginal", "score": 75.0, "action": "manual_gate", "reason": "+20ms"}
    rel = store.transition(rel.id, "canary", step_index=0, actor="cli:alice", reason="retry",
                           now=at(5))  # fmt: skip
    rel = store.record_step(rel.id, step_index=0, actor="run", verdict=marginal, now=at(6))
    assert next_action(rel, at(6)).kind == "manual_gate"
    rel = store.transition(rel.id, "canary", actor="cli:alice", reason="accept", now=at(7))
    assert rel.step_index == 1


def _window(rng, weight, error_rate, shift_ms=0.0, total=40_000):
    canary_n = max(1, total * weight // 100)
    stable_n = max(1, total - canary_n) if weight < 100 else total

    def version(n, rate, shift):
        return Samples(int(n), int(rng.binomial(n, rate)),
                       rng.lognormal(np.log(120), 0.4, min(n, 2000)) + shift)  # fmt: skip

    return version(canary_n, error_rate, shift_ms), version(stable_n, 0.01, 0.0)


def _drive(store, rel, policy, rng, *, canary_errors, limit=40):
    """A sensor loop: next_action -> one 'run' per action, judging each analysed step."""
    now = T0
    for tick in range(limit):
        now = now + timedelta(minutes=15)
        rel = store.get(rel.id)
        action = next_action(rel, now)
        run = f"run-{tick}"
        if action.kind == "none":
            return rel
        if action.kind == "manual_gate" and rel.state == "planned":
            rel = store.transition(rel.id, "approved", actor="cli:alice", reason="ok", now=now)
        elif action.kind in ("apply", "deploy_staging"):
            to = "applied" if action.kind == "apply" else "staging"
            store.transition(rel.id, to, actor="sensor", reason=action.reason, run_id=run,
                             expect_state=rel.state, deadline=deadline_for(rel.rollout, to, now),
                             now=now)  # fmt: skip
        elif action.kind == "canary_step":
            rel = store.transition(rel.id, "canary", step_index=action.step, actor="sensor",
                                   reason=action.reason, run_id=run, expect_state=rel.state,
                                   expect_step=rel.step_index, now=now)  # fmt: skip
            step = rel.plan_steps[action.step]
            if not step["analysis"]:
                store.record_step(rel.id, step_index=action.step, actor=run, now=now)
                continue
            verdict = judge(*_window(rng, step["weight"], canary_errors), policy)
            if verdict.overall == "fail":  # rolls back inside the same run
                store.transition(rel.id, "rolled_back", actor=run, reason=verdict.reason,
                                 verdict=verdict, run_id=run, now=now)  # fmt: skip
            else:
                store.record_step(rel.id, step_index=action.step, actor=run, verdict=verdict,
                                  run_id=run, now=now)  # fmt: skip
        elif action.kind == "promote":
            store.transition(rel.id, "promoted", actor="sensor", reason=action.reason,
                             run_id=run, expect_state="canary", now=now)  # fmt: skip
        elif action.kind == "rollback":
            store.transition(rel.id, "rolled_back", actor="sensor", reason=action.reason, now=now)
        else:
            raise AssertionError(f"unexpected action {action}")
    raise AssertionError("the release did not finish")


def test_full_release_end_to_end_promotes_a_good_canary(store, history):
    plan = rollout_plan_for("medium", load_pack("default"))
    policy = judge_policy_for(plan)
    rel = store.create("shop", SHA, "plan-h", plan, None, "local", now=T0)
    rel = _drive(store, rel, policy, np.random.default_rng(42), canary_errors=0.01)
    assert rel.state == "promoted"
    assert [s.weight for s in rel.steps] == [1, 5, 25, 100]
    assert all(s.state == "passed" for s in rel.steps)
    assert rel.steps[0].verdict["overall"] == "pass"
    actions = [r["action"] for r in history.query_audit(repo="shop")]
    transitions = [a for a in actions if a.startswith("release.") and "step_" not in a]
    assert transitions == [
        "release.planned",
        "release.approved",
        "release.applied",
        "release.staging",
    ] + ["release.canary"] * 4 + ["release.promoted"]
    assert actions.count("release.step_passed") == 4


def test_full_release_end_to_end_rolls_back_a_bad_canary(store, history):
    plan = rollout_plan_for("medium", load_pack("default"))
    rel = store.create("shop", SHA, "plan-h", plan, None, "local", now=T0)
    rel = _drive(store, rel, judge_policy_for(plan), np.random.default_rng(42),
                 canary_errors=0.06)  # fmt: skip
    assert rel.state == "rolled_back"
    failed = rel.steps[-1]
    assert failed.state == "failed" and failed.verdict["overall"] == "fail"
    assert failed.verdict["metrics"][0]["name"] == "error_ratio"
    last = history.query_audit(action="release.rolled_back")[-1]
    assert last["refs"]["verdict"]["overall"] == "fail"
    assert store.active() == []
