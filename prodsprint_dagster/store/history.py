"""The history store: one DuckDB file with everything ProdSprint has seen and done.

DuckDB admits one writing process at a time and holds a file lock while a connection is open,
so connections here live for one operation only and a lock conflict is retried with backoff
until ``lock_timeout`` passes. A file that is not a DuckDB database is reported and left alone:
the store never recreates or truncates an existing file.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from prodsprint_dagster.errors import StoreError
from prodsprint_dagster.store.migrations import MIGRATIONS

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


@dataclass(frozen=True)
class AuditEntry:
    """One row of the append-only audit log."""

    action: str
    actor: str
    repo: str | None = None
    commit: str | None = None
    reason: str | None = None
    refs: Mapping[str, Any] | None = None
    run_id: str | None = None
    at: datetime | None = None


class HistoryStore:
    """Short-lived connections to the history database, with migrations applied on first use."""

    def __init__(self, path: Path, *, lock_timeout: float = 30.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._migrated = False

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One connection, opened with retry on lock conflicts and closed on exit."""
        if not read_only and not self._migrated:
            self.migrate()
        con = self._open(read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise StoreError(
                f"history store {self.path} does not exist yet (run `prodsprint init`)"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                text = str(exc)
                if not any(marker in text for marker in _LOCK_MARKERS):
                    raise StoreError(
                        f"history store {self.path} cannot be opened: {text}. The file was left "
                        "untouched; restore it from a backup or move it aside."
                    ) from None
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"history store {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:.0f}s: {text}"
                    ) from None
            time.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, 0.5)

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; returns the versions applied (safe to re-run)."""
        applied: list[int] = []
        con = self._open(read_only=False)
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL)"
            )
            done = {
                row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()
            }
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    for statement in migration.statements:
                        con.execute(statement)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [migration.version, migration.name, datetime.now(UTC)],
                    )
                    con.execute("COMMIT")
                except Exception:
                    con.execute("ROLLBACK")
                    raise
                applied.append(migration.version)
        finally:
            con.close()
        self._migrated = True
        return applied

    def schema_version(self) -> int:
        with self.connect(read_only=True) as con:
            row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # -- audit log ---------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> int:
        """Append one audit-log row and return its id; rows are never updated or deleted."""
        return self.append_audit_many([entry])[0]

    def append_audit_many(self, entries: list[AuditEntry]) -> list[int]:
        rows = [
            [
                entry.at or datetime.now(UTC),
                entry.actor,
                entry.action,
                entry.repo,
                entry.commit,
                entry.reason,
                json.dumps(dict(entry.refs), sort_keys=True, default=str) if entry.refs else None,
                entry.run_id,
            ]
            for entry in entries
        ]
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            ids = [
                con.execute(
                    "INSERT INTO audit_log (occurred_at, actor, action, repo, commit_sha, reason,"
                    " refs, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    row,
                ).fetchone()[0]
                for row in rows
            ]
            con.execute("COMMIT")
        return ids

    def query_audit(
        self,
        *,
        repo: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Audit rows, oldest first, filtered by repo, action prefix and time."""
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            cur = con.execute(
                "SELECT id, occurred_at, actor, action, repo, commit_sha, reason, refs, run_id"
                " FROM audit_log"
                " WHERE ($repo IS NULL OR repo = $repo)"
                " AND ($action IS NULL OR starts_with(action, $action))"
                " AND ($since IS NULL OR occurred_at >= $since)"
                " ORDER BY id LIMIT $limit",
                {"repo": repo, "action": action, "since": since, "limit": limit},
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in rows:
            row["occurred_at"] = row["occurred_at"].isoformat()
            row["refs"] = json.loads(row["refs"]) if row["refs"] else {}
        return rows
