"""Perf runs, their per-route histograms and the accepted baseline, in the history store.

The *accepted baseline* of a repository is the newer of two events:

- the last release that reached ``promoted`` (table ``releases``): the newest perf run of its
  commit (what is in production is the reference), and
- the last explicit acceptance (:func:`accept_baseline`; ``prodsprint perf-accept``): for a
  slowdown that is understood and wanted, so it stops failing the next releases.

An acceptance made after the last promotion wins over it, and the next promotion wins over
that acceptance. Without either there is no baseline and only absolute budgets apply.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.quality.perf.budgets import Measured
from prodsprint_dagster.quality.perf.histogram import LatencyHistogram
from prodsprint_dagster.store import AuditEntry, HistoryStore

OVERALL = ("*", "*")
_RUN_COLUMNS = (
    "id, repo, commit_sha, started_at, finished_at, rate, duration_seconds, services, metrics,"
    " client, dagster_run_id"
)


@dataclass(frozen=True)
class PerfRun:
    """One stored perf run (its summary; the histograms are read with :func:`measurements`)."""

    id: str
    repo: str
    commit: str
    started_at: datetime
    finished_at: datetime
    rate: float
    duration_seconds: float
    services: list[dict[str, Any]]
    metrics: dict[str, Any]
    client: dict[str, Any]
    dagster_run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "repo": self.repo,
            "commit": self.commit,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "rate": self.rate,
            "duration_seconds": self.duration_seconds,
            "services": self.services,
            "metrics": self.metrics,
            "client": self.client,
            "dagster_run_id": self.dagster_run_id,
        }


@dataclass(frozen=True)
class Baseline:
    """The run to compare against and why it is the baseline."""

    run: PerfRun
    kind: str  # promoted | accepted
    detail: str
    since: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.id,
            "commit": self.run.commit,
            "kind": self.kind,
            "detail": self.detail,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True)
class RouteRecord:
    """What is stored per service and route (``("*", "*")`` for the whole run)."""

    service: str
    route: str
    summary: Mapping[str, Any]
    histogram: LatencyHistogram


def _run(row: tuple[Any, ...]) -> PerfRun:
    rid, repo, commit, started, finished, rate, duration, services, metrics, client, dag = row
    return PerfRun(
        id=rid, repo=repo, commit=commit, started_at=started.astimezone(UTC),
        finished_at=finished.astimezone(UTC), rate=float(rate),
        duration_seconds=float(duration), services=json.loads(services),
        metrics=json.loads(metrics), client=json.loads(client) if client else {},
        dagster_run_id=dag,
    )  # fmt: skip


def _read(history: HistoryStore, query: Any) -> Any:
    """``query(con)`` on a read-only connection; None when there is no perf history yet."""
    if not history.path.exists():
        return None
    try:
        with history.connect(read_only=True) as con:
            return query(con)
    except duckdb.CatalogException:  # a store from before migration 6 that nobody wrote to
        return None


def record_run(
    history: HistoryStore,
    *,
    repo: str,
    commit: str,
    started_at: datetime,
    finished_at: datetime,
    rate: float,
    duration_seconds: float,
    services: list[dict[str, Any]],
    metrics: Mapping[str, Any],
    client: Mapping[str, Any],
    routes: Iterable[RouteRecord],
    dagster_run_id: str | None = None,
) -> str:
    """Store one run with its per-route results in one transaction; returns the run id."""
    validate_repo_name(repo)
    run_id = f"perf-{uuid.uuid4().hex[:16]}"
    rows = [
        [run_id, r.service, r.route, int(r.summary.get("requests", 0)),
         int(r.summary.get("errors", 0)), int(r.summary.get("client_errors", 0)),
         int(r.summary.get("dropped", 0)), r.summary.get("p50_ms"), r.summary.get("p95_ms"),
         r.summary.get("p99_ms"), r.summary.get("max_ms"), r.summary.get("rps"),
         json.dumps(r.histogram.to_dict(), separators=(",", ":"))]
        for r in routes
    ]  # fmt: skip
    with history.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"INSERT INTO perf_runs ({_RUN_COLUMNS})"  # noqa: S608 - fixed columns
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, repo, commit, started_at, finished_at, float(rate),
                 float(duration_seconds), json.dumps(services, sort_keys=True, default=str),
                 json.dumps(dict(metrics), sort_keys=True), json.dumps(dict(client), default=str),
                 dagster_run_id],
            )  # fmt: skip
            if rows:
                con.executemany(
                    "INSERT INTO perf_route_results (perf_run, service, route, requests, errors,"
                    " client_errors, dropped, p50_ms, p95_ms, p99_ms, max_ms, rps, histogram)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return run_id


def runs(history: HistoryStore, repo: str, *, limit: int = 50) -> list[PerfRun]:
    """The repository's perf runs, newest first."""
    found = _read(history, lambda con: con.execute(
        f"SELECT {_RUN_COLUMNS} FROM perf_runs WHERE repo = ?"  # noqa: S608 - fixed columns
        " ORDER BY finished_at DESC, id DESC LIMIT ?", [repo, int(limit)]).fetchall())  # fmt: skip
    return [_run(row) for row in found or []]


def get_run(history: HistoryStore, run_id: str) -> PerfRun:
    found = _read(history, lambda con: con.execute(
        f"SELECT {_RUN_COLUMNS} FROM perf_runs WHERE id = ?",  # noqa: S608 - fixed columns
        [run_id]).fetchone())  # fmt: skip
    if not found:
        raise ProdSprintError(f"perf run {run_id!r} not found in {history.path}")
    return _run(found)


def measurements(history: HistoryStore, run_id: str) -> dict[tuple[str, str], Measured]:
    """The stored histograms and counts of a run, keyed by ``(service, route)``."""
    rows = _read(history, lambda con: con.execute(
        "SELECT service, route, requests, errors, histogram FROM perf_route_results"
        " WHERE perf_run = ?", [run_id]).fetchall())  # fmt: skip
    out = {}
    for service, route, requests, errors, histogram in rows or []:
        hist = LatencyHistogram.from_dict(json.loads(histogram))
        out[(service, route)] = Measured(hist, int(requests), int(errors))
    return out


def route_results(history: HistoryStore, run_id: str) -> list[dict[str, Any]]:
    """The per-route rows of a run (without histograms), for reports."""

    def query(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        cur = con.execute(
            "SELECT service, route, requests, errors, client_errors, dropped, p50_ms, p95_ms,"
            " p99_ms, max_ms, rps FROM perf_route_results WHERE perf_run = ?"
            " ORDER BY service, route", [run_id])  # fmt: skip
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    return _read(history, query) or []


def accept_baseline(
    history: HistoryStore,
    repo: str,
    run_id: str,
    *,
    actor: str = "prodsprint",
    reason: str = "accepted as the perf baseline",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Make ``run_id`` the repository's baseline from now on (recorded in the audit log)."""
    run = get_run(history, run_id)
    if run.repo != repo:
        raise ProdSprintError(f"perf run {run_id} belongs to {run.repo}, not {repo}")
    if not str(reason).strip() or not str(actor).strip():
        raise ProdSprintError("accepting a perf baseline needs an actor and a reason")
    now = now or datetime.now(UTC)
    with history.connect() as con:
        con.execute(
            "INSERT INTO perf_baselines (repo, perf_run, accepted_at, actor, reason)"
            " VALUES (?, ?, ?, ?, ?)",
            [repo, run_id, now, actor, reason],
        )
    history.append_audit(
        AuditEntry(
            action="perf.baseline_accept",
            actor=actor,
            repo=repo,
            commit=run.commit,
            reason=reason,
            refs={"perf_run": run_id},
            at=now,
        )
    )
    return {"repo": repo, "run": run_id, "commit": run.commit, "accepted_at": now.isoformat(),
            "actor": actor, "reason": reason}  # fmt: skip


def accepted_baseline(
    history: HistoryStore, repo: str, *, exclude_run: str | None = None
) -> Baseline | None:
    """The run new measurements of ``repo`` are compared with (see the module docstring)."""

    def query(con: duckdb.DuckDBPyConnection) -> Baseline | None:
        candidates: list[Baseline] = []
        promoted = con.execute(
            "SELECT id, commit_sha, updated_at FROM releases WHERE repo = ? AND state = 'promoted'"
            " ORDER BY updated_at DESC, id DESC LIMIT 20",
            [repo],
        ).fetchall()
        for release_id, commit, when in promoted:
            row = con.execute(
                f"SELECT {_RUN_COLUMNS} FROM perf_runs"  # noqa: S608 - fixed columns
                " WHERE repo = ? AND commit_sha = ? AND id != ?"
                " ORDER BY finished_at DESC, id DESC LIMIT 1",
                [repo, commit, exclude_run or ""],
            ).fetchone()
            if row:
                detail = f"release {release_id} of {commit[:12]} promoted"
                candidates.append(Baseline(_run(row), "promoted", detail, when.astimezone(UTC)))
                break
        accepted = con.execute(
            f"SELECT b.accepted_at, b.actor, b.reason, {', '.join('r.' + c.strip() for c in _RUN_COLUMNS.split(','))}"  # noqa: E501, S608
            " FROM perf_baselines b JOIN perf_runs r ON r.id = b.perf_run"
            " WHERE b.repo = ? AND b.perf_run != ? ORDER BY b.accepted_at DESC, b.id DESC LIMIT 1",
            [repo, exclude_run or ""],
        ).fetchone()
        if accepted:
            when, actor, reason = accepted[:3]
            detail = f"accepted by {actor}: {reason}"
            candidates.append(
                Baseline(_run(accepted[3:]), "accepted", detail, when.astimezone(UTC))
            )
        return max(candidates, key=lambda b: b.since) if candidates else None

    return _read(history, query)
