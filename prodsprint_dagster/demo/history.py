"""Replays examples/shop-api as a multi-commit, multi-author git history.

Authors and dates are fixed, so the same example always yields the same commit ids: re-running
the demo finds the mirror up to date instead of accumulating unrelated histories.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.git import git_env

DEMO_REPO_NAME = "demo__shop-api"
EXAMPLE = "shop-api"


@dataclass(frozen=True)
class Step:
    subject: str
    author: str
    date: str
    paths: tuple[str, ...]  # files or folders of the example, added (or updated) by this commit


AUTHORS = {
    "alice": "Alice Martin <alice@shop.example>",
    "bob": "Bob Okafor <bob@shop.example>",
    "chen": "Chen Wei <chen@shop.example>",
}

HISTORY: tuple[Step, ...] = (
    Step("Start shop-api: orders service skeleton", "alice", "2026-09-01T09:12:00+02:00",
         ("README.md", "requirements.txt", "shop/__init__.py", "shop/db.py", "shop/app.py")),
    Step("Add API tests", "bob", "2026-09-03T14:40:00+02:00",
         ("tests", "requirements-dev.txt", "pytest.ini")),
    Step("Add alembic migration for the orders table", "alice", "2026-09-08T10:05:00+02:00",
         ("alembic.ini", "migrations")),
    Step("Containerize the service", "chen", "2026-09-15T16:20:00+08:00",
         ("Dockerfile", ".dockerignore", ".env.example")),
    Step("Run tests with coverage in CI", "bob", "2026-09-22T11:00:00+02:00",
         (".github",)),
)  # fmt: skip


# Two later changes the demo releases: a harmless one, then one that hurts /orders.
GOOD_CHANGE = Step("Stock figs", "chen", "2026-10-01T10:00:00+08:00", ("shop/app.py",))
BAD_CHANGE = Step(
    "Speed up order listing with a warm-up", "bob", "2026-10-02T15:30:00+02:00", ("shop/app.py",)
)
_LIST_ORDERS = "    def list_orders():\n"
_WARM_UP = (
    "    def list_orders():\n"
    '        time.sleep(0.2)  # the "warm-up"\n'
    "        if random.random() < 0.05:\n"
    "            abort(500)\n"
)


def _good(app: str) -> str:
    return app.replace(
        'INVENTORY = {"apple": 120, "pear": 40, "plum": 0}',
        'INVENTORY = {"apple": 120, "pear": 40, "plum": 0, "fig": 15}',
    )


def _bad(app: str) -> str:
    app = app.replace("import os\n", "import os\nimport random\nimport time\n", 1)
    return app.replace(_LIST_ORDERS, _WARM_UP, 1)


def commit_change(repo: Path, step: Step) -> str:
    """Apply GOOD_CHANGE or BAD_CHANGE to the demo repository; returns the new commit."""
    app = repo / "shop" / "app.py"
    text = app.read_text()
    app.write_text(_good(text) if step is GOOD_CHANGE else _bad(_good(text)))
    name, email = AUTHORS[step.author].removesuffix(">").split(" <")
    _git(repo, "add", "--", "shop/app.py")
    _git(
        repo, "commit", "--quiet", "--no-gpg-sign", "-m", step.subject,
        env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
             "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
             "GIT_AUTHOR_DATE": step.date, "GIT_COMMITTER_DATE": step.date},
    )  # fmt: skip
    return _git(repo, "rev-parse", "HEAD").strip()


def examples_dir() -> Path:
    """examples/ of this checkout (the demo runs from the project tree)."""
    return Path(__file__).resolve().parents[2] / "examples"


def build_example_repo(dest: Path, source: Path | None = None) -> Path:
    """(Re)create ``dest`` as a git repository whose history replays :data:`HISTORY`."""
    source = source or examples_dir() / EXAMPLE
    if not (source / "shop" / "app.py").is_file():
        raise ProdSprintError(f"example service not found at {source}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _git(work, "init", "--quiet", "--initial-branch=main")
        for step in HISTORY:
            for rel in step.paths:
                src, dst = source / rel, work / rel
                if src.is_dir():
                    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=_IGNORED)
                else:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst)
            _git(work, "add", "--all", "--", ".")
            name, email = AUTHORS[step.author].removesuffix(">").split(" <")
            _git(
                work, "commit", "--quiet", "--no-gpg-sign", "-m", step.subject,
                env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                     "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
                     "GIT_AUTHOR_DATE": step.date, "GIT_COMMITTER_DATE": step.date},
            )  # fmt: skip
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".pytest_cache")


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**git_env(), **(env or {})},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if proc.returncode:
        raise ProdSprintError(f"building the example repository: git {args[0]}: {proc.stderr}")
    return proc.stdout
