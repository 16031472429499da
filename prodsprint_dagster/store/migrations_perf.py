"""History-store schema for perf runs and accepted baselines (the perf gate).

Version 6 is reserved for this area. Append new versions; never edit one that has shipped.
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = ()
