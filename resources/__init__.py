"""ConfigurableResources: the Dagster-facing handles on the engine's git, stores and registry."""

from resources.artifacts import ArtifactStoreResource
from resources.git import GitResource
from resources.history import HistoryStoreResource
from resources.registry import RegistryResource
from resources.stages import StagesResource

__all__ = [
    "ArtifactStoreResource",
    "GitResource",
    "HistoryStoreResource",
    "RegistryResource",
    "StagesResource",
]
