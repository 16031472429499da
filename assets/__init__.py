"""Software-defined assets: thin wrappers that call the engine and describe results for the UI."""

from assets.snapshot import repo_snapshot

ALL_ASSETS = [repo_snapshot]

__all__ = ["ALL_ASSETS", "repo_snapshot"]
