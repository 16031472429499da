"""Git access for untrusted repositories: :class:`GitClient` is the entry point."""

from prodsprint_dagster.git.client import CommitInfo, GitClient, git_env

__all__ = ["CommitInfo", "GitClient", "git_env"]
