"""Real git repositories with chosen authors, dates, renames and binary files, for the tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from prodsprint_dagster.git import git_env

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400
AUTHORS = {
    "alice": ("Alice Martin", "alice@example.test"),
    "bob": ("Bob Okafor", "bob@example.test"),
    "carol": ("Carol Chen", "carol@example.test"),
}


def git(cwd: Path, *args: str, env: dict | None = None, input: bytes | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**git_env(), **(env or {})}, input=input,
        capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode(errors="replace")


class Builder:
    """A repository where every commit says who made it and when."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        git(self.path, "init", "--quiet", "--initial-branch=main")

    def _env(self, author: str, when: int) -> dict:
        name, email = AUTHORS.get(author, (author, f"{author}@example.test"))
        date = f"@{when} +0000"
        return {
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date,
        }  # fmt: skip

    def write(self, rel: str, content: str | bytes | None) -> None:
        target = self.path / rel
        if content is None:
            target.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def commit(
        self, files: dict[str, str | bytes | None], message: str, author: str = "alice",
        when: int = T0, renames: dict[str, str] | None = None,
    ) -> str:  # fmt: skip
        for old, new in (renames or {}).items():
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            git(self.path, "mv", "--", old, new)
        for rel, content in files.items():
            self.write(rel, content)
        git(self.path, "add", "--all", "--", ".")
        git(self.path, "commit", "--quiet", "--no-gpg-sign", "--allow-empty", "-F", "-",
            env=self._env(author, when), input=message.encode())  # fmt: skip
        return self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD").strip()

    def branch(self, name: str, start: str = "HEAD") -> None:
        git(self.path, "checkout", "--quiet", "-b", name, start)

    def checkout(self, name: str) -> None:
        git(self.path, "checkout", "--quiet", name)

    def merge(self, branch: str, author: str = "alice", when: int = T0) -> str:
        git(self.path, "merge", "--quiet", "--no-ff", "--no-edit", branch,
            env=self._env(author, when))  # fmt: skip
        return self.head()


def lines(n: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i}\n" for i in range(n))


def env_with_bytes(**values: bytes) -> dict:
    """An environment whose values are raw bytes (author names that are not UTF-8)."""
    env = {k.encode(): v.encode() for k, v in git_env().items()}
    env.update({k.encode(): v for k, v in values.items()})
    return env


def run_bytes_env(cwd: Path, args: list[str], env: dict) -> None:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isdir(cwd)
