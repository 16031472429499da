"""History-store schema for commit history, churn features and incidents (the change-risk engine).

Version 4 is reserved for this area. Append new versions; never edit one that has shipped.
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = ()
