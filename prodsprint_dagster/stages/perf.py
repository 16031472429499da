"""The perf stage: measure the commit's HTTP services, store the run, judge it against budgets.

Each service runs from a scratch copy of the commit's checkout (its own files, e.g. a SQLite
database, never land in the shared work tree), with the audit's start command, a clean
environment and a health wait; it is driven at the pack's ``perf_rate`` for
``perf_duration_seconds`` and stopped. The run and its histograms go to the history store; the
accepted baseline (last promoted release, or an explicit acceptance, see
``quality.perf.history``) is compared with it; ``perf.json`` and one k6 script per service go
to the artifact store.

A repository without an HTTP service writes no ``perf.json``: readiness lists perf as not
measured, and nothing is started.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prodsprint_dagster.quality.perf import (
    PerfSettings,
    accepted_baseline,
    compare_runs,
    http_services,
    measure_checkout,
    measurements,
    perf_document,
    record_run,
    render_k6_script,
    script_name,
)
from prodsprint_dagster.stages.context import StageContext

PERF_ARTIFACT = "perf.json"


def perf_settings(ctx: StageContext) -> PerfSettings:
    return PerfSettings.from_pack(ctx.pack().settings)


def measure_perf(
    ctx: StageContext,
    audit: dict,
    commit: str,
    *,
    routes: Sequence[str] = (),
    rate: float | None = None,
    duration: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure ``commit``, store the run, write ``perf.json`` and the k6 scripts; return the doc.

    ``routes`` overrides route discovery; ``rate``/``duration`` override the pack's settings.
    """
    settings = perf_settings(ctx)
    rate = float(rate or settings.rate)
    duration = float(duration or settings.duration_seconds)
    repo = ctx.repo.name
    if not http_services(audit):
        return {"repo": repo, "commit": commit, "measured": False, "metrics": {},
                "reason": "the audit found no HTTP service", "services": [], "routes": [],
                "regressions": [], "over_budget": [], "k6": {}, "baseline": None}  # fmt: skip
    checkout = ctx.git.checkout(repo, commit)
    home = Path(ctx.home) if ctx.home else checkout.parent / ".prodsprint"
    scratch = home / "perf" / "runs" / repo / commit[:12]
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(checkout, scratch / "src", symlinks=True,
                    ignore=shutil.ignore_patterns(".git"))  # fmt: skip
    started = ctx.clock()
    try:
        measurement = measure_checkout(
            audit, scratch / "src", rate=rate, duration=duration, routes=routes,
            configured=ctx.release_settings.get("load_paths") or (), home=home,
            log_dir=scratch / "logs", progress=progress,
        )  # fmt: skip
    finally:
        shutil.rmtree(scratch / "src", ignore_errors=True)
    finished = ctx.clock()
    if not measurement.services:
        why = "; ".join(f"{s.name}: {s.reason}" for s in measurement.skipped)
        return {"repo": repo, "commit": commit, "measured": False, "metrics": {},
                "reason": f"no service could be started ({why})", "services": [], "routes": [],
                "regressions": [], "over_budget": [], "k6": {}, "baseline": None,
                "skipped": [s.__dict__ for s in measurement.skipped]}  # fmt: skip

    baseline = accepted_baseline(ctx.history, repo)
    comparisons: list[dict[str, Any]] = []
    if baseline is not None:
        comparisons = compare_runs(
            measurement.measured(), measurements(ctx.history, baseline.run.id), settings
        )
    k6 = {}
    for run in measurement.services:
        port = (run.spec.port if run.spec else None) or 8000
        script = render_k6_script(
            run.name, run.discovery.driven, rate=rate, duration_seconds=duration,
            budgets=settings.budgets, base_url=f"http://127.0.0.1:{port}",
        )  # fmt: skip
        k6[run.name] = ctx.artifacts.put_text(repo, commit, script_name(run.name), script)
    doc = perf_document(
        measurement, settings,
        baseline=baseline.run.metrics if baseline else None,
        baseline_run=baseline.to_dict() if baseline else None,
        comparisons=comparisons, k6=k6,
    )  # fmt: skip
    run_id = record_run(
        ctx.history, repo=repo, commit=commit, started_at=started, finished_at=finished,
        rate=rate, duration_seconds=duration, services=doc["services"], metrics=doc["metrics"],
        client=doc["client"], routes=measurement.records(), dagster_run_id=ctx.run_id,
    )  # fmt: skip
    doc = {"repo": repo, "commit": commit, "measured": True, "run": run_id, **doc}
    ctx.artifacts.put_json(repo, commit, PERF_ARTIFACT, doc)
    return doc


def perf_gate(ctx: StageContext, doc: dict[str, Any], commit: str) -> dict[str, Any]:
    """The policy pack's perf gate on ``doc`` (with active waivers): its readiness item.

    The same Rego the readiness checklist runs, so the asset check and readiness never
    disagree. ``status`` is pass, fail, waived or warn; an unmeasured doc is not_measured.
    """
    from prodsprint_dagster.policy import WaiverStore, evaluate_readiness

    if not doc.get("measured"):
        return {"gate": "perf", "status": "not_measured", "findings": [], "blocking": False,
                "detail": doc.get("reason") or "not measured"}  # fmt: skip
    now = ctx.clock()
    inputs = {"repo": ctx.repo.name, "commit": commit, "perf": doc}
    waivers = WaiverStore(ctx.history).active(ctx.repo.name, now)
    decision = evaluate_readiness(inputs, ctx.pack(), waivers=waivers, now=now)
    return next(item for item in decision["items"] if item["gate"] == "perf")
