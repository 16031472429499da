"""The supply-chain stages: the SBOM of a commit, then its vulnerabilities and licences.

The SBOM is built from the lockfiles alone (nothing is installed or run). The vulnerability
stage reads the stored SBOM back, so the report always describes exactly the components the
SBOM lists, and it writes the finding list the readiness gate consumes. Without an advisory
source configured it writes nothing for the gate, which readiness lists as "not measured".
"""

from __future__ import annotations

from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.policy import WaiverStore
from prodsprint_dagster.stages.context import StageContext

SBOM_SUMMARY = "sbom.json"  # the readiness gate's input
SBOM_DOCUMENT = "sbom/cyclonedx.json"
VULNERABILITIES = "vulnerabilities.json"  # the readiness gate's input: the finding list
VULNERABILITY_REPORT = "vulnerabilities/report.json"
LICENCES = "licences.json"


def service_sbom_name(service: str) -> str:
    return f"sbom/services/{service}.cdx.json"


def build_sbom(ctx: StageContext, audit: dict, commit: str) -> dict[str, Any]:
    """Inventory the commit's lockfiles, write the CycloneDX 1.6 SBOM (one per service too when
    the audit found several) and its summary; returns the summary plus where the SBOM lives."""
    from prodsprint_dagster.supply import (
        SbomError,
        build_inventory,
        render_sbom,
        sbom_summary,
        service_sboms,
        validate_sbom,
    )

    root = ctx.git.checkout(ctx.repo.name, commit)
    listed = [lf["path"] for lf in audit.get("lockfiles") or []]
    inventory = build_inventory(root, lockfiles=listed)
    services = audit.get("services") or []
    doc = render_sbom(inventory, repo=ctx.repo.name, commit=commit, services=services)
    summary = sbom_summary(doc, inventory)
    try:
        validate_sbom(doc)
    except SbomError as exc:  # recorded, so the check fails with the reason
        summary = {**summary, "valid": False, "error": str(exc)}
    io, name = ctx.artifacts, ctx.repo.name
    summary["document"] = io.put_json(name, commit, SBOM_DOCUMENT, doc)
    summary["services"] = {}
    if len(services) > 1:
        for service, service_doc in service_sboms(
            inventory, audit, repo=name, commit=commit
        ).items():
            summary["services"][service] = io.put_json(
                name, commit, service_sbom_name(service), service_doc
            )
    io.put_json(name, commit, SBOM_SUMMARY, summary)
    return summary


def advisory_source(ctx: StageContext) -> Any | None:
    """The configured OSV source (offline database or online API), or None."""
    from prodsprint_dagster.supply.osv import OnlineOsv, OsvDatabase

    supply = ctx.supply
    if supply.get("osv_db"):
        return OsvDatabase.open(supply["osv_db"])
    if supply.get("online"):
        cache = ctx.home / "osv-cache" if ctx.home else None
        if cache is None:
            raise ProdSprintError("online OSV lookups need a home directory for their cache")
        return OnlineOsv(cache, base_url=supply.get("osv_api_url") or "https://api.osv.dev")
    return None


def build_vulnerability_report(ctx: StageContext, commit: str) -> dict[str, Any]:
    """Match the stored SBOM's components against OSV, apply waivers, judge licences."""
    from prodsprint_dagster.supply import components_from_sbom, licence_report
    from prodsprint_dagster.supply.osv import match_components
    from prodsprint_dagster.supply.waiving import apply_waivers

    doc = ctx.load(commit, SBOM_DOCUMENT)
    if doc is None:
        raise ProdSprintError(
            f"{ctx.repo.name}@{commit[:12]} has no SBOM yet: materialize `sbom` first"
        )
    components = components_from_sbom(doc)
    pack = ctx.pack()
    licences = licence_report(components, pack.settings.get("licences"))
    io, name = ctx.artifacts, ctx.repo.name
    io.put_json(name, commit, LICENCES, licences)
    source = advisory_source(ctx)
    if source is None:
        return {"measured": False, "reason": "no OSV database configured (supply.osv_db or "
                "supply.online in prodsprint.yaml)", "findings": [], "licences": licences,
                "counts": {}, "components": len(components)}  # fmt: skip
    report = match_components(components, source).to_dict()
    waivers = WaiverStore(ctx.history).all(name, now=ctx.clock())
    findings = apply_waivers(report["findings"], waivers, repo=name, now=ctx.clock())
    where = str(getattr(source, "path", None) or ctx.supply.get("osv_api_url"))
    report = {**report, "findings": findings, "measured": True, "licences": licences,
              "components": len(components), "database": where}  # fmt: skip
    io.put_json(name, commit, VULNERABILITY_REPORT, report)
    # Readiness sees what is still open: a waiver here may name an alias, package@version or
    # the whole gate, which readiness's own (exact id) waiver pass would not recognise.
    io.put_json(name, commit, VULNERABILITIES, [f for f in findings if not f.get("waived")])
    return report
