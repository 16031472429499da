"""A repository snapshot: one commit checked out and described, the input of every later stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from prodsprint_dagster.config import RepoConfig
from prodsprint_dagster.git import GitClient
from prodsprint_dagster.names import validate_sha


@dataclass(frozen=True)
class Snapshot:
    repo: str
    url: str
    branch: str
    sha: str
    parents: tuple[str, ...]
    author: str
    committed_at: str
    subject: str
    files: int
    bytes: int
    worktree: str

    def to_dict(self) -> dict:
        return asdict(self)


def take_snapshot(git: GitClient, repo: RepoConfig, sha: str | None = None) -> Snapshot:
    """Fetch the repository, check out ``sha`` (default: the branch head) and describe it."""
    git.sync_mirror(repo.name, repo.url)
    sha = validate_sha(sha) if sha else git.resolve_branch(repo.name, repo.branch)
    info = git.commit_info(repo.name, sha)
    worktree = git.checkout(repo.name, sha)
    files, size = git.tree_stats(repo.name, sha)
    return Snapshot(
        repo=repo.name,
        url=repo.url,
        branch=repo.branch,
        sha=info.sha,
        parents=info.parents,
        author=f"{info.author_name} <{info.author_email}>",
        committed_at=info.committed_at,
        subject=info.subject,
        files=files,
        bytes=size,
        worktree=str(Path(worktree)),
    )
