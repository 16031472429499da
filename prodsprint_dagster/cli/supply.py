"""`prodsprint sbom`, `vulns` and `licences`: the supply-chain engine on a checkout, for CI.

`vulns` and `licences` exit 1 while a blocking finding remains (like conftest), so a pipeline
step fails on exactly what readiness would block.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from prodsprint_dagster.cli.base import Ctx, command, err, main, out
from prodsprint_dagster.errors import ProdSprintError


def _inventory(path: Path):
    from prodsprint_dagster.supply import build_inventory

    if not path.is_dir():
        raise ProdSprintError(f"{path}: not a directory (give a checkout)")
    return build_inventory(path.resolve())


def _settings(pack_name: str) -> dict:
    from prodsprint_dagster.policy import load_pack

    return load_pack(pack_name).settings


@command(main, "sbom")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the CycloneDX JSON to this file.")  # fmt: skip
@click.option("--name", default=None, help="Repository name (default: the folder's).")
def sbom_cmd(ctx: Ctx, path: Path, out_file: Path | None, name: str | None):
    """CycloneDX 1.6 SBOM of a checkout from its lockfiles; with --json the SBOM is stdout."""
    from prodsprint_dagster.cli.core import head_commit
    from prodsprint_dagster.supply import render_sbom, sbom_summary, validate_sbom

    inventory = _inventory(path)
    doc = render_sbom(inventory, repo=name or path.resolve().name, commit=head_commit(path))
    validate_sbom(doc)
    if out_file is not None:
        out_file.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    summary = sbom_summary(doc, inventory)
    for gap in summary["gaps"]:
        err.print(f"[yellow]gap[/yellow] {escape(gap['file'])}: {escape(gap['message'])}")

    def human():
        out.print(f"{summary['components']} components from {len(summary['lockfiles'])} "
                  f"lockfile(s): {summary['by_ecosystem']}")  # fmt: skip
        if out_file:
            out.print(f"wrote {out_file}")

    return doc, human


@command(main, "vulns")
@click.argument("path_or_sbom", type=click.Path(exists=True, path_type=Path))
@click.option("--osv-db", type=click.Path(exists=True, path_type=Path), default=None,
              help="OSV records: a folder or an all.zip export.")  # fmt: skip
@click.option("--online", is_flag=True, help="Ask OSV's API (querybatch) instead, with a cache.")
@click.option("--policy-pack", default="default", show_default=True,
              help="Pack whose blocking severities apply.")  # fmt: skip
@click.option("--repo", default=None, help="Apply this registered repository's waivers.")
def vulns_cmd(ctx: Ctx, path_or_sbom: Path, osv_db: Path | None, online: bool,
              policy_pack: str, repo: str | None):  # fmt: skip
    """Known vulnerabilities of a checkout or a CycloneDX SBOM; exit 1 while blocking ones
    (HIGH/CRITICAL by default) stay unwaived."""
    from prodsprint_dagster.policy import WaiverStore
    from prodsprint_dagster.supply import components_from_sbom
    from prodsprint_dagster.supply.osv import OnlineOsv, OsvDatabase, match_components
    from prodsprint_dagster.supply.waiving import apply_waivers

    if path_or_sbom.is_file():
        try:
            doc = json.loads(path_or_sbom.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProdSprintError(f"{path_or_sbom}: not a CycloneDX JSON document: {exc}") from None
        components = components_from_sbom(doc)
    else:
        components = list(_inventory(path_or_sbom).components.values())
    if osv_db is not None:
        source = OsvDatabase.open(osv_db)
    elif online:
        source = OnlineOsv(ctx.config().osv_cache_path, base_url=ctx.config().supply.osv_api_url)
    else:
        raise ProdSprintError("give --osv-db DIR_OR_ZIP or --online")
    report = match_components(components, source).to_dict()
    findings = report["findings"]
    if repo:
        now = datetime.now(UTC)
        findings = apply_waivers(findings, WaiverStore(ctx.history()).all(repo, now=now),
                                 repo=repo, now=now)  # fmt: skip
    for warning in report.get("warnings") or []:
        err.print(f"[yellow]warning[/yellow] {escape(str(warning))}")
    severities = set(_settings(policy_pack).get("vulnerability_block_severities") or [])
    blocking = [f for f in findings if f["severity"] in severities and not f.get("waived")]
    result = {**report, "findings": findings, "components": len(components),
              "blocking": [f["id"] for f in blocking], "ok": not blocking}  # fmt: skip

    def human():
        table = Table("id", "severity", "package", "version", "fix", "waived")
        for f in findings:
            table.add_row(f["id"], f["severity"], f["package"], str(f["version"]), f["fix"],
                          "yes" if f.get("waived") else "")  # fmt: skip
        out.print(table)
        out.print(f"{len(components)} components, {len(findings)} findings, "
                  f"{len(blocking)} blocking")  # fmt: skip

    return (result, human), 1 if blocking else 0


@command(main, "licences")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--policy-pack", default="default", show_default=True,
              help="Pack whose licence policy applies.")  # fmt: skip
def licences_cmd(ctx: Ctx, path: Path, policy_pack: str):
    """The licence of every locked component, normalized to SPDX and judged by the pack's
    policy; exit 1 when one is denied. Unknown licences are reported, never guessed."""
    from prodsprint_dagster.supply import licence_report

    components = list(_inventory(path).components.values())
    report = licence_report(components, _settings(policy_pack).get("licences"))

    def human():
        table = Table("package", "declared", "spdx", "category", "verdict")
        for c in report["components"]:
            table.add_row(c["package"], str(c.get("declared") or ""), str(c.get("spdx") or ""),
                          c["category"], c["verdict"])  # fmt: skip
        out.print(table)
        out.print(f"verdict: {report['verdict']}")

    return (report, human), 0 if report["verdict"] == "pass" else 1
