"""The perf stage on a real repository: measure, store, compare with the accepted baseline.

One module-wide story, because every step needs the previous one's history: a first run
(no baseline), its acceptance, a second run of the same build (noise: no regression), a
slower build (a regression), and a promotion that moves the baseline.
"""

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from perf_helpers import use_venv_python, write_service

from prodsprint_dagster.audit import audit_repository
from prodsprint_dagster.cli import perf as _perf_commands  # noqa: F401  (registers commands)
from prodsprint_dagster.cli.base import main
from prodsprint_dagster.config import load_config
from prodsprint_dagster.quality.perf import (
    ServiceError,
    accept_baseline,
    accepted_baseline,
    runs,
)
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.snapshot import take_snapshot
from prodsprint_dagster.stages import StageContext
from prodsprint_dagster.stages.perf import measure_perf, perf_gate
from tests.conftest import run_git

LOAD = {"rate": 240, "duration": 1.5}


def _commit_service(repo, **service):
    write_service(repo.path, slow_ms=30, boom=200, **service)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", f"service {service}")
    return repo.head()


def _measure(ctx, sha):
    snap = take_snapshot(ctx.git, ctx.repo, sha)
    audit = audit_repository(ctx.git.checkout(ctx.repo.name, snap.sha), repo_name=ctx.repo.name,
                             commit=snap.sha)  # fmt: skip
    return measure_perf(ctx, audit, snap.sha, **LOAD)


def _verdicts(doc):
    return {(e["metric"], e["route"]): e["verdict"] for e in doc["regressions"]}


def test_baseline_noise_regression_and_promotion(project, make_repo, monkeypatch):
    use_venv_python(monkeypatch)
    repo = make_repo("svc", commits=0)
    good = _commit_service(repo)
    add_repo(project, "svc", str(repo.path))
    ctx = StageContext.from_config(load_config(project), "svc")

    first = _measure(ctx, good)
    assert first["measured"] and first["baseline"] is None and first["regressions"] == []
    [service] = first["services"]
    assert service["routes_source"] == "code"
    driven = {r["path"] for r in service["routes"] if r["driven"]}
    assert driven == {"/health", "/fast", "/slow", "/boom", "/openapi.json"}
    routes = {r["route"]: r for r in first["routes"]}
    assert routes["/slow"]["p50_ms"] >= 30 > routes["/fast"]["p50_ms"]
    assert first["metrics"]["error_ratio"] == 0 and first["metrics"]["p95_ms"] > 0
    stored = ctx.load(good, "perf.json")
    assert stored["run"] == first["run"] and stored["metrics"] == first["metrics"]
    assert ctx.artifacts.get_text("svc", good, "perf/k6/web.k6.js").count("constant-arrival-rate")
    assert perf_gate(ctx, first, good)["status"] == "pass"

    # Accept it; the next run of the same build is compared with it and is only noise.
    accept_baseline(ctx.history, "svc", first["run"], actor="alice", reason="first baseline")
    again = _measure(ctx, good)
    assert again["baseline_run"]["run"] == first["run"]
    assert again["baseline_run"]["kind"] == "accepted"
    verdicts = _verdicts(again)
    assert ("p95_ms", "*") in verdicts and ("p95_ms", "/slow") in verdicts
    assert "regression" not in verdicts.values(), again["regressions"]
    assert perf_gate(ctx, again, good)["status"] in ("pass", "warn")

    # A build 40 ms slower everywhere regresses, overall and per route.
    slower = _commit_service(repo, extra_ms=40)
    worse = _measure(ctx, slower)
    assert worse["baseline_run"]["run"] == first["run"]
    verdicts = _verdicts(worse)
    assert verdicts[("p95_ms", "*")] == "regression"
    assert verdicts[("p95_ms", "/fast")] == "regression"
    assert verdicts[("error_ratio", "*")] != "regression"
    entry = next(e for e in worse["regressions"] if (e["metric"], e["route"]) == ("p95_ms", "*"))
    assert entry["p_value"] < 0.01 and entry["effect"] > 0.1
    assert entry["value"] > entry["baseline"]

    # Promoting the slower build makes its run the baseline (newer than the acceptance).
    later = datetime.now(UTC)
    with ctx.history.connect() as con:
        con.execute(
            "INSERT INTO releases (id, repo, commit_sha, strategy, rollout, state, target,"
            " environment, created_at, updated_at) VALUES"
            " ('rel-1', 'svc', ?, 'canary', '{}', 'promoted', 'local', 'prod', ?, ?)",
            [slower, later, later],
        )
    baseline = accepted_baseline(ctx.history, "svc")
    assert (baseline.kind, baseline.run.id) == ("promoted", worse["run"])

    # The CLI lists the runs and accepts an older one again, which then wins.
    runner = CliRunner()
    listed = runner.invoke(main, ["perf-runs", "svc", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [r["id"] for r in data["runs"]] == [r.id for r in runs(ctx.history, "svc")]
    assert data["baseline"]["run"] == worse["run"]
    accepted = runner.invoke(main, ["perf-accept", "svc", "--run", first["run"],
                                    "--reason", "the slowdown was reverted", "--json"])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert accepted_baseline(ctx.history, "svc").run.id == first["run"]
    log = ctx.history.query_audit(repo="svc", action="perf.baseline_accept")
    assert [row["reason"] for row in log] == ["first baseline", "the slowdown was reverted"]
    refused = runner.invoke(main, ["perf-accept", "svc", "--run", "perf-nope", "--reason", "x"])
    assert refused.exit_code == 1 and "not found" in refused.output


def test_a_repository_without_an_http_service_is_not_measured(project, make_repo):
    repo = make_repo("lib", commits=1)
    add_repo(project, "lib", str(repo.path))
    ctx = StageContext.from_config(load_config(project), "lib")
    doc = _measure(ctx, repo.head())
    assert doc["measured"] is False and "no HTTP service" in doc["reason"]
    assert ctx.load(repo.head(), "perf.json") is None
    assert perf_gate(ctx, doc, repo.head())["status"] == "not_measured"


def test_a_service_that_never_becomes_healthy_fails_the_stage_with_its_output(
    project, make_repo, monkeypatch
):
    use_venv_python(monkeypatch)
    repo = make_repo("broken", commits=0)
    write_service(repo.path)
    text = (repo.path / "app.py").read_text()
    text = text.replace('os.environ.get("FAIL_START")', 'os.environ.get("FAIL_START", "1")')
    (repo.path / "app.py").write_text(text)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "broken")
    add_repo(project, "broken", str(repo.path))
    ctx = StageContext.from_config(load_config(project), "broken")
    with pytest.raises(ServiceError, match="cannot connect to the database") as caught:
        _measure(ctx, repo.head())
    assert "exited with code 3" in str(caught.value)
    assert runs(ctx.history, "broken") == []
