"""Git mirrors and checkouts below the ProdSprint home."""

from pathlib import Path

import dagster as dg

from prodsprint_dagster.git import GitClient


class GitResource(dg.ConfigurableResource):
    """Where mirrors and work trees live, and how long one git call may take."""

    root: str
    timeout_seconds: float = 120.0
    head_lookup_workers: int = 16
    keep_worktrees: int = 5

    def client(self) -> GitClient:
        return GitClient(
            Path(self.root), timeout=self.timeout_seconds, keep_worktrees=self.keep_worktrees
        )
