"""Git operations on untrusted remotes and repositories.

Every call is an argument list (never a shell string), with ``--`` before URLs, refs and
paths, a time limit, no terminal prompts and no transport helpers. Remotes are mirrored under
the ProdSprint home; each checked-out commit gets its own immutable work tree so that two runs
on different commits of one repository never share a checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from prodsprint_dagster.errors import GitError
from prodsprint_dagster.names import (
    is_local_url,
    local_path,
    validate_artifact_name,
    validate_branch,
    validate_git_url,
    validate_repo_name,
    validate_sha,
)

# Transports git may use; ext:: and fd:: run commands and are never allowed.
DEFAULT_AUTHOR = "ProdSprint <prodsprint@localhost>"
_ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
_HARDENING = (
    "-c", "protocol.allow=never",
    *(arg for p in _ALLOWED_PROTOCOLS.split(":") for arg in ("-c", f"protocol.{p}.allow=always")),
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "submodule.recurse=false",
)  # fmt: skip


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committed_at: str  # ISO 8601 with offset
    subject: str


class GitClient:
    """Mirrors, head look-ups and per-commit checkouts below ``root`` (``<home>/git``)."""

    def __init__(self, root: Path, *, timeout: float = 120.0, keep_worktrees: int = 5):
        self.root = Path(root)
        self.timeout = timeout
        self.keep_worktrees = keep_worktrees

    # -- paths -------------------------------------------------------------------------------

    def mirror_path(self, repo: str) -> Path:
        return self.root / "mirrors" / f"{validate_repo_name(repo)}.git"

    def worktree_path(self, repo: str, sha: str) -> Path:
        return self.root / "worktrees" / validate_repo_name(repo) / validate_sha(sha)

    # -- remote look-ups ---------------------------------------------------------------------

    def branch_head(self, url: str, branch: str) -> str:
        """The sha the remote's branch points at now (no fetch).

        Local repositories are read with one ``rev-parse``; remotes need ``ls-remote``.
        """
        validate_branch(branch)
        url = validate_git_url(url)
        ref = f"refs/heads/{branch}"
        if is_local_url(url):
            path = local_path(url)
            if not path.is_dir():
                raise GitError(f"repository {url}: path does not exist or is not a directory")
            out = self._git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                cwd=path,
                what=f"look up branch {branch!r} of {url}",
                ok_codes=(0, 1),
            )
            sha = out.strip()
            if not sha:
                raise GitError(f"repository {url}: branch {branch!r} does not exist")
            return sha
        out = self._git(
            ["ls-remote", "--heads", "--", url, ref], what=f"look up branch {branch!r} of {url}"
        )
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        raise GitError(f"repository {url}: branch {branch!r} does not exist")

    # -- mirror ------------------------------------------------------------------------------

    def sync_mirror(self, repo: str, url: str) -> Path:
        """Create or update the bare mirror of ``url``; safe against concurrent callers."""
        mirror = self.mirror_path(repo)
        url = validate_git_url(url)
        mirror.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(mirror):
            if not (mirror / "HEAD").exists():
                tmp = mirror.with_name(mirror.name + ".partial")
                shutil.rmtree(tmp, ignore_errors=True)
                self._git(["clone", "--mirror", "--quiet", "--", url, str(tmp)],
                          what=f"clone {url}")  # fmt: skip
                tmp.rename(mirror)
            else:
                self._git(["remote", "set-url", "--", "origin", url], cwd=mirror, what="set url")
                self._git(["fetch", "--prune", "--quiet", "origin"], cwd=mirror,
                          what=f"fetch {url}")  # fmt: skip
        return mirror

    def resolve_branch(self, repo: str, branch: str) -> str:
        """The branch head as the mirror last fetched it."""
        validate_branch(branch)
        out = self._git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options",
             f"refs/heads/{branch}^{{commit}}"],
            cwd=self.mirror_path(repo), what=f"resolve branch {branch!r}", ok_codes=(0, 1),
        )  # fmt: skip
        if not out.strip():
            raise GitError(f"repository {repo}: branch {branch!r} does not exist")
        return out.strip()

    def is_ancestor(self, repo: str, older: str, newer: str) -> bool:
        """Whether ``older`` is reachable from ``newer`` in the mirror."""
        validate_sha(older)
        validate_sha(newer)
        proc_out = self._git(
            ["merge-base", "--is-ancestor", older, newer], cwd=self.mirror_path(repo),
            what=f"compare {older[:12]} and {newer[:12]}", ok_codes=(0, 1, 128),
            status=True,
        )  # fmt: skip
        return proc_out == "0"

    def commit_info(self, repo: str, sha: str) -> CommitInfo:
        validate_sha(sha)
        mirror = self.mirror_path(repo)
        self._require_commit(mirror, repo, sha)
        out = self._git(
            ["show", "-s", "--no-show-signature",
             "--format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%s", sha, "--"],
            cwd=mirror, what=f"read commit {sha}",
        )  # fmt: skip
        full, parents, name, email, when, subject = out.rstrip("\n").split("\x00", 5)
        return CommitInfo(full, tuple(parents.split()), name, email, when, subject)

    # -- checkout ----------------------------------------------------------------------------

    def checkout(self, repo: str, sha: str) -> Path:
        """A clean work tree of ``sha``; reused when it already exists and is complete."""
        mirror = self.mirror_path(repo)
        dest = self.worktree_path(repo, sha)
        self._require_commit(mirror, repo, sha)
        with self._lock(mirror):
            marker = dest / ".git"
            if dest.exists() and marker.exists():
                head = self._git(["rev-parse", "HEAD"], cwd=dest, what="read work tree").strip()
                if head == sha:
                    return dest
            if dest.exists():
                shutil.rmtree(dest)
                self._git(["worktree", "prune"], cwd=mirror, what="prune work trees")
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._git(
                ["worktree", "add", "--force", "--detach", "--quiet", "--", str(dest), sha],
                cwd=mirror, what=f"check out {sha}",
            )  # fmt: skip
            self._prune_old_worktrees(mirror, dest.parent, keep=dest)
        return dest

    def _prune_old_worktrees(self, mirror: Path, parent: Path, keep: Path) -> None:
        trees = sorted(
            (p for p in parent.iterdir() if p.is_dir() and p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in trees[max(self.keep_worktrees - 1, 0) :]:
            shutil.rmtree(old, ignore_errors=True)
        self._git(["worktree", "prune"], cwd=mirror, what="prune work trees")

    def tree_stats(self, repo: str, sha: str) -> tuple[int, int]:
        """(files, bytes) of the commit's tree, from git's object database (no checkout walk)."""
        out = self._git(
            ["ls-tree", "-r", "-l", "--full-tree", sha], cwd=self.mirror_path(repo),
            what=f"list tree of {sha}",
        )  # fmt: skip
        files = size = 0
        for line in out.splitlines():
            meta = line.split("\t", 1)[0].split()
            if len(meta) == 4 and meta[1] == "blob":
                files += 1
                size += int(meta[3]) if meta[3].isdigit() else 0
        return files, size

    # -- writing -----------------------------------------------------------------------------

    def commit_to_branch(
        self,
        repo: str,
        base_sha: str,
        branch: str,
        files: Mapping[str, str],
        *,
        message: str,
        author: str = DEFAULT_AUTHOR,
        push: bool = False,
    ) -> str:
        """Commit ``files`` on top of ``base_sha`` as ``branch`` in the mirror; returns the sha.

        The commit is made in a throw-away work tree of the mirror, never in a user's checkout.
        With ``push`` the branch (ProdSprint's own, forced) is pushed to the repository's remote.
        """
        with self._scratch_tree(repo, base_sha, branch) as (mirror, tree):
            for rel, text in sorted(files.items()):
                target = (tree / validate_artifact_name(rel)).resolve()
                if not target.is_relative_to(tree.resolve()):
                    raise GitError(f"refusing to write {rel!r} outside the work tree")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            self._git(["add", "--all", "--", "."], cwd=tree, what=f"stage {branch}")
            self._git(["commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", message],
                      cwd=tree, what=f"commit {branch}", env=_ident(author))  # fmt: skip
            return self._publish(mirror, tree, branch, push)

    def revert_to_branch(
        self,
        repo: str,
        base_sha: str,
        bad_sha: str,
        branch: str,
        *,
        message: str,
        since_sha: str | None = None,
        author: str = DEFAULT_AUTHOR,
        push: bool = False,
    ) -> str:
        """One commit on top of ``base_sha`` that reverts ``bad_sha`` (with ``since_sha``: every
        commit after it up to ``bad_sha``), as ``branch``; returns the sha.

        A revert that does not apply cleanly (later commits touched the same lines) raises a
        GitError naming the conflict; nothing is left behind in the mirror.
        """
        validate_sha(bad_sha)
        if since_sha is not None:
            validate_sha(since_sha)
        what = f"{since_sha}..{bad_sha}" if since_sha else bad_sha
        with self._scratch_tree(repo, base_sha, branch) as (mirror, tree):
            try:
                # -m 1: a merge in the range is reverted against its first parent.
                self._git(["revert", "--no-commit", "-m", "1", "--end-of-options", what],
                          cwd=tree, what=f"revert {what}", env=_ident(author))  # fmt: skip
            except GitError as exc:
                raise GitError(
                    f"{what} does not revert cleanly on {base_sha[:12]}: {exc}"
                ) from None
            self._git(["commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", message],
                      cwd=tree, what=f"commit {branch}", env=_ident(author))  # fmt: skip
            return self._publish(mirror, tree, branch, push)

    @contextmanager
    def _scratch_tree(self, repo: str, base_sha: str, branch: str) -> Iterator[tuple[Path, Path]]:
        """(mirror, work tree at ``base_sha``), locked; the work tree is removed afterwards."""
        validate_sha(base_sha)
        validate_branch(branch)
        mirror = self.mirror_path(repo)
        self._require_commit(mirror, repo, base_sha)
        with self._lock(mirror):
            work = Path(tempfile.mkdtemp(prefix="branch-", dir=self.root))
            tree = work / "tree"
            try:
                self._git(["worktree", "add", "--detach", "--quiet", "--", str(tree), base_sha],
                          cwd=mirror, what=f"prepare {branch}")  # fmt: skip
                yield mirror, tree
            finally:
                shutil.rmtree(work, ignore_errors=True)
                self._git(["worktree", "prune"], cwd=mirror, what="prune work trees")

    def _publish(self, mirror: Path, tree: Path, branch: str, push: bool) -> str:
        sha = self._git(["rev-parse", "HEAD"], cwd=tree, what="read commit").strip()
        self._git(["update-ref", "--", f"refs/heads/{branch}", sha], cwd=mirror,
                  what=f"update {branch}")  # fmt: skip
        if push:
            # The branch is ProdSprint's own (prodsprint/...), so a forced update of that one
            # ref is safe; the mirror flag is lifted only for this push.
            self._git(["-c", "remote.origin.mirror=false", "push", "--force", "--quiet",
                       "origin", "--", f"refs/heads/{branch}:refs/heads/{branch}"],
                      cwd=mirror, what=f"push {branch}")  # fmt: skip
        return sha

    def read_file(self, repo: str, sha: str, path: str) -> str | None:
        """A file's text at ``sha`` in the mirror, or None when it does not exist there."""
        validate_sha(sha)
        validate_artifact_name(path)
        out = self._git(["cat-file", "-p", f"{sha}:{path}"], cwd=self.mirror_path(repo),
                        what=f"read {path} at {sha}", ok_codes=(0, 128))  # fmt: skip
        return out if out else None

    # -- plumbing ----------------------------------------------------------------------------

    def _require_commit(self, mirror: Path, repo: str, sha: str) -> None:
        if not (mirror / "HEAD").exists():
            raise GitError(f"repository {repo}: not mirrored yet (run a snapshot first)")
        out = self._git(
            ["cat-file", "-t", "--", sha], cwd=mirror, what=f"find {sha}", ok_codes=(0, 128)
        )
        if out.strip() != "commit":
            raise GitError(f"repository {repo}: unknown commit {sha}")

    @contextmanager
    def _lock(self, mirror: Path) -> Iterator[None]:
        """Serialize fetches and checkouts of one mirror across threads and processes."""
        try:
            with FileLock(str(mirror) + ".lock", timeout=self.timeout):
                yield
        except Timeout:
            raise GitError(f"timed out waiting for another git operation on {mirror}") from None

    def _git(
        self,
        args: list[str],
        *,
        what: str,
        cwd: Path | None = None,
        ok_codes=(0,),
        env: Mapping[str, str] | None = None,
        status: bool = False,
    ) -> str:
        cmd = ["git", *_HARDENING, *args]
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env={**git_env(), **(env or {})}, capture_output=True, text=True,
                timeout=self.timeout, check=False, errors="replace",
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise GitError(f"git timed out after {self.timeout:.0f}s trying to {what}") from None
        if proc.returncode not in ok_codes:
            raise GitError(f"git failed to {what}: {_last_line(proc.stderr)}")
        return str(proc.returncode) if status else proc.stdout


def _ident(author: str) -> dict[str, str]:
    name, _, email = author.partition(" <")
    email = email.rstrip(">")
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}  # fmt: skip


def git_env() -> dict[str, str]:
    """A minimal environment: no prompts, no user or system config, no inherited secrets."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_ALLOW_PROTOCOL=_ALLOWED_PROTOCOLS,
        LC_ALL="C",
    )
    return env


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
