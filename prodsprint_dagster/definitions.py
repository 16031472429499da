"""The composition root: the one Definitions object of the ProdSprint code location.

Resources are bound here from prodsprint.yaml, so every asset, job and sensor sees the same
home, stores and registry. A malformed config fails the code-location load with the file,
key and problem, which is where a platform engineer looks first.
"""

from pathlib import Path

import dagster as dg

from assets import ALL_ASSET_CHECKS, ALL_ASSETS
from jobs import ALL_JOBS, ALL_SCHEDULES
from prodsprint_dagster.config import ProdSprintConfig, config_path, load_config
from resources import (
    ArtifactStoreResource,
    GitResource,
    HistoryStoreResource,
    RegistryResource,
    StagesResource,
)
from sensors import ALL_SENSORS


def build_resources(cfg: ProdSprintConfig) -> dict[str, dg.ConfigurableResource]:
    art = cfg.stores.artifacts
    registry = RegistryResource(config_path=cfg.source or str(config_path()))
    git = GitResource(
        root=str(cfg.git_path),
        timeout_seconds=cfg.git.timeout_seconds,
        head_lookup_workers=cfg.git.head_lookup_workers,
        keep_worktrees=cfg.git.keep_worktrees,
    )
    history = HistoryStoreResource(
        path=str(cfg.history_path),
        lock_timeout_seconds=cfg.stores.history.lock_timeout_seconds,
    )
    artifacts = ArtifactStoreResource(
        kind=art.kind,
        path=str(cfg.artifacts_path),
        bucket=art.bucket,
        prefix=art.prefix,
        endpoint_url=art.endpoint_url,
        region=art.region,
    )
    return {
        "registry": registry,
        "git": git,
        "history": history,
        "artifacts": artifacts,
        "stages": StagesResource(registry=registry, git=git, history=history, artifacts=artifacts),
    }


def build_definitions(cfg: ProdSprintConfig) -> dg.Definitions:
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_ASSET_CHECKS,
        jobs=ALL_JOBS,
        schedules=ALL_SCHEDULES,
        sensors=ALL_SENSORS,
        resources=build_resources(cfg),
    )


defs = build_definitions(load_config(Path(config_path())))
