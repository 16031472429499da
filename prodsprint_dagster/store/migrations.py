"""Versioned schema of the history store.

Append a new :class:`Migration` for every change; never edit one that has shipped, because
existing history files have already recorded it as applied.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "audit_log",
        (
            "CREATE SEQUENCE IF NOT EXISTS audit_log_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS audit_log (
                id BIGINT PRIMARY KEY DEFAULT nextval('audit_log_id_seq'),
                occurred_at TIMESTAMPTZ NOT NULL,
                actor VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                repo VARCHAR,
                commit_sha VARCHAR,
                reason VARCHAR,
                refs JSON,
                run_id VARCHAR
            )
            """,
            "CREATE INDEX IF NOT EXISTS audit_log_repo ON audit_log (repo)",
        ),
    ),
)
