"""The stores, git and registry bundled for the stages shared by assets, ops and the CLI."""

import dagster as dg

from prodsprint_dagster.stages import StageContext
from resources.artifacts import ArtifactStoreResource
from resources.git import GitResource
from resources.history import HistoryStoreResource
from resources.registry import RegistryResource


class StagesResource(dg.ConfigurableResource):
    """One handle for a stage: ``stages.context(repo, run_id)`` gives its StageContext."""

    registry: RegistryResource
    git: GitResource
    history: HistoryStoreResource
    artifacts: ArtifactStoreResource

    def context(self, repo: str, run_id: str | None = None) -> StageContext:
        cfg = self.registry.config()
        return StageContext(
            repo=cfg.repo(repo),
            history=self.history.store(),
            artifacts=self.artifacts.io(),
            git=self.git.client(),
            pack_dirs=cfg.policy.pack_dirs,
            delivery=cfg.delivery.model_dump(),
            home=cfg.home_path,
            release_settings=(cfg.repo(repo).release or cfg.release).model_dump(exclude_none=True),
            supply=cfg.supply.model_dump(),
            run_id=run_id,
        )
