"""The project's Dagster instance and what it knows about each repository partition."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType

from prodsprint_dagster.config import ProdSprintConfig
from prodsprint_dagster.constants import PARTITIONS_NAME
from prodsprint_dagster.heads import parse_cursor
from prodsprint_dagster.home import ensure_home


def open_instance(cfg: ProdSprintConfig) -> dg.DagsterInstance:
    """The persistent instance in ``<home>/dagster`` (the one `make dev` serves)."""
    ensure_home(cfg)
    return dg.DagsterInstance.from_config(str(cfg.dagster_home))


def sensor_cursor(instance: dg.DagsterInstance, sensor_name: str) -> dict[str, str]:
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == sensor_name and state.instigator_data is not None:
            return parse_cursor(getattr(state.instigator_data, "cursor", None))
    return {}


def repo_status(cfg: ProdSprintConfig, defs: dg.Definitions) -> list[dict]:
    """Per registered repo: the last commit the sensor saw and the latest materializations."""
    instance = open_instance(cfg)
    seen = sensor_cursor(instance, "new_commit_sensor")
    partitions = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    keys = [spec.key for spec in defs.resolve_all_asset_specs() if spec.partitions_def]
    out = []
    for repo in cfg.repos:
        materializations = {}
        for key in keys:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[repo.name]), limit=1
            ).records
            if records:
                rec = records[0]
                mat = rec.asset_materialization
                commit = mat.metadata.get("commit") if mat else None
                materializations[key.to_user_string()] = {
                    "run_id": rec.run_id,
                    "at": datetime.fromtimestamp(rec.timestamp, UTC).isoformat(),
                    "commit": getattr(commit, "value", None),
                }
        out.append(
            {
                "repo": repo.name,
                "url": repo.url,
                "branch": repo.branch,
                "team": repo.team,
                "partition": repo.name in partitions,
                "last_commit_seen": seen.get(repo.name),
                "materializations": materializations,
            }
        )
    return out
