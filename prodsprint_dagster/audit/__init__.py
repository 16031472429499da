"""The repository auditor: what a checkout contains and what stands between it and production.

Plain Python (never dagster): the ``audit_report`` asset and ``prodsprint audit`` both call
:func:`audit_repository`, and the report shape is pinned by the shipped JSON Schema.
"""

from __future__ import annotations

from prodsprint_dagster.audit.engine import AUDIT_SCHEMA_VERSION, audit_repository
from prodsprint_dagster.audit.render import render_markdown
from prodsprint_dagster.audit.schema import SCHEMA_PATH, validate_report

__all__ = [
    "AUDIT_SCHEMA_VERSION",
    "SCHEMA_PATH",
    "audit_repository",
    "render_markdown",
    "validate_report",
]
