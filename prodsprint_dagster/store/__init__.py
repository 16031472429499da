"""Stores: :class:`HistoryStore` (DuckDB) and the artifact stores (local directory, S3)."""

from prodsprint_dagster.store.artifacts import (
    ArtifactIO,
    ArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
)
from prodsprint_dagster.store.history import AuditEntry, HistoryStore

__all__ = [
    "ArtifactIO",
    "ArtifactStore",
    "AuditEntry",
    "HistoryStore",
    "LocalArtifactStore",
    "S3ArtifactStore",
]
