"""The registered repositories, read from prodsprint.yaml at every use.

Reading per use (not per code-location load) lets `prodsprint repos add` take effect at the
next sensor tick without reloading the code location.
"""

from pathlib import Path

import dagster as dg

from prodsprint_dagster.config import ProdSprintConfig, RepoConfig, load_config


class RegistryResource(dg.ConfigurableResource):
    """Path of prodsprint.yaml; repositories are re-read on each call."""

    config_path: str

    def config(self) -> ProdSprintConfig:
        return load_config(Path(self.config_path))

    def repos(self) -> tuple[RepoConfig, ...]:
        return self.config().repos

    def repo(self, name: str) -> RepoConfig:
        return self.config().repo(name)
