"""History-store schema for perf runs and accepted baselines (the perf gate).

Version 6 is reserved for this area. Append new versions; never edit one that has shipped.

- ``perf_runs``: one row per measured commit (the load, the client's report, the summary).
- ``perf_route_results``: per service and route, and ``('*', '*')`` for the whole run, the
  counts, the percentiles and the latency histogram (sparse log-linear bucket counts, 0.4 %
  precision, a few kB): enough to run Mann-Whitney U against this run later.
- ``perf_baselines``: explicit acceptances of a run as the baseline (who, when, why).
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        6,
        "perf_runs",
        (
            """
            CREATE TABLE IF NOT EXISTS perf_runs (
                id VARCHAR PRIMARY KEY,
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL,
                rate DOUBLE NOT NULL,
                duration_seconds DOUBLE NOT NULL,
                services JSON NOT NULL,
                metrics JSON NOT NULL,
                client JSON,
                dagster_run_id VARCHAR
            )
            """,
            "CREATE INDEX IF NOT EXISTS perf_runs_repo ON perf_runs (repo, commit_sha)",
            """
            CREATE TABLE IF NOT EXISTS perf_route_results (
                perf_run VARCHAR NOT NULL,
                service VARCHAR NOT NULL,
                route VARCHAR NOT NULL,
                requests BIGINT NOT NULL,
                errors BIGINT NOT NULL,
                client_errors BIGINT NOT NULL,
                dropped BIGINT NOT NULL,
                p50_ms DOUBLE,
                p95_ms DOUBLE,
                p99_ms DOUBLE,
                max_ms DOUBLE,
                rps DOUBLE,
                histogram JSON NOT NULL,
                PRIMARY KEY (perf_run, service, route)
            )
            """,
            "CREATE SEQUENCE IF NOT EXISTS perf_baselines_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS perf_baselines (
                id BIGINT PRIMARY KEY DEFAULT nextval('perf_baselines_id_seq'),
                repo VARCHAR NOT NULL,
                perf_run VARCHAR NOT NULL,
                accepted_at TIMESTAMPTZ NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS perf_baselines_repo ON perf_baselines (repo)",
        ),
    ),
)
