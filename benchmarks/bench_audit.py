"""Audit wall time next to `git grep -E` for the env-var patterns over the same tree.

`git grep -E` for the env-var access patterns is the cost of reading the sources once; the
auditor's target (issue 3) is at most twice that. Two trees by default: a generated
50,000-file repository and this interpreter's site-packages (a large real tree).

Fairness: git grep gets the same tree, the same patterns and as many threads as the auditor
has worker processes (`grep.threads`); its index is built before timing, in a scratch git
directory outside the tree. One untimed run of each warms the page cache; then `--runs`
rounds alternate the order (audit first, then git grep first, ...). The ratio is the median
of the per-round ratios (each round measures both under the same machine load), and the
medians of each side are printed too. The audit is timed as a library call in a warm
interpreter (as the Dagster asset runs it); git grep as a process (a few ms of exec).

git grep reads every file of the tree, binaries and vendored/docs directories included; the
auditor skips those. `git_grep_same_files` is the stricter reference: git grep over exactly
the files the auditor reads (its index holds only those).

Prints a table on stderr and one JSON object on stdout.

    python benchmarks/bench_audit.py [--files 50000] [--tree PATH ...] [--no-generated]
                                     [--runs 5] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.audit import audit_repository, engine
from prodsprint_dagster.audit.walk import BINARY_EXT, walk

ENV_PATTERN = (
    r"os\.environ|getenv|process\.env|os\.Getenv|ENV\[|ENV\.fetch|System\.getenv|env::var"
    r"|GetEnvironmentVariable|import\.meta\.env|\$_ENV|System\.get_env"
)
TARGET_RATIO = 2.0

_PY = (
    '"""Module {i}."""\nimport os\n\nVALUE_{i} = os.environ.get("SETTING_{k}", "x")\n\n\n'
    "def f{i}(a, b):\n    return a + b * {i}\n"
    + "# filler line with some words to look like code\n"
    * 30
)
_JS = (
    "const x{i} = process.env.OPTION_{k} || 'y';\n"
    "function g{i}(a) {{ return a * {i}; }}\nmodule.exports = {{ g{i} }};\n"
    + "// filler comment line for realistic size\n"
    * 30
)
_GO = (
    'package p{k}\n\nimport "os"\n\nfunc F{i}() string {{ return os.Getenv("GO_{k}") }}\n'
    + "// filler\n" * 30
)
_MD = "# Notes {i}\n\nSome prose.\n" * 10


def generate(root: Path, n: int) -> None:
    rng = random.Random(42)
    (root / "Dockerfile").write_text(
        "FROM python:3.11\nUSER app\nEXPOSE 8000\nCMD gunicorn app:app\n"
    )
    (root / "requirements.txt").write_text("flask==3.0.3\ngunicorn==22.0.0\n")
    for i in range(n - 2):
        k = rng.randrange(200)
        d = root / f"pkg{i % 50}" / f"sub{i % 17}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 10
        if kind < 5:
            (d / f"m{i}.py").write_text(_PY.format(i=i, k=k))
        elif kind < 8:
            (d / f"m{i}.js").write_text(_JS.format(i=i, k=k))
        elif kind < 9:
            (d / f"m{i}.go").write_text(_GO.format(i=i, k=k))
        else:
            (d / f"n{i}.md").write_text(_MD.format(i=i))


class GitGrep:
    """`git grep -E ENV_PATTERN` over ``root`` with a scratch index (built once, untimed)."""

    def __init__(self, root: Path, threads: int, only: list[str] | None = None) -> None:
        self.root = root
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-git-"))
        subprocess.run(["git", "init", "-q", str(self.scratch)], check=True)
        self.git = [
            "git", f"--git-dir={self.scratch / '.git'}", f"--work-tree={root}",
            "--literal-pathspecs", "-c", "core.quotepath=off", "-c", f"grep.threads={threads}",
        ]  # fmt: skip
        if only is None:
            add = [*self.git, "add", "-A", "-f", "."]
            subprocess.run(add, check=True, cwd=root, capture_output=True)
        else:
            listing = self.scratch / "files"
            listing.write_bytes(b"\0".join(os.fsencode(p) for p in only))
            add = [*self.git, "add", "-f", f"--pathspec-from-file={listing}",
                   "--pathspec-file-nul"]  # fmt: skip
            subprocess.run(add, check=True, cwd=root, capture_output=True)
        self.files = len(
            subprocess.run(
                [*self.git, "ls-files", "-z"], check=True, cwd=root, capture_output=True
            ).stdout.split(b"\0")[:-1]
        )

    def run(self) -> float:
        start = time.perf_counter()
        proc = subprocess.run(
            [*self.git, "grep", "-E", "-c", ENV_PATTERN], cwd=self.root, capture_output=True
        )
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace"))
        return elapsed

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def audited_files(root: Path) -> list[str]:
    """The files the auditor opens and reads in full (no binaries, no vendored/generated)."""
    tree = walk(str(root), max_files=10**7, stat_files=False)
    return [
        f.rel
        for f in tree.files
        if f.excluded not in ("vendored", "generated") and f.ext not in BINARY_EXT
    ]


def measure(label: str, root: Path, runs: int, workers: int | None) -> dict:
    workers = workers or engine._default_workers()

    def audit() -> tuple[float, dict]:
        start = time.perf_counter()
        report = audit_repository(root, max_files=10**7, workers=workers)
        return time.perf_counter() - start, report

    grep = GitGrep(root, workers)
    strict = GitGrep(root, workers, only=audited_files(root))
    try:
        _, report = audit()  # warm-up: page cache, imports, regex and Hyperscan compilation
        grep.run()
        strict.run()
        rounds = []
        for i in range(runs):
            order = ("audit", "grep", "strict") if i % 2 == 0 else ("strict", "grep", "audit")
            t: dict[str, float] = {}
            for what in order:
                if what == "audit":
                    t[what] = audit()[0]
                else:
                    t[what] = (grep if what == "grep" else strict).run()
            rounds.append(t)
    finally:
        grep.close()
        strict.close()
    audit_s = statistics.median(r["audit"] for r in rounds)
    grep_s = statistics.median(r["grep"] for r in rounds)
    strict_s = statistics.median(r["strict"] for r in rounds)
    files = report["repo"]["files"]
    return {
        "tree": label,
        "workers": workers,
        "runs": runs,
        "files": files,
        "bytes": report["repo"]["bytes"],
        "audit_wall_s": round(audit_s, 3),
        "audit_runs_s": [round(r["audit"], 3) for r in rounds],
        "files_per_s": round(files / audit_s),
        "git_grep_files": grep.files,
        "git_grep_wall_s": round(grep_s, 3),
        "git_grep_runs_s": [round(r["grep"], 3) for r in rounds],
        "ratio_vs_git_grep": round(statistics.median(r["audit"] / r["grep"] for r in rounds), 2),
        "git_grep_same_files": strict.files,
        "git_grep_same_files_wall_s": round(strict_s, 3),
        "ratio_vs_git_grep_same_files": round(
            statistics.median(r["audit"] / r["strict"] for r in rounds), 2
        ),
        "target_ratio": TARGET_RATIO,
        "services": len(report["services"]),
        "env_vars": len(report["env_vars"]),
        "secrets": len(report["secrets"]),
        "skipped_total": report["skipped_total"],
    }


def _table(results: list[dict]) -> str:
    head = (
        f"{'tree':<44} {'files':>7} {'audit s':>8} {'files/s':>8} {'grep s':>7} "
        f"{'ratio':>6} {'same-files grep s':>17} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['tree'][-44:]:<44} {r['files']:>7} {r['audit_wall_s']:>8.3f} "
            f"{r['files_per_s']:>8} {r['git_grep_wall_s']:>7.3f} {r['ratio_vs_git_grep']:>5.2f}x "
            f"{r['git_grep_same_files_wall_s']:>17.3f} {r['ratio_vs_git_grep_same_files']:>5.2f}x"
        )
    lines.append(f"target: audit <= {TARGET_RATIO}x git grep -E (median of per-round ratios)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000, help="size of the generated tree")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated tree")
    parser.add_argument(
        "--tree", type=Path, action="append", default=None,
        help="an existing tree to audit (repeatable; default: this interpreter's site-packages)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per tree (median)")
    parser.add_argument("--workers", type=int, default=None, help="audit processes (default: auto)")
    args = parser.parse_args()
    trees = args.tree if args.tree is not None else [Path(sysconfig.get_paths()["purelib"])]
    results = []
    if not args.no_generated:
        tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
        try:
            root = tmp / "generated"
            root.mkdir()
            generate(root, args.files)
            results.append(measure(f"generated:{args.files}", root, args.runs, args.workers))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for tree in trees:
        results.append(measure(str(tree.resolve()), tree.resolve(), args.runs, args.workers))
    print(_table(results), file=sys.stderr)
    print(json.dumps({"results": results}, indent=2))


if __name__ == "__main__":
    main()
