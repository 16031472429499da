"""Incremental mining of a repository's history into the history store.

A pass reads only the commits after the tips already mined. The running feature state is
rebuilt by replaying the stored ``commit_files`` rows through the same
:meth:`FeatureState.apply` the git pass uses, so features of a commit are identical
whether it was mined in one full pass or in many small ones: commits are applied in
reversed topological order (gitlog.iter_commits), where a branch's commits arrive just
before the merge that brings them in, which is also the order successive passes see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from prodsprint_dagster.errors import GitError, StoreError
from prodsprint_dagster.names import validate_repo_name
from prodsprint_dagster.risk.features import KAMEI_FEATURES, FeatureState
from prodsprint_dagster.risk.gitlog import RawCommit, check_repository, iter_commits, resolve
from prodsprint_dagster.risk.messages import is_bot, read_message
from prodsprint_dagster.store import HistoryStore

_MAX_MESSAGE = 8_192
_EXCLUDE_HEADS = 5

COMMIT_COLUMNS = (
    "repo", "sha", "seq", "parents", "author_name", "author_email", "author_key",
    "authored_ts", "committed_ts", "subject", "message", "is_merge", "is_bot", "is_revert",
    "reverts", "cited", "binary_files", *KAMEI_FEATURES,
)  # fmt: skip
_MERGE = COMMIT_COLUMNS.index("is_merge")
FILE_COLUMNS = (
    "repo", "sha", "seq", "ord", "path", "old_path", "added", "deleted", "is_binary",
    "lines_before",
)  # fmt: skip


def author_key(name: str, email: str) -> str:
    """One identity per person: the e-mail address (lower case), else the name."""
    email = email.strip().lower()
    return email if email and email != "none" else name.strip().lower()


@dataclass
class MinedBatch:
    """Rows of one pass as tuples (cheap to append), inserted into DuckDB in one go each."""

    commits: list[tuple] = field(default_factory=list)
    files: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.commits)


class Miner:
    """Feature computation over a stream of commits, with its state (no store involved)."""

    def __init__(self, repo: str, state: FeatureState | None = None, seq: int = 0):
        self.repo = repo
        self.state = state or FeatureState()
        self.seq = seq
        self.merges_replayed = 0
        self._bots: dict[tuple[str, str], bool] = {}

    def add(self, raw: RawCommit, batch: MinedBatch) -> tuple:
        facts = read_message(raw.message)
        key = author_key(raw.author_name, raw.author_email)
        merge = raw.is_merge
        row, before = self.state.apply(
            key, raw.committed_at, raw.files, fix=facts.is_fix, merge=merge
        )
        repo, sha, seq, message = self.repo, raw.sha, self.seq, raw.message
        who = (raw.author_name, raw.author_email)
        bot = self._bots.get(who)
        if bot is None:
            bot = self._bots[who] = is_bot(*who)
        batch.commits.append(
            (
                repo, sha, seq, list(raw.parents), raw.author_name, raw.author_email, key,
                raw.authored_at, raw.committed_at, message.split("\n", 1)[0][:500],
                message[:_MAX_MESSAGE], merge, bot,
                facts.is_revert, facts.reverts, list(facts.cited),
                sum(f.binary for f in raw.files), *row,
            )
        )  # fmt: skip
        if not merge:
            batch.files.extend(
                (repo, sha, seq, i, *change, lines)
                for i, (change, lines) in enumerate(zip(raw.files, before, strict=True))
            )
        self.seq += 1
        return row


def replay(store: HistoryStore, repo: str) -> tuple[Miner, set[str], list[str]]:
    """The miner as it stood after the last pass, the mined shas and the recent tips."""
    miner = Miner(repo)
    if not store.path.exists():
        return miner, set(), []
    with store.connect(read_only=True) as con:
        commits = con.execute(
            "SELECT sha, seq, author_key, committed_ts, is_merge, fix FROM commits"
            " WHERE repo = ? ORDER BY seq",
            [repo],
        ).fetchall()
        files = con.execute(
            "SELECT seq, path, old_path, added, deleted, is_binary FROM commit_files"
            " WHERE repo = ? ORDER BY seq, ord",
            [repo],
        ).fetchall()
        heads = [
            r[0]
            for r in con.execute(
                "SELECT head FROM mining_heads WHERE repo = ? ORDER BY mined_at DESC LIMIT ?",
                [repo, _EXCLUDE_HEADS],
            ).fetchall()
        ]
    by_seq: dict[int, list] = {}
    for seq, path, old_path, added, deleted, binary in files:
        by_seq.setdefault(seq, []).append((path, old_path, added, deleted, binary))
    apply = miner.state.apply
    for _sha, seq, key, when, merge, fix in commits:
        apply(key, when, by_seq.get(seq, ()), fix=bool(fix), merge=merge)
    miner.seq = commits[-1][1] + 1 if commits else 0
    miner.merges_replayed = sum(1 for c in commits if c[4])
    return miner, {c[0] for c in commits}, heads


def mine_repository(
    store: HistoryStore,
    repo: str,
    path: Path,
    *,
    rev: str = "HEAD",
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Mine the commits of ``path`` reachable from ``rev`` that the store does not have yet.

    Returns counts and timings; an empty repository mines nothing and says so.
    """
    validate_repo_name(repo)
    path = Path(path)
    started = time.perf_counter()
    has_commits = check_repository(path)
    head = resolve(path, rev) if has_commits else None
    if has_commits and head is None:
        raise GitError(f"{path}: revision {rev!r} does not name a commit")
    miner, known, heads = replay(store, repo)
    batch = MinedBatch()
    if head is not None and head not in known:
        exclude = [h for h in heads if resolve(path, h)]
        progress(f"mining {repo} from {exclude[0][:12] if exclude else 'the first commit'}")
        for raw in iter_commits(path, head, exclude):
            if raw.sha not in known:
                miner.add(raw, batch)
        write_batch(store, repo, head, batch)
    merges = sum(1 for row in batch.commits if row[_MERGE]) + miner.merges_replayed
    return {
        "repo": repo,
        "head": head,
        "new_commits": len(batch),
        "commits": len(known) + len(batch),
        "merges": merges,
        "empty": not has_commits,
        "seconds": round(time.perf_counter() - started, 3),
    }


def write_batch(store: HistoryStore, repo: str, head: str | None, batch: MinedBatch) -> None:
    """Insert a pass's rows and its tip in one transaction (all or nothing)."""
    now = datetime.now(UTC)
    commits = pd.DataFrame.from_records(batch.commits, columns=list(COMMIT_COLUMNS))
    files = pd.DataFrame.from_records(batch.files, columns=list(FILE_COLUMNS))
    commits["mined_at"] = now
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if len(commits):
                con.register("mined_commits", commits)
                cols = ", ".join(COMMIT_COLUMNS)
                con.execute(
                    f"INSERT INTO commits ({cols}, committed_at, mined_at)"  # noqa: S608
                    f" SELECT {cols}, to_timestamp(committed_ts), mined_at FROM mined_commits"
                )
                con.unregister("mined_commits")
            if len(files):
                con.register("mined_files", files)
                cols = ", ".join(FILE_COLUMNS)
                con.execute(
                    f"INSERT INTO commit_files ({cols}) SELECT {cols} FROM mined_files"  # noqa: S608
                )
                con.unregister("mined_files")
            if head:
                con.execute(
                    "INSERT INTO mining_heads VALUES (?, ?, ?, ?)", [repo, head, now, len(commits)]
                )
            con.execute("COMMIT")
        except duckdb.ConstraintException:
            con.execute("ROLLBACK")
            raise StoreError(
                f"{repo}: another process mined the same commits at the same time; nothing "
                "was written by this pass, run it again"
            ) from None
        except Exception:
            con.execute("ROLLBACK")
            raise
