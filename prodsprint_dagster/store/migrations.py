"""Versioned schema of the history store.

Append a new :class:`Migration` for every change; never edit one that has shipped, because
existing history files have already recorded it as applied.
"""

from __future__ import annotations

from prodsprint_dagster.store import migrations_perf, migrations_quality, migrations_risk
from prodsprint_dagster.store.migration import Migration

CORE_MIGRATIONS: tuple[Migration, ...] = (
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
    Migration(
        2,
        "waivers_approvals",
        (
            "CREATE SEQUENCE IF NOT EXISTS waivers_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS waivers (
                id VARCHAR PRIMARY KEY,
                repo VARCHAR NOT NULL,
                gate VARCHAR NOT NULL,
                finding VARCHAR,
                reason VARCHAR NOT NULL,
                ticket VARCHAR NOT NULL,
                owner VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                revoked_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX IF NOT EXISTS waivers_repo ON waivers (repo)",
            "CREATE SEQUENCE IF NOT EXISTS approvals_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS approvals (
                id BIGINT PRIMARY KEY DEFAULT nextval('approvals_id_seq'),
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                plan_hash VARCHAR,
                approver VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                emergency BOOLEAN NOT NULL DEFAULT false,
                emergency_reason VARCHAR,
                created_at TIMESTAMPTZ NOT NULL,
                waiver_ids JSON
            )
            """,
            "CREATE INDEX IF NOT EXISTS approvals_repo_commit ON approvals (repo, commit_sha)",
        ),
    ),
    Migration(
        3,
        "releases",
        (
            "CREATE SEQUENCE IF NOT EXISTS releases_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS releases (
                id VARCHAR PRIMARY KEY,
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                plan_hash VARCHAR,
                strategy VARCHAR NOT NULL,
                rollout JSON NOT NULL,
                state VARCHAR NOT NULL,
                step_index INTEGER,
                target VARCHAR NOT NULL,
                environment VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                deadline_at TIMESTAMPTZ,
                paused_until TIMESTAMPTZ,
                last_run_id VARCHAR,
                previous_good JSON
            )
            """,
            "CREATE INDEX IF NOT EXISTS releases_repo ON releases (repo)",
            "CREATE SEQUENCE IF NOT EXISTS release_steps_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS release_steps (
                id BIGINT PRIMARY KEY DEFAULT nextval('release_steps_id_seq'),
                release_id VARCHAR NOT NULL,
                step_index INTEGER NOT NULL,
                weight INTEGER NOT NULL,
                state VARCHAR NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                run_id VARCHAR,
                verdict JSON
            )
            """,
            "CREATE INDEX IF NOT EXISTS release_steps_release ON release_steps (release_id)",
        ),
    ),
)

# Versions: 1-3 core, 4 change risk, 5 coverage and tests, 6 perf; applied in version order.
MIGRATIONS: tuple[Migration, ...] = tuple(
    sorted(
        (
            *CORE_MIGRATIONS,
            *migrations_risk.MIGRATIONS,
            *migrations_quality.MIGRATIONS,
            *migrations_perf.MIGRATIONS,
        ),
        key=lambda m: m.version,
    )
)
