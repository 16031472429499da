"""Lockfile parsers: one module per format family, one entry point.

:func:`parse_lockfile` picks the parser from the file name and turns every kind of bad input
into a :class:`~prodsprint_dagster.supply.model.Gap`; nothing here runs a package manager.
"""

from __future__ import annotations

from prodsprint_dagster.supply.lockfiles._base import MAX_LOCKFILE_BYTES, merge_component
from prodsprint_dagster.supply.lockfiles._purl import (
    ECOSYSTEM_OF_PURL_TYPE,
    HASH_HEX_LENGTHS,
    PURL_TYPES,
    pep503,
    purl_for,
)
from prodsprint_dagster.supply.lockfiles.dispatch import (
    UNSUPPORTED,
    Kind,
    has_dependency_edges,
    lockfile_kind,
    parse_lockfile,
)

__all__ = [
    "ECOSYSTEM_OF_PURL_TYPE",
    "HASH_HEX_LENGTHS",
    "MAX_LOCKFILE_BYTES",
    "PURL_TYPES",
    "UNSUPPORTED",
    "Kind",
    "has_dependency_edges",
    "lockfile_kind",
    "merge_component",
    "parse_lockfile",
    "pep503",
    "purl_for",
]
