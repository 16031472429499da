"""Fixtures shared by the suite: real git repositories and an isolated ProdSprint project."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from prodsprint_dagster.config import load_config
from prodsprint_dagster.definitions import build_resources
from prodsprint_dagster.git import git_env


@dataclass
class GitRepo:
    """A real repository made by the test, with a helper to add commits."""

    path: Path
    branch: str = "main"

    def commit(self, name: str, content: str, message: str | None = None) -> str:
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content)
        run_git(self.path, "add", "--", name)
        run_git(self.path, "commit", "--quiet", "--no-gpg-sign", "-m", message or f"update {name}")
        return self.head()

    def head(self) -> str:
        return run_git(self.path, "rev-parse", "HEAD").strip()


def run_git(cwd: Path, *args: str) -> str:
    env = {
        **git_env(),
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.test",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.test",
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def make_repo(tmp_path: Path):
    """Factory: make_repo("name", commits=2) -> GitRepo with that many commits on main."""

    def make(name: str = "service", commits: int = 1, branch: str = "main") -> GitRepo:
        path = tmp_path / "remotes" / name
        path.mkdir(parents=True)
        run_git(path, "init", "--quiet", f"--initial-branch={branch}")
        repo = GitRepo(path, branch)
        for i in range(commits):
            repo.commit("app.py", f"print({i})\n", f"commit {i}")
        return repo

    return make


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project: its own prodsprint.yaml and home below tmp_path."""
    config = tmp_path / "project" / "prodsprint.yaml"
    config.parent.mkdir()
    config.write_text("home: home\nrepos: []\n")
    monkeypatch.setenv("PRODSPRINT_CONFIG", str(config))
    monkeypatch.delenv("PRODSPRINT_HOME", raising=False)
    monkeypatch.chdir(config.parent)
    return config


@pytest.fixture
def resources(project: Path):
    """Resources bound from the project's config, as definitions.py binds them."""
    return lambda: build_resources(load_config(project))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real git:// server on loopback serving the folder it returns, and its base URL."""
    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
         "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield base, f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
