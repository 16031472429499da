"""History-store schema for coverage runs and test results (the coverage and tests gates).

Version 5 is reserved for this area. Append new versions; never edit one that has shipped.
"""

from __future__ import annotations

from prodsprint_dagster.store.migration import Migration

MIGRATIONS: tuple[Migration, ...] = ()
