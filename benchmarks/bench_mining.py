"""Mining speed: ProdSprint's miner vs the raw `git log --numstat` pass vs PyDriller.

A synthetic repository of several thousand commits is written with git fast-import
(prodsprint_dagster.risk.synthetic: multi-file commits by a dozen authors and a bot, renames,
deletions, binary files, merged side branches). Then, in the same run, on the same commits:

- ``git_log_raw``: the mining pass's own ``git log -z --numstat -M`` (same arguments), its
  output read and discarded: the lower bound for anything built on git log.
- ``git_log_plain``: a plain ``git log --numstat`` (default format, no rename detection).
- ``miner``: ProdSprint's streamed parse plus the 14 Kamei features (in memory).
- ``miner_with_store``: ``mine_repository``: the same plus writing ``commits`` /
  ``commit_files`` to DuckDB (an empty store whose schema exists already).
- ``pydriller``: ``Repository(path).traverse_commits()`` reading every modified file's added
  and deleted lines (PyPI ``pydriller``, dev only).

Per-commit line counts are compared on the non-merge commits (PyDriller gives merges no
files). Prints one JSON object; a table goes to stderr.

    python benchmarks/bench_mining.py [--commits 4000] [--runs 3] [--no-pydriller]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.git import git_env
from prodsprint_dagster.risk.gitlog import iter_commits, log_command
from prodsprint_dagster.risk.mining import MinedBatch, Miner, mine_repository
from prodsprint_dagster.risk.synthetic import generate_history
from prodsprint_dagster.store import HistoryStore


def best_of(runs: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def raw_pass(repo: Path, args: list[str]) -> int:
    proc = subprocess.run(args, cwd=repo, env=git_env(), capture_output=True, check=True)
    return len(proc.stdout)


def miner(repo: Path) -> dict[str, tuple[int, int]]:
    m, batch = Miner("bench"), MinedBatch()
    counts = {}
    for raw in iter_commits(repo):
        m.add(raw, batch)
        if not raw.is_merge:
            counts[raw.sha] = (sum(f.added for f in raw.files), sum(f.deleted for f in raw.files))
    return counts


def fresh_store(tmp: Path) -> HistoryStore:
    """An empty, migrated store: creating the schema is a one-time cost, not mining."""
    store = HistoryStore(tmp / f"h{time.monotonic_ns()}.duckdb")
    store.migrate()
    return store


def pydriller_pass(repo: Path) -> dict[str, tuple[int, int]]:
    from pydriller import Repository

    counts = {}
    for commit in Repository(str(repo)).traverse_commits():
        if commit.merge:
            continue
        files = commit.modified_files
        counts[commit.hash] = (sum(f.added_lines for f in files),
                               sum(f.deleted_lines for f in files))  # fmt: skip
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pydriller", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mining-") as tmp:
        tmp = Path(tmp)
        history = generate_history(tmp / "repo", args.commits)
        repo = history.path
        miner(repo)  # warm the OS cache and the imports
        t_raw, size = best_of(args.runs, lambda: raw_pass(repo, log_command("HEAD")))
        t_plain, _ = best_of(args.runs, lambda: raw_pass(repo, ["git", "log", "--numstat"]))
        t_miner, ours = best_of(args.runs, lambda: miner(repo))
        stores = [fresh_store(tmp) for _ in range(args.runs)]
        t_store, stored = best_of(
            args.runs, lambda: mine_repository(stores.pop(), "bench", repo)["new_commits"]
        )
        result = {
            "commits": history.commits,
            "merges": history.merges,
            "non_merge_commits": len(ours),
            "git_log_bytes": size,
            "seconds": {
                "git_log_raw": round(t_raw, 3),
                "git_log_plain": round(t_plain, 3),
                "miner": round(t_miner, 3),
                "miner_with_store": round(t_store, 3),
            },
            "ratio_vs_raw": {
                "miner": round(t_miner / t_raw, 2),
                "miner_with_store": round(t_store / t_raw, 2),
            },
            "targets": {"miner_vs_raw_max": 1.5, "speedup_vs_pydriller_min": 10},
            "stored_commits": stored,
        }
        if not args.no_pydriller:
            t_py, theirs = best_of(1, lambda: pydriller_pass(repo))
            same = [sha for sha in ours if theirs.get(sha) == ours[sha]]
            differ = [
                {"commit": sha[:12], "miner": ours[sha], "pydriller": theirs.get(sha)}
                for sha in ours
                if theirs.get(sha) != ours[sha]
            ]
            result["seconds"]["pydriller"] = round(t_py, 3)
            result["speedup_vs_pydriller"] = {
                "miner": round(t_py / t_miner, 1),
                "miner_with_store": round(t_py / t_store, 1),
            }
            result["line_counts"] = {
                "compared": len(ours),
                "identical": len(same),
                "pydriller_commits": len(theirs),
                "differences": differ[:10],
            }
    print(f"{'pass':<18} {'seconds':>8}  vs raw", file=sys.stderr)
    for name, seconds in result["seconds"].items():
        print(f"{name:<18} {seconds:>8.3f}  {seconds / t_raw:5.2f}x", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
