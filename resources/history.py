"""The DuckDB history store. Assets that write through it run in the `history_db` pool."""

from pathlib import Path

import dagster as dg

from prodsprint_dagster.store import HistoryStore


class HistoryStoreResource(dg.ConfigurableResource):
    path: str
    lock_timeout_seconds: float = 30.0

    def store(self) -> HistoryStore:
        return HistoryStore(Path(self.path), lock_timeout=self.lock_timeout_seconds)
