"""The DuckDB history store: migrations, the append-only audit log, locks and corruption."""

import hashlib
import multiprocessing
import subprocess
import sys

import pytest

from prodsprint_dagster.errors import StoreError
from prodsprint_dagster.store import AuditEntry, HistoryStore
from prodsprint_dagster.store.migrations import MIGRATIONS


def test_migrations_apply_once_and_rerun_safely(tmp_path):
    path = tmp_path / "history.duckdb"
    assert HistoryStore(path).migrate() == [m.version for m in MIGRATIONS]
    assert HistoryStore(path).migrate() == []
    assert HistoryStore(path).schema_version() == MIGRATIONS[-1].version


def test_audit_rows_round_trip_with_filters(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    store.append_audit(AuditEntry("repo.register", "cli:alice", repo="shop", reason="new"))
    store.append_audit(
        AuditEntry("repo.snapshot", "sensor", repo="shop", commit="a" * 40, run_id="r1",
                   refs={"artifact": "file:///x"})
    )  # fmt: skip
    store.append_audit(AuditEntry("repo.snapshot", "sensor", repo="billing"))
    rows = store.query_audit(repo="shop")
    assert [r["action"] for r in rows] == ["repo.register", "repo.snapshot"]
    assert rows[1]["refs"] == {"artifact": "file:///x"}
    assert rows[1]["commit_sha"] == "a" * 40 and rows[1]["run_id"] == "r1"
    assert len(store.query_audit(action="repo.snap")) == 2
    assert store.query_audit(repo="nobody") == []


def _append_rows(path: str, worker: int, count: int) -> None:
    store = HistoryStore(path, lock_timeout=120)
    for i in range(count):
        store.append_audit(AuditEntry("test.append", f"worker-{worker}", reason=str(i)))


def test_four_processes_appending_at_once_lose_no_row(tmp_path):
    path = tmp_path / "h.duckdb"
    HistoryStore(path).migrate()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_rows, args=(str(path), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    rows = HistoryStore(path).query_audit(action="test.append", limit=10_000)
    assert len(rows) == 160
    assert len({r["id"] for r in rows}) == 160
    for w in range(4):
        mine = [int(r["reason"]) for r in rows if r["actor"] == f"worker-{w}"]
        assert mine == list(range(40))  # each writer's rows, complete and in order


def test_a_corrupted_file_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "history.duckdb"
    path.write_bytes(b"not a database " * 500)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    store = HistoryStore(path)
    with pytest.raises(StoreError, match=r"history\.duckdb cannot be opened.*left untouched"):
        store.append_audit(AuditEntry("x", "y"))
    with pytest.raises(StoreError, match="cannot be opened"):
        store.query_audit()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_held_lock_times_out_with_a_clear_error(tmp_path):
    path = tmp_path / "h.duckdb"
    HistoryStore(path).migrate()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
         "time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="stayed locked by another process"):
            HistoryStore(path, lock_timeout=0.5).append_audit(AuditEntry("x", "y"))
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone the write goes through.
    HistoryStore(path, lock_timeout=5).append_audit(AuditEntry("x", "y"))
