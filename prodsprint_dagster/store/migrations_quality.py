"""History-store schema for coverage runs and test results (the coverage and tests gates).

Version 5 is reserved for this area. Append new versions; never edit one that has shipped.

- ``coverage_runs``: one measurement of a commit (ingested reports or a test run), its totals,
  patch coverage against its base, and its test counts.
- ``coverage_files``: per-file line/branch counts of a run, with a digest of the file's content
  so that "did the code this test covers change?" can be answered later without the checkout.
- ``test_results``: every attempt of every test of a run (retries are attempts 1..n), with the
  test file's digest and the source files the test covered (when the runner knew them).
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        5,
        "coverage_and_tests",
        (
            "CREATE SEQUENCE IF NOT EXISTS coverage_runs_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS coverage_runs (
                id BIGINT PRIMARY KEY DEFAULT nextval('coverage_runs_id_seq'),
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                base_sha VARCHAR,
                source VARCHAR NOT NULL,
                lines_total INTEGER NOT NULL,
                lines_covered INTEGER NOT NULL,
                branches_total INTEGER NOT NULL,
                branches_covered INTEGER NOT NULL,
                percent DOUBLE,
                branch_percent DOUBLE,
                patch_coverable INTEGER,
                patch_covered INTEGER,
                patch_percent DOUBLE,
                tests_total INTEGER,
                tests_failed INTEGER,
                tests_errors INTEGER,
                tests_skipped INTEGER,
                tests_quarantined INTEGER,
                duration_seconds DOUBLE,
                recorded_at TIMESTAMPTZ NOT NULL,
                run_id VARCHAR
            )
            """,
            "CREATE INDEX IF NOT EXISTS coverage_runs_repo ON coverage_runs (repo, commit_sha)",
            """
            CREATE TABLE IF NOT EXISTS coverage_files (
                coverage_run_id BIGINT NOT NULL,
                path VARCHAR NOT NULL,
                lines_total INTEGER NOT NULL,
                lines_covered INTEGER NOT NULL,
                branches_total INTEGER NOT NULL,
                branches_covered INTEGER NOT NULL,
                digest VARCHAR
            )
            """,
            "CREATE INDEX IF NOT EXISTS coverage_files_run ON coverage_files (coverage_run_id)",
            """
            CREATE TABLE IF NOT EXISTS test_results (
                coverage_run_id BIGINT NOT NULL,
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                test_id VARCHAR NOT NULL,
                attempt INTEGER NOT NULL,
                outcome VARCHAR NOT NULL,
                duration_seconds DOUBLE,
                message VARCHAR,
                test_file VARCHAR,
                test_digest VARCHAR,
                covers JSON,
                recorded_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS test_results_repo ON test_results (repo, test_id)",
        ),
    ),
)
