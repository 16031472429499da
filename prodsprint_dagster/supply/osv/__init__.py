"""OSV vulnerability matching: offline database or online API, per-ecosystem version semantics.

Plain Python (never dagster): the ``vulnerability_report`` asset and ``prodsprint vulns`` call
:func:`match_components` with an :class:`OsvDatabase` (a directory or ``all.zip`` export) or an
:class:`OnlineOsv` (the querybatch API). docs/vulnerabilities.md describes the rules.
"""

from __future__ import annotations

from prodsprint_dagster.supply.osv.advisories import (
    AdvisorySource,
    PackageAdvisory,
    PackageQuery,
)
from prodsprint_dagster.supply.osv.database import OsvDatabase
from prodsprint_dagster.supply.osv.matcher import (
    Finding,
    VulnerabilityReport,
    match_components,
    preferred_id,
)
from prodsprint_dagster.supply.osv.online import OnlineOsv, TokenBucket
from prodsprint_dagster.supply.osv.records import OsvError
from prodsprint_dagster.supply.osv.severity import SEVERITIES, record_severity
from prodsprint_dagster.supply.osv.versions import UnparsableVersion, parse_version, scheme_for

__all__ = [
    "SEVERITIES",
    "AdvisorySource",
    "Finding",
    "OnlineOsv",
    "OsvDatabase",
    "OsvError",
    "PackageAdvisory",
    "PackageQuery",
    "TokenBucket",
    "UnparsableVersion",
    "VulnerabilityReport",
    "match_components",
    "parse_version",
    "preferred_id",
    "record_severity",
    "scheme_for",
]
