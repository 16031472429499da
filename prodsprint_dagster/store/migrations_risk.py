"""History-store schema for commit history, churn features and incidents (the change-risk engine).

Version 4 is reserved for this area. Append new versions; never edit one that has shipped.

- ``commits``: one row per mined commit and repository, in mining order (``seq``), with the
  Kamei features as of that commit and the facts read from its message.
- ``commit_files``: the numstat of each commit (renames keep ``old_path``); mining replays
  these rows to rebuild its running state, so incremental mining equals a full pass.
- ``mining_heads``: the tips already mined, the next pass starts after them.
- ``incidents``: imported incidents and the ones releases record at rollback.
- ``szz_links``: fix -> inducing commit, with how it was found (blame, revert, cited);
  ``szz_fixes`` records which fixes were analysed so labelling is incremental too.
- ``risk_models``: trained models (joblib bytes with their sha256) and their metadata.
- ``risk_scores``: every score given, for the trend and for percentiles.
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        4,
        "change_risk",
        (
            """
            CREATE TABLE IF NOT EXISTS commits (
                repo VARCHAR NOT NULL,
                sha VARCHAR NOT NULL,
                seq INTEGER NOT NULL,
                parents VARCHAR[] NOT NULL,
                author_name VARCHAR NOT NULL,
                author_email VARCHAR NOT NULL,
                author_key VARCHAR NOT NULL,
                authored_ts BIGINT NOT NULL,
                committed_ts BIGINT NOT NULL,
                committed_at TIMESTAMPTZ NOT NULL,
                subject VARCHAR NOT NULL,
                message VARCHAR NOT NULL,
                is_merge BOOLEAN NOT NULL,
                is_bot BOOLEAN NOT NULL,
                is_revert BOOLEAN NOT NULL,
                reverts VARCHAR,
                cited VARCHAR[] NOT NULL,
                binary_files INTEGER NOT NULL,
                ns INTEGER NOT NULL,
                nd INTEGER NOT NULL,
                nf INTEGER NOT NULL,
                entropy DOUBLE NOT NULL,
                la BIGINT NOT NULL,
                ld BIGINT NOT NULL,
                lt BIGINT NOT NULL,
                fix INTEGER NOT NULL,
                ndev INTEGER NOT NULL,
                age DOUBLE NOT NULL,
                nuc INTEGER NOT NULL,
                exp INTEGER NOT NULL,
                rexp DOUBLE NOT NULL,
                sexp INTEGER NOT NULL,
                mined_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (repo, sha)
            )
            """,
            "CREATE INDEX IF NOT EXISTS commits_repo_seq ON commits (repo, seq)",
            """
            CREATE TABLE IF NOT EXISTS commit_files (
                repo VARCHAR NOT NULL,
                sha VARCHAR NOT NULL,
                seq INTEGER NOT NULL,
                ord INTEGER NOT NULL,
                path VARCHAR NOT NULL,
                old_path VARCHAR,
                added BIGINT NOT NULL,
                deleted BIGINT NOT NULL,
                is_binary BOOLEAN NOT NULL,
                lines_before BIGINT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS commit_files_repo_seq ON commit_files (repo, seq)",
            """
            CREATE TABLE IF NOT EXISTS mining_heads (
                repo VARCHAR NOT NULL,
                head VARCHAR NOT NULL,
                mined_at TIMESTAMPTZ NOT NULL,
                new_commits INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS incidents (
                repo VARCHAR NOT NULL,
                id VARCHAR NOT NULL,
                service VARCHAR,
                opened_at TIMESTAMPTZ NOT NULL,
                resolved_at TIMESTAMPTZ,
                severity VARCHAR NOT NULL,
                caused_by VARCHAR,
                caused_by_release VARCHAR,
                title VARCHAR,
                source VARCHAR NOT NULL,
                recorded_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (repo, id)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS szz_links (
                repo VARCHAR NOT NULL,
                fix_sha VARCHAR NOT NULL,
                inducing_sha VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                path VARCHAR,
                lines INTEGER NOT NULL,
                fix_ts BIGINT NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS szz_links_repo ON szz_links (repo, inducing_sha)",
            """
            CREATE TABLE IF NOT EXISTS szz_fixes (
                repo VARCHAR NOT NULL,
                fix_sha VARCHAR NOT NULL,
                analysed_at TIMESTAMPTZ NOT NULL,
                links INTEGER NOT NULL,
                PRIMARY KEY (repo, fix_sha)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS risk_models (
                id VARCHAR PRIMARY KEY,
                trained_at TIMESTAMPTZ NOT NULL,
                method VARCHAR NOT NULL,
                candidate VARCHAR NOT NULL,
                metadata JSON NOT NULL,
                sha256 VARCHAR NOT NULL,
                model BLOB NOT NULL
            )
            """,
            "CREATE SEQUENCE IF NOT EXISTS risk_scores_id_seq START 1",
            """
            CREATE TABLE IF NOT EXISTS risk_scores (
                id BIGINT PRIMARY KEY DEFAULT nextval('risk_scores_id_seq'),
                repo VARCHAR NOT NULL,
                commit_sha VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                score DOUBLE NOT NULL,
                percentile DOUBLE NOT NULL,
                band VARCHAR NOT NULL,
                method VARCHAR NOT NULL,
                scored_at TIMESTAMPTZ NOT NULL,
                run_id VARCHAR
            )
            """,
            "CREATE INDEX IF NOT EXISTS risk_scores_repo ON risk_scores (repo, commit_sha)",
        ),
    ),
)
