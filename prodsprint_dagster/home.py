"""The ProdSprint home directory: the Dagster instance, the history store, mirrors, artifacts.

``ensure_home`` is idempotent: it creates what is missing, writes the Dagster instance config
only when there is none (a user's edits are kept), and migrates the history store.
"""

from __future__ import annotations

from pathlib import Path

from prodsprint_dagster.config import ProdSprintConfig
from prodsprint_dagster.constants import POOL_HISTORY_DB
from prodsprint_dagster.store import HistoryStore

DAGSTER_YAML = f"""\
# Dagster instance for ProdSprint, written by `prodsprint init` (make setup). Edit freely:
# init never overwrites this file. Production settings: docs/deploy/.
storage:
  sqlite:
    base_dir: {{storage}}
local_artifact_storage:
  module: dagster.core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {{home}}
concurrency:
  pools:
    # Every ProdSprint pool is single-writer; today that is `{POOL_HISTORY_DB}` (DuckDB admits
    # one writing process). Set other limits with `dagster instance concurrency set POOL N`.
    default_limit: 1
    granularity: op
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""


def ensure_home(cfg: ProdSprintConfig) -> dict[str, str]:
    """Create the home layout; returns the paths a user may want to know about."""
    home = cfg.home_path
    for sub in (cfg.dagster_home, cfg.git_path, cfg.artifacts_path):
        sub.mkdir(parents=True, exist_ok=True)
    dagster_yaml = cfg.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists():
        dagster_yaml.write_text(
            DAGSTER_YAML.format(storage=cfg.dagster_home / "storage", home=cfg.dagster_home),
            encoding="utf-8",
        )
    HistoryStore(cfg.history_path, lock_timeout=cfg.stores.history.lock_timeout_seconds).migrate()
    return {
        "home": str(home),
        "dagster_home": str(cfg.dagster_home),
        "dagster_yaml": str(dagster_yaml),
        "history": str(cfg.history_path),
        "artifacts": str(cfg.artifacts_path),
        "git": str(cfg.git_path),
    }


def dagster_home(cfg: ProdSprintConfig) -> Path:
    return cfg.dagster_home
