"""The supply chain of a repository: what it ships (SBOM), what is known to be wrong with it
(OSV vulnerabilities) and under which licences.

Entry points: :func:`build_inventory` (lockfiles → components), :func:`render_sbom` /
:func:`validate_sbom` (CycloneDX 1.6), :func:`match_components` (in ``supply.osv``) and
:func:`licence_report`. Nothing here installs or runs a package manager.
"""

from prodsprint_dagster.supply.inventory import build_inventory, find_lockfiles
from prodsprint_dagster.supply.licences import licence_report, normalize_licence
from prodsprint_dagster.supply.lockfiles import parse_lockfile
from prodsprint_dagster.supply.model import ECOSYSTEMS, SCOPES, Component, Gap, Inventory
from prodsprint_dagster.supply.sbom import (
    SbomError,
    components_from_sbom,
    render_sbom,
    sbom_summary,
    service_sboms,
    validate_sbom,
)

__all__ = [
    "ECOSYSTEMS",
    "SCOPES",
    "Component",
    "Gap",
    "Inventory",
    "SbomError",
    "build_inventory",
    "components_from_sbom",
    "find_lockfiles",
    "licence_report",
    "normalize_licence",
    "parse_lockfile",
    "render_sbom",
    "sbom_summary",
    "service_sboms",
    "validate_sbom",
]
