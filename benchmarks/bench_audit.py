"""Audit wall time on a generated N-file repository (or an existing tree) next to `git grep -E`.

`git grep -E` for the env-var access patterns over the same tree is the cost of reading the
sources once; the auditor's target is at most twice that. Prints one JSON object.

    python benchmarks/bench_audit.py [--files 50000] [--tree PATH] [--workers N]

`--workers 1` measures the in-process path; the default lets the auditor pick (a process pool
of the usable CPUs for trees of 2,000 files or more).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prodsprint_dagster.audit import audit_repository, engine

ENV_PATTERN = (
    r"os\.environ|getenv|process\.env|os\.Getenv|ENV\[|ENV\.fetch|System\.getenv|env::var"
    r"|GetEnvironmentVariable|import\.meta\.env|\$_ENV|System\.get_env"
)

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


def git_grep(root: Path) -> float:
    """`git grep -E` over the same files (an index is built first, outside the timing)."""
    git = ["git", "-c", "core.quotepath=off", "-C", str(root)]
    work = root
    tmp = None
    if not (root / ".git").exists():
        tmp = Path(tempfile.mkdtemp(prefix="bench-git-"))
        work = tmp
        git = ["git", f"--git-dir={tmp / '.git'}", f"--work-tree={root}"]
        subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    subprocess.run([*git, "add", "-A", "-f", "."], check=True, cwd=root, capture_output=True)
    start = time.perf_counter()
    subprocess.run(
        [*git, "grep", "-E", "-c", "--untracked", ENV_PATTERN],
        cwd=root,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    del work
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--tree", type=Path, default=None, help="audit this tree instead")
    parser.add_argument("--workers", type=int, default=None, help="audit processes (default: auto)")
    args = parser.parse_args()
    tmp = None
    if args.tree is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
        root = tmp / "generated"
        root.mkdir()
        generate(root, args.files)
    else:
        root = args.tree.resolve()
    try:
        start = time.perf_counter()
        report = audit_repository(
            root, max_files=max(args.files, 200_000) * 2, workers=args.workers
        )
        audit_s = time.perf_counter() - start
        grep_s = git_grep(root)
        files = report["repo"]["files"]
        print(
            json.dumps(
                {
                    "tree": str(root) if args.tree else f"generated:{args.files}",
                    "workers": args.workers or engine._default_workers(),
                    "files": files,
                    "audit_wall_s": round(audit_s, 3),
                    "files_per_s": round(files / audit_s) if audit_s else None,
                    "git_grep_wall_s": round(grep_s, 3),
                    "ratio_vs_git_grep": round(audit_s / grep_s, 2) if grep_s else None,
                    "services": len(report["services"]),
                    "env_vars": len(report["env_vars"]),
                    "skipped_total": report["skipped_total"],
                },
                indent=2,
            )
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
