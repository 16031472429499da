"""`prodsprint perf`, `perf-runs` and `perf-accept`: the perf engine from a shell or CI.

``perf URL`` drives a service that already runs; ``perf PATH`` audits the checkout, starts each
HTTP service (audit's start command, clean environment, health wait), drives it and stops it.
Both use the open-model load generator and print per-route p50/p95/p99 and error rates; the
exit code is 1 when a budget of the policy pack is exceeded, so the command gates a CI job.
Runs of registered repositories (the ``perf_baseline`` asset) are listed by ``perf-runs``;
``perf-accept`` makes one the baseline later runs are compared with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from prodsprint_dagster.cli.base import Ctx, actor, command, err, main, out
from prodsprint_dagster.errors import ProdSprintError


def _settings(ctx: Ctx, pack_name: str | None):
    from prodsprint_dagster.policy import load_pack
    from prodsprint_dagster.quality.perf import PerfSettings

    cfg = ctx.config()
    pack = load_pack(pack_name or "default", extra_dirs=[Path(d) for d in cfg.policy.pack_dirs])
    return cfg, PerfSettings.from_pack(pack.settings)


class _Progress:
    """A progress bar per service on stderr, fed by the load generator's ticks."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(),
            console=err, transient=True,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def message(self, text: str) -> None:
        self.bar.console.print(text, markup=False, highlight=False)

    def tick(self, service: str, elapsed: float, duration: float) -> None:
        if service not in self.tasks:
            self.tasks[service] = self.bar.add_task(f"{service} load", total=duration)
        self.bar.update(self.tasks[service], completed=min(elapsed, duration))


@command(main, "perf")
@click.argument("target")
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Requests per second over all routes (default: the pack's perf_rate).",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Seconds of load per service (default: the pack's perf_duration_seconds).",
)
@click.option(
    "--route",
    "routes",
    multiple=True,
    metavar="/PATH",
    help="Drive this route (repeatable); default: OpenAPI, the code's routes, '/'.",
)
@click.option("--policy-pack", default=None, help="Pack whose perf budgets apply (default).")
@click.option(
    "--max-in-flight",
    default=512,
    show_default=True,
    help="Outstanding requests before new ones are dropped (and count as errors).",
)
@click.option("--health-timeout", default=60.0, show_default=True,
              help="Seconds a started service has to answer its health path.")  # fmt: skip
def perf(ctx: Ctx, target: str, rate, duration, routes, policy_pack, max_in_flight,
         health_timeout):  # fmt: skip
    """Measure URL_OR_PATH under an open-model load: p50/p95/p99 and errors per route.

    A URL (http:// or https://) is driven as it runs. A PATH is audited; each HTTP service is
    started from it, driven and stopped. Exits 1 when a budget of the policy pack is exceeded.
    """
    from prodsprint_dagster.quality.perf import measure_checkout, measure_url, perf_document

    cfg, settings = _settings(ctx, policy_pack)
    rate = float(rate if rate is not None else settings.rate)
    duration = float(duration if duration is not None else settings.duration_seconds)
    if rate <= 0 or duration <= 0:
        raise ProdSprintError("--rate and --duration must be positive")
    progress = _Progress()
    with progress.bar:
        if target.startswith(("http://", "https://")):
            mode = "url"
            measurement = measure_url(
                target, rate=rate, duration=duration, routes=routes, progress=progress.message,
                tick=progress.tick, max_in_flight=max_in_flight,
            )  # fmt: skip
        else:
            from prodsprint_dagster.audit import audit_repository

            path = Path(target).expanduser()
            if not path.is_dir():
                raise ProdSprintError(f"{target}: neither an http(s):// URL nor a directory")
            mode = "path"
            progress.message(f"auditing {path}")
            report = audit_repository(path.resolve())
            measurement = measure_checkout(
                report, path.resolve(), rate=rate, duration=duration, routes=routes,
                home=cfg.home_path, health_timeout=health_timeout, progress=progress.message,
                tick=progress.tick, max_in_flight=max_in_flight,
            )  # fmt: skip
            if not measurement.services:
                reasons = "; ".join(f"{s.name}: {s.reason}" for s in measurement.skipped)
                raise ProdSprintError(
                    f"{target}: no HTTP service to measure"
                    + (f" ({reasons})" if reasons else " (the audit found none)")
                )
    doc = perf_document(measurement, settings)
    breached = bool(doc["over_budget"])
    result = {"ok": not breached, "target": target, "mode": mode, **doc}
    return (result, lambda: _print(doc, target)), (1 if breached else 0)


def _print(doc: dict[str, Any], target: str) -> None:
    m = doc["metrics"]
    table = Table("service", "route", "requests", "p50 ms", "p95 ms", "p99 ms", "errors",
                  "4xx", title=f"{target}: {doc['load']['rate']:g}/s for "
                  f"{doc['load']['duration_seconds']:g}s")  # fmt: skip
    for r in doc["routes"]:
        table.add_row(r["service"], r["route"], str(r["requests"]), f"{r['p50_ms']:.2f}",
                      f"{r['p95_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['error_ratio']:.2%}",
                      str(r["client_errors"]))  # fmt: skip
    out.print(table)
    out.print(
        f"overall: p50 {m['p50_ms']:.2f} ms, p95 {m['p95_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, "
        f"errors {m['error_ratio']:.2%}, {m['rps']:.1f} requests/s"
    )
    for warning in doc["client"]["warnings"]:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    for b in doc["over_budget"]:
        where = "overall" if b["route"] == "*" else f"{b['service']} {b['route']}"
        out.print(f"[red]over budget:[/red] {where} {b['metric']} {b['value']:g} > {b['budget']:g}")


@command(main, "perf-runs")
@click.argument("repo")
@click.option("--limit", default=20, show_default=True)
def perf_runs(ctx: Ctx, repo: str, limit: int):
    """REPO's stored perf runs, newest first, and which one is the accepted baseline."""
    from prodsprint_dagster.quality.perf import accepted_baseline, runs

    history = ctx.history()
    found = [r.to_dict() for r in runs(history, repo, limit=limit)]
    baseline = accepted_baseline(history, repo)
    base = baseline.to_dict() if baseline else None

    def human():
        table = Table("run", "commit", "finished", "p95 ms", "errors", "baseline")
        for r in found:
            mark = "yes" if base and base["run"] == r["id"] else ""
            table.add_row(r["id"], r["commit"][:12], r["finished_at"][:19],
                          f"{r['metrics'].get('p95_ms', 0):.2f}",
                          f"{r['metrics'].get('error_ratio', 0):.2%}", mark)  # fmt: skip
        out.print(table if found else f"no perf runs of {repo} yet (materialize perf_baseline)")
        if base:
            out.print(f"baseline: {base['run']} ({base['detail']})")

    return {"ok": True, "repo": repo, "runs": found, "baseline": base}, human


@command(main, "perf-accept")
@click.argument("repo")
@click.option("--run", "run_id", default=None, help="Perf run to accept (default: the latest).")
@click.option("--reason", required=True, help="Why this run is the new reference.")
def perf_accept(ctx: Ctx, repo: str, run_id: str | None, reason: str):
    """Accept a perf run of REPO as the baseline later runs are compared with."""
    from prodsprint_dagster.quality.perf import accept_baseline, runs

    history = ctx.history()
    if run_id is None:
        latest = runs(history, repo, limit=1)
        if not latest:
            raise ProdSprintError(f"{repo} has no perf run yet (materialize perf_baseline)")
        run_id = latest[0].id
    accepted = accept_baseline(history, repo, run_id, actor=actor(), reason=reason)
    return {"ok": True, **accepted}, lambda: out.print(
        f"{run_id} ({accepted['commit'][:12]}) is now the perf baseline of {repo}"
    )
