"""`prodsprint coverage` and `prodsprint flaky`: coverage of a checkout, flaky tests of a repo."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from prodsprint_dagster.cli.base import Ctx, command, main, out
from prodsprint_dagster.errors import GitError

MAX_FILES_SHOWN = 200


@command(main, "coverage")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--base", default=None,
              help="Patch coverage against this ref (default: HEAD's first parent; the patch "
                   "runs up to the work tree, uncommitted changes included).")  # fmt: skip
@click.option("--run/--no-run", "run", default=None,
              help="Always run the tests / only ingest reports (default: ingest the reports "
                   "found in PATH, else run the test suites the audit finds).")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 5), default=None,
              help="Re-runs of failed tests (default: the pack's tests_retries).")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(1, 86400), default=None,
              help="Run time limit in seconds (default: tests_timeout_seconds).")  # fmt: skip
@click.option("--policy-pack", default="default", show_default=True,
              help="Pack whose thresholds, retries and quarantine apply.")  # fmt: skip
def coverage_cmd(ctx: Ctx, path: Path, base, run, retries, timeout, policy_pack):
    """Coverage of a checkout: totals, patch coverage, per file; exits 1 when the gate fails.

    Running the tests executes the repository's code, in a scratch copy with a time limit and
    a clean environment.
    """
    from prodsprint_dagster.audit import audit_repository
    from prodsprint_dagster.names import slugify
    from prodsprint_dagster.policy import load_pack
    from prodsprint_dagster.quality.coverage import (
        QualitySettings,
        changed_lines,
        coverage_document,
        first_parent,
        judge_coverage,
        measure_checkout,
        patch_coverage,
        resolve_commit,
        results_document,
    )

    path = path.resolve()
    cfg = ctx.config()
    pack = load_pack(policy_pack, extra_dirs=[Path(d) for d in cfg.policy.pack_dirs])
    qs = QualitySettings.from_settings(pack.settings, f"policy pack {policy_pack}")
    audit = audit_repository(path, repo_name=slugify(path.name))
    m = measure_checkout(
        path, audit["tests"], home=cfg.home_path, run=run,
        timeout=timeout or qs.timeout, retries=qs.retries if retries is None else retries,
    )  # fmt: skip
    patch = None
    try:
        base_sha = resolve_commit(path, base) if base else first_parent(
            path, resolve_commit(path, "HEAD"))  # fmt: skip
        patch = patch_coverage(m.data, changed_lines(path, base_sha, None), base_sha)
    except GitError as exc:
        if base:
            raise
        m.gaps.append({"code": "no_patch", "root": ".", "message": f"no patch coverage: {exc}"})
    coverage = coverage_document(m, patch)
    tests = results_document(m, quarantine=qs.quarantine)
    passed, reasons = judge_coverage(coverage, qs.coverage_min, qs.patch_coverage_min)
    if tests is not None and tests["failed"] + tests["errors"]:
        passed = False
        reasons.append(f"{tests['failed'] + tests['errors']} of {tests['total']} tests failed "
                       "or errored")  # fmt: skip
    result = {
        "ok": passed,
        "path": str(path),
        "coverage": coverage,
        "tests": tests,
        "gate": {"passed": passed, "reasons": reasons, "coverage_min": qs.coverage_min,
                 "patch_coverage_min": qs.patch_coverage_min},
    }  # fmt: skip

    def human():
        _print_coverage(coverage, tests)
        verdict = "[green]passes[/green]" if passed else "[red]fails[/red]"
        out.print(f"gate {verdict}" + (": " + "; ".join(reasons) if reasons else ""))

    return (result, human), (0 if passed else 1)


@command(main, "flaky")
@click.argument("repo")
def flaky_cmd(ctx: Ctx, repo: str):
    """Flaky tests of REPO from its test history: flake rates and quarantine state."""
    from prodsprint_dagster.quality.coverage import QualitySettings, load_test_history
    from prodsprint_dagster.quality.flaky import find_flaky
    from prodsprint_dagster.stages import StageContext

    stage = StageContext.from_config(ctx.config(), repo)
    qs = QualitySettings.from_settings(
        stage.pack().settings, f"policy pack {stage.repo.policy_pack}"
    )
    rows, digests = load_test_history(stage.history, repo)
    flaky = find_flaky(rows, digests, quarantine=qs.quarantine)
    for item in flaky:
        item["quarantine"] = (
            "policy" if item["quarantined"] else "auto" if qs.quarantine_flaky else "none"
        )
    result = {
        "ok": True,
        "repo": repo,
        "runs": len({r["coverage_run_id"] for r in rows}),
        "tests": len({r["test_id"] for r in rows}),
        "flaky": flaky,
        "quarantine": list(qs.quarantine),
        "quarantine_flaky": qs.quarantine_flaky,
    }

    def human():
        if not flaky:
            out.print(f"{repo}: no flaky tests in {result['runs']} recorded runs")
            return
        table = Table("test", "flake rate", "flaky runs", "runs", "why", "quarantine")
        for f in flaky:
            table.add_row(escape(f["test"]), f"{100 * f['flake_rate']:.1f}%", str(f["flaky_runs"]),
                          str(f["runs"]), ", ".join(f["reasons"]), f["quarantine"])  # fmt: skip
        out.print(table)

    return result, human


def _print_coverage(coverage: dict, tests: dict | None) -> None:
    def pct(value) -> str:
        return "-" if value is None else f"{value:.1f}%"

    out.print(f"source: {escape(coverage['source'])}")
    out.print(
        f"line coverage {pct(coverage['percent'])} ({coverage['covered']}/{coverage['lines']}),"
        f" branch {pct(coverage['branch_percent'])}"
    )
    patch = coverage.get("patch")
    if patch is None:
        out.print("patch coverage: not computed")
    elif patch["percent"] is None:
        out.print(f"patch coverage: no coverable lines changed since {patch['base'][:12]} (passes)")
    else:
        out.print(f"patch coverage {pct(patch['percent'])} ({patch['covered']}/"
                  f"{patch['coverable']} changed lines) since {patch['base'][:12]}")  # fmt: skip
    if tests is not None:
        out.print(f"tests: {tests['total']} total, {tests['passed']} passed, {tests['failed']} "
                  f"failed, {tests['errors']} errors, {tests['skipped']} skipped"
                  + (f", quarantined: {escape(', '.join(tests['quarantined']))}"
                     if tests["quarantined"] else "")
                  + (f", flaky: {escape(', '.join(tests['flaky']))}"
                     if tests["flaky"] else ""))  # fmt: skip
        for failure in tests["failures"][:20]:
            out.print(f"  [red]{failure['outcome']}[/red] {escape(failure['name'])}: "
                      f"{escape(failure['message'] or '')}", soft_wrap=True)  # fmt: skip
    for gap in coverage["gaps"]:
        out.print(f"[yellow]gap[/yellow] {gap['code']}: {escape(gap['message'])}", soft_wrap=True)
    files = coverage["files"]
    if files:
        table = Table("file", "lines", "covered", "line %", "branch %", "missing")
        for f in files[:MAX_FILES_SHOWN]:
            table.add_row(escape(f["path"]), str(f["lines"]), str(f["covered"]), pct(f["percent"]),
                          pct(f["branch_percent"]), f["missing"][:40])  # fmt: skip
        out.print(table)
        if len(files) > MAX_FILES_SHOWN:
            out.print(f"... and {len(files) - MAX_FILES_SHOWN} more files (--json lists all)")
