"""The release state machine, persisted in the history store (tables ``releases`` and
``release_steps``, migration 3).

``planned → approved → applied → staging → canary(step i) → promoted``, or ``→ rolled_back``
from any state that is not terminal. One Dagster run performs one transition, so the state must
survive the run: every change is one DuckDB transaction that checks the edge, updates the
release, records the step attempt and writes the audit-log row together. Nothing is ever half
recorded, and a crash between runs loses nothing.

Two callers can race (a sensor tick and a person on the CLI, or two ticks): a caller passes the
state and step it read as ``expect_state``/``expect_step``, and a release that moved in the
meantime raises :class:`ConcurrentTransition` instead of being moved twice.

A canary step is recorded per attempt in ``release_steps``: entering step i starts an attempt
(``running``); the step's run records the analysis result on it (:meth:`ReleaseStore.record_step`:
``passed``, ``marginal``, ``no_data`` or ``failed``). Advancing past step i needs its latest
attempt to have passed (or ended marginal and been promoted by a person); re-entering step i
starts a fresh attempt after ``no_data`` or ``marginal``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.release.errors import (
    ConcurrentTransition,
    IllegalTransition,
    ReleaseError,
)
from prodsprint_dagster.store.history import HistoryStore

STATES: tuple[str, ...] = (
    "planned",
    "approved",
    "applied",
    "staging",
    "canary",
    "promoted",
    "rolled_back",
)
TERMINAL: frozenset[str] = frozenset({"promoted", "rolled_back"})
STRATEGIES: tuple[str, ...] = ("canary", "bluegreen")
STEP_STATES: tuple[str, ...] = ("running", "passed", "marginal", "no_data", "failed", "aborted")
# Edges besides rollback (allowed from every non-terminal state) and the canary step rules.
_FORWARD: dict[str, frozenset[str]] = {
    "planned": frozenset({"approved"}),
    "approved": frozenset({"applied"}),
    "applied": frozenset({"staging"}),
    "staging": frozenset({"canary"}),
    "canary": frozenset({"canary", "promoted"}),
}
_VERDICT_STEP_STATE = {
    "pass": "passed",
    "marginal": "marginal",
    "no_data": "no_data",
    "fail": "failed",
}
# An indefinite pause is stored as the far future, so that "paused" is one comparison.
PAUSED_INDEFINITELY = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class ReleaseStep:
    """One attempt at one canary step: its traffic weight, outcome and verdict."""

    id: int
    release_id: str
    step_index: int
    weight: int
    state: str
    started_at: datetime
    finished_at: datetime | None
    run_id: str | None
    verdict: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "release_id": self.release_id,
            "step_index": self.step_index,
            "weight": self.weight,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "run_id": self.run_id,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class Release:
    """A release as stored, with its step attempts oldest first."""

    id: str
    repo: str
    commit_sha: str
    plan_hash: str | None
    strategy: str
    rollout: dict[str, Any]
    state: str
    step_index: int | None
    target: str
    environment: str
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None
    paused_until: datetime | None
    last_run_id: str | None
    previous_good: dict[str, Any] | None
    steps: tuple[ReleaseStep, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def plan_steps(self) -> list[dict[str, Any]]:
        return list(self.rollout.get("steps", []))

    @property
    def last_step_index(self) -> int:
        return len(self.plan_steps) - 1

    @property
    def weight(self) -> int:
        """Traffic weight the canary should have now (100 once promoted, 0 before canary)."""
        if self.state == "promoted":
            return 100
        if self.state == "canary" and self.step_index is not None:
            return int(self.plan_steps[self.step_index]["weight"])
        return 0

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def attempts(self, step_index: int) -> list[ReleaseStep]:
        return [s for s in self.steps if s.step_index == step_index]

    def latest_attempt(self, step_index: int | None = None) -> ReleaseStep | None:
        index = self.step_index if step_index is None else step_index
        found = self.attempts(index) if index is not None else []
        return found[-1] if found else None

    def to_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "repo": self.repo,
            "commit_sha": self.commit_sha,
            "plan_hash": self.plan_hash,
            "strategy": self.strategy,
            "rollout": self.rollout,
            "state": self.state,
            "step_index": self.step_index,
            "weight": self.weight,
            "target": self.target,
            "environment": self.environment,
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
            "deadline_at": when(self.deadline_at),
            "paused_until": when(self.paused_until),
            "last_run_id": self.last_run_id,
            "previous_good": self.previous_good,
            "steps": [s.to_dict() for s in self.steps],
        }


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ReleaseError(f"{what} must be a time-zone aware datetime")
    return value.astimezone(UTC)


def _verdict_doc(verdict: Any) -> dict[str, Any] | None:
    if verdict is None:
        return None
    if hasattr(verdict, "to_dict"):
        return verdict.to_dict()
    if isinstance(verdict, Mapping):
        return dict(verdict)
    raise ReleaseError(f"a verdict must be a judge Verdict or a mapping, got {type(verdict)}")


def validate_plan(rollout: Any, strategy: str) -> dict[str, Any]:
    """The rollout plan as stored, or a ReleaseError; the shape is policy.rollout's."""
    if strategy not in STRATEGIES:
        raise ReleaseError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if not isinstance(rollout, Mapping):
        raise ReleaseError("a rollout plan must be a mapping with steps")
    plan = json.loads(json.dumps(dict(rollout), default=str))
    if plan.get("strategy", strategy) != strategy:
        raise ReleaseError(
            f"strategy {strategy!r} differs from the rollout plan's {plan.get('strategy')!r}"
        )
    steps = plan.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ReleaseError("a rollout plan needs a non-empty list of steps")
    for i, step in enumerate(steps):
        weight = step.get("weight") if isinstance(step, dict) else None
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ReleaseError(f"rollout step {i}: weight must be an integer 0..100")
    if steps[-1]["weight"] != 100:
        raise ReleaseError("the last rollout step must reach weight 100")
    plan["strategy"] = strategy
    return plan


_RELEASE_COLUMNS = (
    "id, repo, commit_sha, plan_hash, strategy, rollout, state, step_index, target, environment,"
    " created_at, updated_at, deadline_at, paused_until, last_run_id, previous_good"
)
_STEP_COLUMNS = (
    "id, release_id, step_index, weight, state, started_at, finished_at, run_id, verdict"
)


def _step(row: tuple[Any, ...]) -> ReleaseStep:
    sid, rid, index, weight, state, started, finished, run_id, verdict = row
    return ReleaseStep(
        id=int(sid),
        release_id=rid,
        step_index=int(index),
        weight=int(weight),
        state=state,
        started_at=_utc(started),
        finished_at=_utc(finished),
        run_id=run_id,
        verdict=json.loads(verdict) if verdict else None,
    )


def _release(row: tuple[Any, ...], steps: list[ReleaseStep]) -> Release:
    (rid, repo, commit, plan_hash, strategy, rollout, state, step_index, target, environment,
     created, updated, deadline, paused, last_run, previous) = row  # fmt: skip
    return Release(
        id=rid,
        repo=repo,
        commit_sha=commit,
        plan_hash=plan_hash,
        strategy=strategy,
        rollout=json.loads(rollout),
        state=state,
        step_index=step_index,
        target=target,
        environment=environment,
        created_at=_utc(created),
        updated_at=_utc(updated),
        deadline_at=_utc(deadline),
        paused_until=_utc(paused),
        last_run_id=last_run,
        previous_good=json.loads(previous) if previous else None,
        steps=tuple(steps),
    )


def _audit(
    con: duckdb.DuckDBPyConnection,
    *,
    action: str,
    actor: str,
    release: Release,
    reason: str | None,
    run_id: str | None,
    at: datetime,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The audit-log row of a change, on the caller's connection (inside its transaction)."""
    refs = {
        "release_id": release.id,
        "plan_hash": release.plan_hash,
        "step": release.step_index,
        **(extra or {}),
    }
    con.execute(
        "INSERT INTO audit_log (occurred_at, actor, action, repo, commit_sha, reason, refs,"
        " run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [at, actor, action, release.repo, release.commit_sha, reason,
         json.dumps(refs, sort_keys=True, default=str), run_id],
    )  # fmt: skip


class ReleaseStore:
    """Releases in the history store; every change is one transaction with its audit row."""

    def __init__(self, history: HistoryStore):
        self.history = history

    # -- reading -----------------------------------------------------------------------------

    def _load(self, con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[Release]:
        rows = con.execute(
            f"SELECT {_RELEASE_COLUMNS} FROM releases {where}",  # noqa: S608 - fixed fragments
            params,
        ).fetchall()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        step_rows = con.execute(
            f"SELECT {_STEP_COLUMNS} FROM release_steps"  # noqa: S608 - fixed fragments
            " WHERE list_contains(?, release_id) ORDER BY id",
            [ids],
        ).fetchall()
        by_release: dict[str, list[ReleaseStep]] = {rid: [] for rid in ids}
        for step_row in step_rows:
            by_release[step_row[1]].append(_step(step_row))
        return [_release(row, by_release[row[0]]) for row in rows]

    def _read(self, where: str, params: list[Any]) -> list[Release]:
        with self.history.connect() as con:
            return self._load(con, where, params)

    def get(self, release_id: str) -> Release:
        found = self._read("WHERE id = ?", [release_id])
        if not found:
            raise ReleaseError(f"release {release_id!r} not found")
        return found[0]

    def latest(self, repo: str, *, environment: str | None = None) -> Release | None:
        """The most recently created release of ``repo`` (any state), or None."""
        found = self._read(
            "WHERE repo = ? AND (? IS NULL OR environment = ?)"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            [repo, environment, environment],
        )
        return found[0] if found else None

    def active(self, repo: str | None = None) -> list[Release]:
        """Releases not yet promoted or rolled back, oldest first (all repos when None)."""
        return self._read(
            "WHERE state NOT IN ('promoted', 'rolled_back') AND (? IS NULL OR repo = ?)"
            " ORDER BY created_at, id",
            [repo, repo],
        )

    def recent(self, repo: str, *, limit: int = 50) -> list[Release]:
        """Releases of ``repo``, newest first."""
        return self._read(
            "WHERE repo = ? ORDER BY created_at DESC, id DESC LIMIT ?", [repo, int(limit)]
        )

    # -- writing -----------------------------------------------------------------------------

    def _write(self, change: Any, release_id: str | None = None) -> Release:
        """Run ``change(con)`` in one transaction; a write-write conflict is a raced transition."""
        with self.history.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                changed = change(con)
                con.execute("COMMIT")
            except duckdb.TransactionException as exc:
                con.execute("ROLLBACK")
                raise ConcurrentTransition(
                    f"release {release_id or '(new)'} was changed by another writer at the same "
                    f"time; read it again ({exc})",
                    expected=(None, None),
                    actual=("unknown", None),
                ) from None
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return self._load(con, "WHERE id = ?", [changed])[0]

    def create(
        self,
        repo: str,
        commit: str,
        plan_hash: str | None,
        rollout: Mapping[str, Any],
        strategy: str | None = None,
        target: str = "local",
        *,
        environment: str = "prod",
        actor: str = "prodsprint",
        reason: str | None = None,
        run_id: str | None = None,
        now: datetime | None = None,
    ) -> Release:
        """A new release in ``planned``; refused while another one of the repo is active there.

        ``previous_good`` records the last promoted release of the repo in the environment: the
        version a rollback returns to.
        """
        validate_repo_name(repo)
        if not isinstance(commit, str) or not commit.strip():
            raise ReleaseError("a release needs a commit")
        if not isinstance(target, str) or not target.strip():
            raise ReleaseError("a release needs a deploy target")
        now = _aware(now, "now") or datetime.now(UTC)
        strategy = strategy or (rollout.get("strategy") if isinstance(rollout, Mapping) else None)
        plan = validate_plan(rollout, strategy or "canary")

        def change(con: duckdb.DuckDBPyConnection) -> str:
            busy = con.execute(
                "SELECT id, state FROM releases WHERE repo = ? AND environment = ?"
                " AND state NOT IN ('promoted', 'rolled_back')",
                [repo, environment],
            ).fetchone()
            if busy:
                raise ReleaseError(
                    f"release {busy[0]} of {repo} in {environment} is still {busy[1]}; promote "
                    "or roll it back before starting another"
                )
            good = con.execute(
                "SELECT id, commit_sha, plan_hash, target FROM releases WHERE repo = ?"
                " AND environment = ? AND state = 'promoted'"
                " ORDER BY updated_at DESC, id DESC LIMIT 1",
                [repo, environment],
            ).fetchone()
            previous = (
                {"release_id": good[0], "commit_sha": good[1], "plan_hash": good[2],
                 "target": good[3]}
                if good else None
            )  # fmt: skip
            seq = con.execute("SELECT nextval('releases_id_seq')").fetchone()[0]
            release_id = f"rel-{seq}"
            con.execute(
                f"INSERT INTO releases ({_RELEASE_COLUMNS}) VALUES"  # noqa: S608
                " (?, ?, ?, ?, ?, ?, 'planned', NULL, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                [release_id, repo, commit, plan_hash, plan["strategy"], json.dumps(plan),
                 target, environment, now, now, run_id,
                 json.dumps(previous) if previous else None],
            )  # fmt: skip
            created = self._load(con, "WHERE id = ?", [release_id])[0]
            _audit(
                con,
                action="release.planned",
                actor=actor,
                release=created,
                reason=reason or f"release of {commit[:12]} planned ({plan['strategy']})",
                run_id=run_id,
                at=now,
                extra={"band": plan.get("band"), "target": target, "environment": environment},
            )
            return release_id

        return self._write(change)

    def transition(
        self,
        release_id: str,
        to_state: str,
        *,
        actor: str,
        reason: str,
        run_id: str | None = None,
        step_index: int | None = None,
        verdict: Any = None,
        deadline: datetime | None = None,
        expect_state: str | None = None,
        expect_step: int | None = None,
        now: datetime | None = None,
    ) -> Release:
        """Move a release to ``to_state`` (``canary`` with ``step_index``) and audit it.

        ``verdict`` (a judge Verdict or its dict) is recorded on the step attempt being left,
        finishing it if it was still running. ``deadline`` is when the new state must have moved
        on (None: no deadline). Raises IllegalTransition for an edge the machine does not have,
        ConcurrentTransition when ``expect_state``/``expect_step`` no longer hold.
        """
        if to_state not in STATES or to_state == "planned":
            raise IllegalTransition(
                f"cannot transition to {to_state!r}; expected one of {', '.join(STATES[1:])}",
                from_state="?",
                to_state=str(to_state),
            )
        if not str(actor or "").strip() or not str(reason or "").strip():
            raise ReleaseError("a release transition needs an actor and a reason")
        now = _aware(now, "now") or datetime.now(UTC)
        deadline = _aware(deadline, "deadline")
        verdict_doc = _verdict_doc(verdict)

        def change(con: duckdb.DuckDBPyConnection) -> str:
            found = self._load(con, "WHERE id = ?", [release_id])
            if not found:
                raise ReleaseError(f"release {release_id!r} not found")
            release = found[0]
            current = (release.state, release.step_index)
            if (expect_state is not None and expect_state != release.state) or (
                expect_step is not None and expect_step != release.step_index
            ):
                raise ConcurrentTransition(
                    f"release {release_id} is {_label(*current)}, not "
                    f"{_label(expect_state or release.state, expect_step)} as expected: "
                    "someone else moved it; read it again",
                    expected=(expect_state, expect_step),
                    actual=current,
                )
            target_step = self._check_edge(release, to_state, step_index, verdict_doc, now)
            leaving = release.latest_attempt() if release.state == "canary" else None
            if leaving is not None and (leaving.state == "running" or verdict_doc is not None):
                if leaving.state == "running":
                    left = (
                        _VERDICT_STEP_STATE.get(str(verdict_doc.get("overall")), "aborted")
                        if verdict_doc
                        else "aborted"
                    )
                    if to_state == "rolled_back" and left == "passed":
                        left = "aborted"
                else:
                    left = leaving.state
                con.execute(
                    "UPDATE release_steps SET state = ?, finished_at = coalesce(finished_at, ?),"
                    " verdict = coalesce(?, verdict) WHERE id = ?",
                    [left, now, json.dumps(verdict_doc) if verdict_doc else None, leaving.id],
                )
            updated = con.execute(
                "UPDATE releases SET state = ?, step_index = ?, updated_at = ?, deadline_at = ?,"
                " last_run_id = coalesce(?, last_run_id),"
                " paused_until = CASE WHEN ? THEN NULL ELSE paused_until END"
                " WHERE id = ? AND state = ? AND step_index IS NOT DISTINCT FROM ?"
                " RETURNING id",
                [to_state, target_step, now, deadline, run_id, to_state in TERMINAL,
                 release_id, release.state, release.step_index],
            ).fetchall()  # fmt: skip
            if not updated:
                raise ConcurrentTransition(
                    f"release {release_id} changed while being moved to {to_state}",
                    expected=current,
                    actual=("unknown", None),
                )
            if to_state == "canary":
                weight = int(release.plan_steps[target_step]["weight"])
                con.execute(
                    "INSERT INTO release_steps (release_id, step_index, weight, state,"
                    " started_at, run_id) VALUES (?, ?, ?, 'running', ?, ?)",
                    [release_id, target_step, weight, now, run_id],
                )
            moved = self._load(con, "WHERE id = ?", [release_id])[0]
            extra: dict[str, Any] = {
                "from": _label(*current),
                "to": _label(to_state, target_step if to_state == "canary" else None),
                "weight": moved.weight,
            }
            if verdict_doc is not None:
                extra["verdict"] = {
                    "overall": verdict_doc.get("overall"),
                    "score": verdict_doc.get("score"),
                }
            if to_state == "rolled_back":
                extra["previous_good"] = release.previous_good
            _audit(
                con,
                action=f"release.{to_state}",
                actor=actor,
                release=moved,
                reason=reason,
                run_id=run_id,
                at=now,
                extra=extra,
            )
            return release_id

        return self._write(change, release_id)

    @staticmethod
    def _check_edge(
        release: Release,
        to_state: str,
        step_index: int | None,
        verdict: dict[str, Any] | None,
        now: datetime,
    ) -> int | None:
        """The step index after the move, or IllegalTransition naming from and to."""
        source = _label(release.state, release.step_index)
        target = _label(to_state, step_index)

        def illegal(why: str) -> IllegalTransition:
            return IllegalTransition(
                f"release {release.id}: illegal transition {source} -> {target}: {why}",
                from_state=release.state,
                to_state=to_state,
            )

        if release.terminal:
            raise illegal(f"the release is already {release.state}")
        if to_state == "rolled_back":
            return release.step_index
        if to_state not in _FORWARD.get(release.state, frozenset()):
            allowed = sorted(_FORWARD.get(release.state, frozenset()) | {"rolled_back"})
            raise illegal(f"from {release.state} the machine allows {', '.join(allowed)}")
        if release.paused(now):
            raise illegal(
                f"the release is paused until {release.paused_until.isoformat()}; resume it first"
            )
        outcome = None
        if release.state == "canary":
            attempt = release.latest_attempt()
            outcome = attempt.state if attempt else None
            if attempt is not None and outcome == "running" and verdict is not None:
                outcome = _VERDICT_STEP_STATE.get(str(verdict.get("overall")), outcome)
        if to_state == "canary":
            if release.state == "staging":
                if step_index not in (None, 0):
                    raise illegal("the first canary step is step 0")
                return 0
            current = int(release.step_index)
            wanted = current + 1 if step_index is None else step_index
            if wanted == current:
                if outcome not in ("no_data", "marginal"):
                    raise illegal(
                        f"step {current} is {outcome}; a step is re-run only after no_data "
                        "or marginal"
                    )
                return current
            if wanted != current + 1 or wanted > release.last_step_index:
                raise illegal(
                    f"the next step is {current + 1}"
                    if current < release.last_step_index
                    else "the last step was reached; promote instead"
                )
            if outcome not in ("passed", "marginal"):
                raise illegal(f"step {current} is {outcome}, not passed")
            return wanted
        if to_state == "promoted":
            if release.step_index != release.last_step_index:
                raise illegal(f"promotion needs the last step ({release.last_step_index}) reached")
            if outcome not in ("passed", "marginal"):
                raise illegal(f"the last step is {outcome}, not passed")
            return release.step_index
        return None

    def record_step(
        self,
        release_id: str,
        *,
        step_index: int,
        actor: str,
        verdict: Any = None,
        state: str | None = None,
        reason: str | None = None,
        run_id: str | None = None,
        deadline: datetime | None = None,
        now: datetime | None = None,
    ) -> Release:
        """Record the outcome of the running attempt of the current step (audit
        ``release.step_<state>``); ``state`` defaults to the verdict's (``passed`` without one,
        for steps without analysis). The release stays in its state: the sensor moves it on.
        """
        now = _aware(now, "now") or datetime.now(UTC)
        verdict_doc = _verdict_doc(verdict)
        if state is None:
            state = (
                _VERDICT_STEP_STATE.get(str(verdict_doc.get("overall")))
                if verdict_doc
                else "passed"
            )
        if state not in STEP_STATES or state == "running":
            raise ReleaseError(f"step state {state!r} is not one of {', '.join(STEP_STATES[1:])}")
        deadline = _aware(deadline, "deadline")

        def change(con: duckdb.DuckDBPyConnection) -> str:
            found = self._load(con, "WHERE id = ?", [release_id])
            if not found:
                raise ReleaseError(f"release {release_id!r} not found")
            release = found[0]
            if release.state != "canary" or release.step_index != step_index:
                raise ConcurrentTransition(
                    f"release {release_id} is {_label(release.state, release.step_index)}, not at "
                    f"canary step {step_index}: its result can no longer be recorded",
                    expected=("canary", step_index),
                    actual=(release.state, release.step_index),
                )
            attempt = release.latest_attempt()
            if attempt is None or attempt.state != "running":
                raise ConcurrentTransition(
                    f"release {release_id}: step {step_index} has no running attempt to record",
                    expected=("canary", step_index),
                    actual=(release.state, release.step_index),
                )
            con.execute(
                "UPDATE release_steps SET state = ?, finished_at = ?, verdict = ?,"
                " run_id = coalesce(?, run_id) WHERE id = ?",
                [state, now, json.dumps(verdict_doc) if verdict_doc else None, run_id, attempt.id],
            )
            con.execute(
                "UPDATE releases SET updated_at = ?, deadline_at = ?,"
                " last_run_id = coalesce(?, last_run_id) WHERE id = ?",
                [now, deadline, run_id, release_id],
            )
            extra: dict[str, Any] = {"attempt": attempt.id, "weight": attempt.weight}
            if verdict_doc:
                extra["verdict"] = {
                    "overall": verdict_doc.get("overall"),
                    "score": verdict_doc.get("score"),
                    "action": verdict_doc.get("action"),
                }
            _audit(
                con,
                action=f"release.step_{state}",
                actor=actor,
                release=release,
                reason=reason or (verdict_doc or {}).get("reason") or f"step {step_index} {state}",
                run_id=run_id,
                at=now,
                extra=extra,
            )
            return release_id

        return self._write(change, release_id)

    def pause(
        self,
        release_id: str,
        *,
        actor: str,
        reason: str,
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> Release:
        """Hold a release where it is (until ``until``, or until resumed when None).

        A timed pause shifts the deadline by its length, so that pausing never causes a
        deadline rollback; an indefinite one is lifted by :meth:`resume`, which sets a fresh one.
        """
        now = _aware(now, "now") or datetime.now(UTC)
        until = _aware(until, "until")
        if until is not None and until <= now:
            raise ReleaseError("a pause must end in the future")
        hold = until or PAUSED_INDEFINITELY
        return self._flag(release_id, "paused", actor, reason, now, paused_until=hold)

    def resume(
        self,
        release_id: str,
        *,
        actor: str,
        reason: str,
        deadline: datetime | None = None,
        now: datetime | None = None,
    ) -> Release:
        """Lift a pause; ``deadline`` replaces the deadline (None: none until the next move)."""
        now = _aware(now, "now") or datetime.now(UTC)
        deadline = _aware(deadline, "deadline")
        return self._flag(release_id, "resumed", actor, reason, now, deadline=deadline)

    def _flag(
        self,
        release_id: str,
        action: str,
        actor: str,
        reason: str,
        now: datetime,
        *,
        paused_until: datetime | None = None,
        deadline: datetime | None = None,
    ) -> Release:
        if not str(actor or "").strip() or not str(reason or "").strip():
            raise ReleaseError(f"a release {action[:-1]} needs an actor and a reason")

        def change(con: duckdb.DuckDBPyConnection) -> str:
            found = self._load(con, "WHERE id = ?", [release_id])
            if not found:
                raise ReleaseError(f"release {release_id!r} not found")
            release = found[0]
            if release.terminal:
                raise IllegalTransition(
                    f"release {release_id} is already {release.state}; it cannot be {action}",
                    from_state=release.state,
                    to_state=release.state,
                )
            if action == "paused":
                new_deadline = release.deadline_at
                if new_deadline is not None and paused_until != PAUSED_INDEFINITELY:
                    new_deadline = new_deadline + (paused_until - now)
                con.execute(
                    "UPDATE releases SET paused_until = ?, deadline_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    [paused_until, new_deadline, now, release_id],
                )
                extra = {
                    "until": None if paused_until == PAUSED_INDEFINITELY else paused_until,
                }
            else:
                if not release.paused(now):
                    raise ReleaseError(f"release {release_id} is not paused")
                con.execute(
                    "UPDATE releases SET paused_until = NULL, deadline_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    [deadline, now, release_id],
                )
                extra = {"deadline": deadline}
            _audit(
                con,
                action=f"release.{action}",
                actor=actor,
                release=release,
                reason=reason,
                run_id=None,
                at=now,
                extra=extra,
            )
            return release_id

        return self._write(change, release_id)


def _label(state: str | None, step: int | None) -> str:
    return f"{state}(step {step})" if state == "canary" and step is not None else str(state)


# -- what to do next -------------------------------------------------------------------------

ACTIONS: tuple[str, ...] = (
    "apply",
    "deploy_staging",
    "canary_step",
    "bluegreen_switch",
    "wait",
    "manual_gate",
    "promote",
    "rollback",
    "none",
)


@dataclass(frozen=True)
class Action:
    """What the sensor should do next for a release.

    ``step`` is set for ``canary_step``; ``until`` for ``wait`` (None: until something changes);
    ``hint`` carries the judge's advice when a step is re-run (``extend_window`` or
    ``generate_load``).
    """

    kind: str
    reason: str = ""
    step: int | None = None
    until: datetime | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "step": self.step,
            "until": self.until.isoformat() if self.until else None,
            "hint": self.hint,
        }


def next_action(
    release: Release,
    now: datetime,
    *,
    last_run_failed: bool = False,
    max_attempts: int = 3,
) -> Action:
    """The next thing to do for ``release`` at ``now``.

    Order matters: a terminal release needs nothing; a failed step run rolls back; a pause
    holds everything (a person is in control, so not even the deadline applies); past the
    deadline the release is stuck and rolls back; then the state decides. A step that ended
    ``no_data`` or ``marginal`` is re-run up to ``max_attempts`` times and then handed to a
    person, never passed.
    """
    if now.tzinfo is None:
        raise ReleaseError("next_action needs a time-zone aware `now`")
    if release.terminal:
        return Action("none", f"release is {release.state}")
    if last_run_failed:
        run = release.last_run_id or "the last run"
        return Action("rollback", f"{run} failed while the release was {state_label(release)}")
    if release.paused(now):
        until = None if release.paused_until == PAUSED_INDEFINITELY else release.paused_until
        text = f"until {until.isoformat()}" if until else "until resumed"
        return Action("wait", f"paused {text}", until=until)
    if release.deadline_at is not None and now >= release.deadline_at:
        return Action(
            "rollback",
            f"stuck in {state_label(release)} past its deadline {release.deadline_at.isoformat()}",
        )
    simple = {
        "planned": Action("manual_gate", "awaiting approval"),
        "approved": Action("apply", "approved; apply the infrastructure"),
        "applied": Action("deploy_staging", "infrastructure applied; deploy to staging"),
        "staging": Action(
            step_kind(release, 0), "staging is healthy; start the first step", step=0
        ),
    }
    if release.state in simple:
        return simple[release.state]
    index = int(release.step_index)
    step = release.plan_steps[index]
    attempt = release.latest_attempt()
    outcome = attempt.state if attempt else None
    tried = len(release.attempts(index))
    if outcome is None:
        return Action(step_kind(release, index), f"step {index} has not started", step=index)
    if outcome == "running":
        return Action(
            "wait",
            f"step {index} ({step['weight']}%) is running in {attempt.run_id or 'a run'}",
            until=release.deadline_at,
        )
    if outcome in ("failed", "aborted"):
        why = (attempt.verdict or {}).get("reason") or f"step {index} {outcome}"
        return Action("rollback", why)
    verdict = attempt.verdict or {}
    if outcome == "marginal":
        on_marginal = verdict.get("action") or "manual_gate"
        if on_marginal == "rollback":
            return Action("rollback", f"step {index} marginal: {verdict.get('reason', '')}")
        if on_marginal != "continue":
            if on_marginal == "extend_window" and tried < max_attempts:
                return Action(
                    step_kind(release, index),
                    f"step {index} marginal (attempt {tried}); analyse again",
                    step=index,
                    hint="extend_window",
                )
            return Action(
                "manual_gate",
                f"step {index} marginal after {tried} attempt(s): "
                f"{verdict.get('reason', '')}; promote or roll back by hand",
            )
    if outcome == "no_data":
        if tried < max_attempts:
            return Action(
                step_kind(release, index),
                f"step {index} had too little data (attempt {tried}); analyse again",
                step=index,
                hint=verdict.get("action") or "extend_window",
            )
        return Action(
            "manual_gate",
            f"step {index} still without enough data after {tried} attempts; generate load, "
            "then promote or roll back by hand",
        )
    # passed (or marginal with on_marginal "continue")
    if step.get("manual"):
        return Action(
            "manual_gate",
            f"step {index} ({step['weight']}%) passed and is a manual step; waits for an "
            "explicit promote",
        )
    if index >= release.last_step_index:
        return Action("promote", f"the last step ({step['weight']}%) passed")
    return Action(step_kind(release, index + 1), f"step {index} passed", step=index + 1)


def step_kind(release: Release, index: int) -> str:
    """``bluegreen_switch`` for a blue/green release's switch to 100 % (after its preview
    analysis), so the UI shows it as its own job; ``canary_step`` for every other step."""
    if release.strategy == "bluegreen" and release.plan_steps[index]["weight"] == 100:
        return "bluegreen_switch"
    return "canary_step"


def state_label(release: Release) -> str:
    return _label(release.state, release.step_index)
