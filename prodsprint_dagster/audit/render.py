"""A short markdown summary of a report, for the Dagster UI and the CLI's readable output."""

from __future__ import annotations

from typing import Any


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict) -> str:
    repo = report.get("repo", {})
    langs = ", ".join(f"{lg['name']} {lg['percent']}%" for lg in report.get("languages", [])[:5])
    lines = [
        f"### Audit of `{_cell(repo.get('name'))}`"
        + (f" @ `{str(repo.get('commit'))[:12]}`" if repo.get("commit") else ""),
        "",
        f"{repo.get('files', 0)} files, {repo.get('bytes', 0)} bytes; "
        f"languages: {langs or 'none'}.",
        "",
        "| service | role | framework | port | port source | start command |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.get("services", []):
        lines.append(
            f"| {_cell(s['name'])} | {_cell(s['role'])} | {_cell(s['framework'])} | "
            f"{_cell(s['port'])} | {_cell(s['port_source'])} | `{_cell(s['start_command'])}` |"
        )
    if not report.get("services"):
        lines.append("| (none) | | | | | |")
    stores = ", ".join(
        d["engine"] + (f" ({d['service']})" if d.get("service") else "")
        for d in report.get("datastores", [])
    )
    lines += ["", f"Datastores: {stores or 'none'}.", ""]
    lines += ["| severity | gap | message |", "|---|---|---|"]
    for g in report.get("gaps", []):
        lines.append(f"| {g['severity']} | {g['code']} | {_cell(g['message'])} |")
    if not report.get("gaps"):
        lines.append("| | (none) | |")
    return "\n".join(lines) + "\n"
