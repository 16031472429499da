"""What every stage needs: the repository's config, the stores, the git client, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodsprint_dagster.config import ProdSprintConfig, RepoConfig
from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.git import GitClient
from prodsprint_dagster.policy import PolicyPack, load_pack
from prodsprint_dagster.store import ArtifactIO, HistoryStore, LocalArtifactStore


@dataclass
class StageContext:
    repo: RepoConfig
    history: HistoryStore
    artifacts: ArtifactIO
    git: GitClient
    pack_dirs: tuple[str, ...] = ()
    delivery: dict[str, Any] = field(default_factory=dict)
    home: Path | None = None
    release_settings: dict[str, Any] = field(default_factory=dict)
    supply: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    run_id: str | None = None

    @classmethod
    def from_config(cls, cfg: ProdSprintConfig, repo: str, **kwargs: Any) -> StageContext:
        """For the CLI: the same stores the code location binds (local artifacts only)."""
        if cfg.stores.artifacts.kind != "local":
            raise ProdSprintError(
                "the CLI reads artifacts from a local store; run this stage in Dagster when "
                "stores.artifacts.kind is s3"
            )
        return cls(
            repo=cfg.repo(repo),
            history=HistoryStore(
                cfg.history_path, lock_timeout=cfg.stores.history.lock_timeout_seconds
            ),
            artifacts=ArtifactIO(LocalArtifactStore(cfg.artifacts_path)),
            git=GitClient(cfg.git_path, timeout=cfg.git.timeout_seconds),
            pack_dirs=cfg.policy.pack_dirs,
            delivery=cfg.delivery.model_dump(),
            home=cfg.home_path,
            release_settings=(cfg.repo(repo).release or cfg.release).model_dump(exclude_none=True),
            supply=cfg.supply.model_dump(),
            **kwargs,
        )

    def pack(self) -> PolicyPack:
        return load_pack(self.repo.policy_pack, extra_dirs=[Path(d) for d in self.pack_dirs])

    def latest_commit(self) -> str:
        """The commit of the repository's most recent snapshot (from the audit log)."""
        rows = self.history.query_audit(repo=self.repo.name, action="repo.snapshot", limit=100_000)
        if not rows:
            raise ProdSprintError(
                f"repository {self.repo.name} has no snapshot yet: materialize repo_snapshot "
                "(or run `prodsprint demo`) first"
            )
        return rows[-1]["commit_sha"]

    def load(self, commit: str, name: str) -> Any | None:
        """A JSON artifact of ``commit``, or None when that stage has not produced it."""
        if not self.artifacts.store.exists(self.repo.name, commit, name):
            return None
        return self.artifacts.get_json(self.repo.name, commit, name)
