"""The release conductor: one release transition per call, against a deploy target.

Each method performs exactly one move of the release state machine (:mod:`.state`), so a
Dagster run that calls one of them is one visible step: ``start`` (planned → approved),
``apply`` (→ applied), ``deploy_staging`` (→ staging), ``canary_step`` (one canary step with
its analysis window), ``promote`` and ``rollback``. ``run_next`` asks :func:`.state.next_action`
what is due and does it (the release sensor's entry point).

The conductor talks to targets only through ``target_factory(environment)`` →
:class:`~prodsprint_dagster.release.target.DeployTarget` ("staging" for the staging deploy, the
release's environment, "prod" by default, for canary steps), so nothing here imports a target.

A failing analysis rolls back inside the same call: traffic goes back to the stable version,
infrastructure is re-applied from the previous good release's stored Terraform files, the
release moves to ``rolled_back`` with the verdict, and an incident row plus a postmortem stub
are written. Every state change goes through :class:`.state.ReleaseStore`, which writes the
audit row in the same transaction.

Secrets: ``service_spec["env"]`` values go to the target's ``deploy`` and nowhere else (not the
audit log, not artifacts, not results); only the variable names are stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prodsprint_dagster.release.errors import IllegalTransition, ReleaseError
from prodsprint_dagster.release.incidents import (
    record_incident,
    sample_summary,
    verdict_summary,
    write_postmortem,
)
from prodsprint_dagster.release.judge import Samples, judge
from prodsprint_dagster.release.plan import deadline_for, judge_policy_for, step_deadline
from prodsprint_dagster.release.state import Release, ReleaseStore, next_action, state_label
from prodsprint_dagster.release.target import VERSION_HEADER, DeployError
from prodsprint_dagster.store.artifacts import ArtifactIO
from prodsprint_dagster.store.history import AuditEntry, HistoryStore

STAGING = "staging"
# Load generated on a ``generate_load`` verdict when settings["load_rps"] is not set.
DEFAULT_LOAD_RPS = 20.0
DEFAULT_MAX_LOAD_RPS = 1000.0
# The longest window extension a step's deadline leaves room for (JudgePolicy default).
MAX_EXTENSION = 4.0
# How long a passed step may wait for the sensor to move the release on.
NEXT_MOVE_SECONDS = 3600
SETTINGS_KEYS = frozenset(
    {
        "soak_seconds",
        "load_rps",
        "max_load_rps",
        "load_workers",
        "canary_judge",
        "smoke_timeout",
        "request_timeout",
    }
)
_EMPTY: dict[str, Any] = {"requests": 0, "errors": 0, "latencies_ms": []}


def service_artifact(release_id: str) -> str:
    return f"release/{release_id}/service.json"


def terraform_artifact(release_id: str) -> str:
    return f"release/{release_id}/terraform.json"


class SmokeError(ReleaseError):
    """A smoke check through the proxy answered 5xx or not at all."""


@dataclass(frozen=True)
class Outcome:
    """What one conductor call did.

    ``action`` is what was performed (``apply``, ``deploy_staging``, ``canary_step``,
    ``promote``, ``rollback``, or ``wait`` / ``manual_gate`` / ``none`` from ``run_next``);
    ``outcome`` the result (``applied``, ``staging``, ``passed``, ``first_release``,
    ``marginal``, ``no_data``, ``promoted``, ``rolled_back``, ``skipped``). A rollback carries
    ``detected_at`` and ``stable_at`` (Unix seconds): when the failure was established and when
    all traffic was back on the stable version.
    """

    release: Release
    action: str
    outcome: str
    reason: str
    step: int | None = None
    verdict: dict[str, Any] | None = None
    detected_at: float | None = None
    stable_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rolled_back(self) -> bool:
        return self.outcome == "rolled_back"

    @property
    def rollback_seconds(self) -> float | None:
        if self.detected_at is None or self.stable_at is None:
            return None
        return round(self.stable_at - self.detected_at, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release.id,
            "state": self.release.state,
            "action": self.action,
            "outcome": self.outcome,
            "reason": self.reason,
            "step": self.step,
            "verdict": verdict_summary(self.verdict),
            "detected_at": self.detected_at,
            "stable_at": self.stable_at,
            "rollback_seconds": self.rollback_seconds,
            "details": self.details,
        }


@dataclass(frozen=True)
class ServiceSpec:
    """A checked ``service_spec``; ``env`` values are never stored or logged."""

    service: str
    version: str
    command: list[str]
    cwd: str
    env: dict[str, str]
    health_path: str | None
    load_paths: tuple[str, ...]

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> ServiceSpec:
        if not isinstance(spec, Mapping):
            raise ReleaseError("service_spec must be a mapping")
        missing = [k for k in ("service", "version", "command", "cwd") if not spec.get(k)]
        if missing:
            raise ReleaseError(f"service_spec lacks {', '.join(missing)}")
        command = spec["command"]
        if isinstance(command, str) or not all(isinstance(a, str) for a in command):
            raise ReleaseError("service_spec command must be a list of strings (no shell line)")
        env = dict(spec.get("env") or {})
        paths = tuple(spec.get("load_paths") or ("/",))
        for path in (*paths, spec.get("health_path") or "/"):
            if not isinstance(path, str) or not path.startswith("/"):
                raise ReleaseError(f"service_spec path {path!r} must start with '/'")
        return cls(
            service=str(spec["service"]),
            version=str(spec["version"]),
            command=list(command),
            cwd=str(spec["cwd"]),
            env={str(k): str(v) for k, v in env.items()},
            health_path=spec.get("health_path"),
            load_paths=paths,
        )

    def public(self) -> dict[str, Any]:
        """What is stored: everything but the environment's values."""
        return {
            "service": self.service,
            "version": self.version,
            "command": self.command,
            "cwd": self.cwd,
            "env_names": sorted(self.env),
            "health_path": self.health_path,
            "load_paths": list(self.load_paths),
        }

    def deploy(self, target: Any) -> Any:
        extra = {"health_path": self.health_path} if self.health_path else {}
        return target.deploy(
            self.service,
            self.version,
            env=dict(self.env),
            command=list(self.command),
            cwd=self.cwd,
            **extra,
        )


class LoadGenerator:
    """GETs against ``base_url`` at about ``rps`` from a small pool of keep-alive workers.

    Each worker keeps its own HTTP/1.1 connection and a fixed schedule; a worker that falls
    more than a second behind (a slow response) skips ahead instead of bursting.
    """

    def __init__(
        self,
        base_url: str,
        paths: tuple[str, ...] = ("/",),
        rps: float = DEFAULT_LOAD_RPS,
        *,
        workers: int = 8,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        record: bool = False,
    ):
        if rps <= 0:
            raise ReleaseError("load_rps must be positive")
        # With ``record``: (sent, done, status or None, version header) per request, for
        # callers that need to know which version answered when (benchmarks, fault tests).
        self.records: list[tuple[float, float, int | None, str | None]] | None = (
            [] if record else None
        )
        self.headers = {"User-Agent": "prodsprint-load", **(headers or {})}
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ReleaseError(f"load can only be generated against http:// URLs, not {base_url}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.paths = paths
        self.rps = float(rps)
        self.workers = max(1, min(int(workers), int(rps) or 1))
        self.timeout = timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.statuses: dict[int, int] = {}

    def __enter__(self) -> LoadGenerator:
        interval = self.workers / self.rps
        start = time.monotonic()
        for k in range(self.workers):
            t = threading.Thread(
                target=self._worker,
                args=(start + k / self.rps, interval, k),
                name=f"prodsprint-load-{k}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 1)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rps": self.rps,
                "workers": self.workers,
                "sent": self.sent,
                "failed": self.failed,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            }

    def _worker(self, first: float, interval: float, k: int) -> None:
        conn: http.client.HTTPConnection | None = None
        paths = itertools.cycle(
            self.paths[k % len(self.paths) :] + self.paths[: k % len(self.paths)]
        )
        due = first
        while not self._stop.is_set():
            now = time.monotonic()
            if due > now and self._stop.wait(due - now):
                break
            if time.monotonic() - due > 1.0:
                due = time.monotonic()
            due += interval
            status = version = None
            sent = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn.request("GET", next(paths), headers=self.headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if self.records is not None:
                    version = resp.getheader(VERSION_HEADER)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.sent += 1
                if self.records is not None:
                    self.records.append((sent, time.time(), status, version))
                if status is None:
                    self.failed += 1
                else:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
        if conn is not None:
            conn.close()


def smoke_check(base_url: str, paths: tuple[str, ...] | list[str], timeout: float = 10.0) -> dict:
    """GET each path through ``base_url``; any 5xx or connection error raises SmokeError."""
    results: dict[str, Any] = {}
    for path in paths:
        url = base_url.rstrip("/") + path
        req = urllib.request.Request(url, headers={"User-Agent": "prodsprint-smoke"})  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http only
                resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            raise SmokeError(f"smoke check GET {url} failed: {exc}") from None
        results[path] = status
        if status >= 500:
            raise SmokeError(f"smoke check GET {url} answered {status}")
    return results


class Conductor:
    """Performs one release transition per call; see the module docstring."""

    def __init__(
        self,
        history: HistoryStore,
        artifacts: Any,
        target_factory: Callable[[str], Any],
        terraform_home: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        settings: Mapping[str, Any] | None = None,
        metrics_source: Any = None,
    ):
        # Where canary and stable samples come from: the target's own counters by default,
        # or e.g. release.prometheus.PrometheusMetrics (PromQL over the analysis window).
        self.metrics_source = metrics_source
        self.history = history
        self.store = ReleaseStore(history)
        self.artifacts = artifacts if hasattr(artifacts, "put_json") else ArtifactIO(artifacts)
        self.target_factory = target_factory
        self.terraform_home = Path(terraform_home)
        self.clock = clock
        self.sleep = sleep
        self.settings = dict(settings or {})
        unknown = set(self.settings) - SETTINGS_KEYS
        if unknown:
            raise ReleaseError(
                f"unknown conductor settings {sorted(unknown)}; known: {sorted(SETTINGS_KEYS)}"
            )

    # -- helpers -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock()

    def _stored_spec(self, release: Release) -> dict[str, Any]:
        return self.artifacts.get_json(
            release.repo, release.commit_sha, service_artifact(release.id)
        )

    def _spec_for(self, release: Release, service_spec: Mapping[str, Any]) -> ServiceSpec:
        """The caller's spec, checked against the one the release started with."""
        spec = ServiceSpec.parse(service_spec)
        stored = self._stored_spec(release)
        for key in ("service", "version"):
            if stored.get(key) != getattr(spec, key):
                raise ReleaseError(
                    f"release {release.id} deploys {stored.get('service')}@"
                    f"{stored.get('version')}, not {spec.service}@{spec.version}"
                )
        return spec

    def _require(self, release: Release, *states: str) -> None:
        if release.state not in states:
            raise IllegalTransition(
                f"release {release.id} is {release.state}; this step needs {' or '.join(states)}",
                from_state=release.state,
                to_state="?",
            )

    def _terraform(self, release: Release):
        from prodsprint_dagster.infra import TerraformRunner

        return TerraformRunner.for_environment(
            self.terraform_home, release.repo, release.environment
        )

    @staticmethod
    def _terraform_files(files: Mapping[str, str] | None, target: str) -> dict[str, str]:
        """Top-level ``*.tf`` names: given as such, or a plan's ``terraform/<target>/*.tf``."""
        out: dict[str, str] = {}
        for name, text in (files or {}).items():
            if "/" in name:
                folder, _, base = name.rpartition("/")
                if folder != f"terraform/{target}" or not base.endswith(".tf"):
                    continue
            else:
                base = name
                if not base.endswith(".tf"):
                    continue
            if base in out:
                raise ReleaseError(f"terraform file {base} is given twice")
            out[base] = text
        return out

    # -- start -------------------------------------------------------------------------------

    def start(
        self,
        repo: str,
        commit: str,
        plan_hash: str | None,
        rollout: Mapping[str, Any],
        service_spec: Mapping[str, Any],
        *,
        actor: str,
        reason: str,
        target: str = "local",
        environment: str = "prod",
        run_id: str | None = None,
    ) -> Release:
        """Create the release and approve it (the caller has checked the approval)."""
        spec = ServiceSpec.parse(service_spec)
        now = self._now()
        release = self.store.create(
            repo, commit, plan_hash, rollout, target=target, environment=environment,
            actor=actor, reason=f"release of {spec.service}@{spec.version} planned",
            run_id=run_id, now=now,
        )  # fmt: skip
        try:
            self.artifacts.put_json(repo, commit, service_artifact(release.id), spec.public())
        except Exception as exc:
            self.store.transition(
                release.id, "rolled_back", actor=actor, run_id=run_id, now=self._now(),
                reason=f"the service spec could not be stored: {exc}", expect_state="planned",
            )  # fmt: skip
            raise
        now = self._now()
        return self.store.transition(
            release.id, "approved", actor=actor, reason=reason, run_id=run_id, now=now,
            deadline=deadline_for(release.rollout, "approved", now), expect_state="planned",
        )  # fmt: skip

    # -- apply -------------------------------------------------------------------------------

    def apply(
        self,
        release_id: str,
        terraform_files: Mapping[str, str] | None,
        *,
        actor: str,
        run_id: str | None,
    ) -> Outcome:
        """Write and apply the release's Terraform; approved → applied.

        A Terraform error re-raises and records nothing: the release stays approved.
        """
        release = self.store.get(release_id)
        self._require(release, "approved")
        files = self._terraform_files(terraform_files, release.target)
        if files:
            runner = self._terraform(release)
            runner.write_config(files)
            summary = runner.apply()  # TerraformError propagates: nothing recorded
            counts = summary.counts()
            self.artifacts.put_json(
                release.repo, release.commit_sha, terraform_artifact(release.id),
                {"files": files, "summary": summary.to_dict(), "workdir": str(runner.workdir)},
            )  # fmt: skip
            why = (
                f"terraform applied ({runner.executor.name}): {counts['add']} to add, "
                f"{counts['change']} to change, {counts['destroy']} to destroy, "
                f"{counts['replace']} to replace"
            )
        else:
            counts = {}
            why = "no infrastructure to apply"
        now = self._now()
        moved = self.store.transition(
            release.id, "applied", actor=actor, reason=why, run_id=run_id, now=now,
            deadline=deadline_for(release.rollout, "applied", now), expect_state="approved",
        )  # fmt: skip
        return Outcome(moved, "apply", "applied", why, details={"terraform": counts})

    # -- staging -----------------------------------------------------------------------------

    def deploy_staging(
        self,
        release_id: str,
        service_spec: Mapping[str, Any],
        *,
        actor: str,
        run_id: str | None,
        smoke_paths: tuple[str, ...] | list[str] = ("/health",),
    ) -> Outcome:
        """Deploy the version on the staging target and smoke-check it through the proxy;
        applied → staging, or → rolled_back when the deploy or a smoke check fails."""
        release = self.store.get(release_id)
        self._require(release, "applied")
        spec = self._spec_for(release, service_spec)
        target = self.target_factory(STAGING)
        before = (target.describe().get("services") or {}).get(spec.service) or {}
        previous = before.get("stable")
        timeout = float(self.settings.get("smoke_timeout", 10.0))
        try:
            spec.deploy(target)
            if previous and previous != spec.version:
                target.set_weights(spec.service, {spec.version: 100})
            smoke = smoke_check(target.url(spec.service), tuple(smoke_paths), timeout)
            if previous and previous != spec.version:
                target.promote(spec.service, spec.version)
        except (DeployError, SmokeError) as exc:
            detected = time.time()
            self._undo_staging(target, spec, previous)
            return self._roll_back(
                release, f"staging failed: {exc}", actor=actor, run_id=run_id,
                detected_at=detected, stable_at=time.time(), spec=spec.public(),
                app={"staging": "restored" if previous else "stopped"},
            )  # fmt: skip
        now = self._now()
        why = f"{spec.service}@{spec.version} deployed on staging; smoke " + ", ".join(
            f"{p} {s}" for p, s in smoke.items()
        )
        moved = self.store.transition(
            release.id, "staging", actor=actor, reason=why, run_id=run_id, now=now,
            deadline=deadline_for(release.rollout, "staging", now), expect_state="applied",
        )  # fmt: skip
        return Outcome(moved, "deploy_staging", "staging", why, details={"smoke": smoke})

    @staticmethod
    def _undo_staging(target: Any, spec: ServiceSpec, previous: str | None) -> None:
        try:
            if previous and previous != spec.version:
                target.rollback(spec.service)
            elif not previous:
                target.stop(spec.service)
        except DeployError:
            pass  # the failed version may never have registered

    # -- canary ------------------------------------------------------------------------------

    def _window(self, release: Release, step: Mapping[str, Any]) -> float:
        """The step's analysis window: its pause (the analysis interval when it has none),
        capped by settings["soak_seconds"]."""
        pause = float(step.get("pause_seconds") or 0)
        if step.get("analysis") and pause <= 0:
            pause = float((release.rollout.get("analysis") or {}).get("interval_seconds", 60))
        cap = self.settings.get("soak_seconds")
        return min(pause, float(cap)) if cap is not None else pause

    def _soak(
        self,
        url: str,
        spec: ServiceSpec,
        seconds: float,
        rps: float | None,
        preview: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Wait out the window, with load when ``rps`` is set. A blue/green preview gets the
        same load twice, once to the active version and once (with the ``preview`` headers)
        to the preview, since no user reaches a preview."""
        if seconds <= 0:
            return None
        if preview is not None:
            rps = rps or DEFAULT_LOAD_RPS
        if not rps:
            self.sleep(seconds)
            return None
        workers = int(self.settings.get("load_workers", 8))
        timeout = float(self.settings.get("request_timeout", 10.0))
        with contextlib.ExitStack() as stack:
            load = stack.enter_context(
                LoadGenerator(url, spec.load_paths, rps, workers=workers, timeout=timeout)
            )
            if preview is not None:
                shadow = stack.enter_context(
                    LoadGenerator(
                        url, spec.load_paths, rps, workers=workers, timeout=timeout, headers=preview
                    )
                )
            self.sleep(seconds)
        stats = load.stats()
        if preview is not None:
            stats["preview"] = shadow.stats()
        return stats

    def _enter_step(
        self, release: Release, run_id: str | None, actor: str, expect_step: int | None
    ) -> tuple[Release, int]:
        """Transition into the next canary step (a new attempt); resume our own running one."""
        if release.state == "staging":
            index = 0
        elif release.state == "canary":
            attempt = release.latest_attempt()
            current = int(release.step_index)
            state = attempt.state if attempt else None
            if state == "running":
                if run_id is not None and attempt.run_id == run_id:
                    return release, current  # a retry of the same run resumes its attempt
                raise ReleaseError(
                    f"release {release.id}: step {current} is running in "
                    f"{attempt.run_id or 'another run'}; wait for it or roll back"
                )
            if state in ("no_data", "marginal"):
                index = current
            elif state == "passed":
                index = current + 1
            else:
                raise IllegalTransition(
                    f"release {release.id}: step {current} is {state}; roll back",
                    from_state="canary",
                    to_state="canary",
                )
        else:
            raise IllegalTransition(
                f"release {release.id} is {release.state}; a canary step needs staging or canary",
                from_state=release.state,
                to_state="canary",
            )
        if expect_step is not None and expect_step != index:
            raise ReleaseError(
                f"release {release.id}: the next canary step is {index}, not {expect_step}"
            )
        if index > release.last_step_index:
            raise IllegalTransition(
                f"release {release.id}: the last step was reached; promote instead",
                from_state="canary",
                to_state="canary",
            )
        now = self._now()
        step = release.plan_steps[index]
        # Room for the longest window extension the judge may ask for.
        budget = self._window(release, step) * (1 + MAX_EXTENSION) if step.get("analysis") else 0.0
        deadline = step_deadline(release.rollout, index, now) + timedelta(seconds=budget)
        moved = self.store.transition(
            release.id, "canary", step_index=index, actor=actor, run_id=run_id, now=now,
            reason=f"canary step {index}: {step['weight']}% of traffic", deadline=deadline,
            expect_state=release.state, expect_step=release.step_index,
        )  # fmt: skip
        return moved, index

    def canary_step(
        self,
        release_id: str,
        service_spec: Mapping[str, Any],
        *,
        actor: str,
        run_id: str | None,
        hint: str | None = None,
        expect_step: int | None = None,
    ) -> Outcome:
        """One canary step: deploy next to stable, set weights, soak, judge, record.

        Pass records the step (the sensor advances); fail rolls back in this call; no_data is
        followed once (extend the window or generate load) and then recorded, never passed.
        ``hint`` is next_action's advice for a re-run (``extend_window`` doubles the window,
        ``generate_load`` generates load from the start).
        """
        release = self.store.get(release_id)
        spec = self._spec_for(release, service_spec)
        release, index = self._enter_step(release, run_id, actor, expect_step)
        step = release.plan_steps[index]
        weight = int(step["weight"])
        target = self.target_factory(release.environment)
        before = (target.describe().get("services") or {}).get(spec.service) or {}
        stable = before.get("stable")
        try:
            spec.deploy(target)  # idempotent; the first version of a service becomes stable
        except DeployError as exc:
            detected = time.time()
            if stable and stable != spec.version:
                target.rollback(spec.service)
            return self._roll_back(
                release, f"canary step {index}: deploy failed: {exc}", actor=actor,
                run_id=run_id, detected_at=detected, stable_at=time.time(), spec=spec.public(),
            )  # fmt: skip
        if not stable or stable == spec.version:
            return self._trivial_step(release, index, spec, target, actor, run_id, stable)
        try:
            return self._analysed_step(
                release, index, step, weight, spec, target, stable, actor, run_id, hint
            )
        except Exception:
            # Leave nothing at canary weight while the failed run waits for the sensor.
            with contextlib.suppress(Exception):  # the original error matters more
                target.set_weights(spec.service, {stable: 100})
            raise

    def _trivial_step(
        self,
        release: Release,
        index: int,
        spec: ServiceSpec,
        target: Any,
        actor: str,
        run_id: str | None,
        stable: str | None,
    ) -> Outcome:
        """No stable version to compare with: smoke-check and pass as ``first_release``."""
        kind = "first_release" if not stable or release.previous_good is None else "already_stable"
        try:
            smoke = smoke_check(
                target.url(spec.service),
                (spec.health_path or "/health",),
                float(self.settings.get("smoke_timeout", 10.0)),
            )
        except SmokeError as exc:
            return self._roll_back(
                release, f"canary step {index}: {exc}", actor=actor, run_id=run_id,
                detected_at=time.time(), stable_at=None, spec=spec.public(),
            )  # fmt: skip
        why = (
            f"{kind}: {spec.service} had no other stable version to compare with; "
            f"{spec.version} serves all traffic"
        )
        verdict = {"overall": kind, "score": None, "action": "continue", "reason": why,
                   "metrics": [], "numbers": {}, "smoke": smoke}  # fmt: skip
        moved = self.store.record_step(
            release.id, step_index=index, actor=actor, verdict=verdict, state="passed",
            reason=why, run_id=run_id, now=self._now(),
            deadline=self._after_step_deadline(release, index, "continue"),
        )  # fmt: skip
        return Outcome(moved, "canary_step", kind, why, step=index, verdict=verdict)

    def _after_step_deadline(self, release: Release, index: int, action: str) -> datetime | None:
        if action == "manual_gate" or release.plan_steps[index].get("manual"):
            return None  # waits for a person
        return self._now() + timedelta(seconds=NEXT_MOVE_SECONDS)

    def _baseline_since(self, release: Release, index: int) -> float | None:
        """Where stable's samples start when the canary takes all traffic: the window of the
        latest earlier step that was analysed (stable served then)."""
        for attempt in reversed(release.steps):
            if attempt.step_index < index and attempt.state == "passed":
                window = (attempt.verdict or {}).get("window") or {}
                if window.get("since") is not None:
                    return float(window["since"])
        return None

    def _judge(
        self,
        release: Release,
        target: Any,
        spec: ServiceSpec,
        stable: str,
        since: float,
        baseline_since: float | None,
        policy: Any,
    ) -> tuple[Any, dict[str, Any]]:
        source, until = self.metrics_source, time.time()

        def read(start: float) -> Mapping[str, Any]:
            if source is not None:
                return source.metrics(spec.service, start, until)
            return target.metrics(spec.service, since=start)

        metrics = read(since)
        canary_doc = metrics.get(spec.version) or _EMPTY
        stable_doc = metrics.get(stable) or _EMPTY
        reasons = [getattr(metrics, "no_data", None)]
        if baseline_since is not None:
            base = read(baseline_since)
            stable_doc = base.get(stable) or _EMPTY
            reasons.append(getattr(base, "no_data", None))
        verdict = judge(Samples.from_dict(canary_doc), Samples.from_dict(stable_doc), policy)
        why = "; ".join(r for r in reasons if r)
        if why and verdict.overall == "no_data":  # say why the source had nothing
            verdict = dataclasses.replace(
                verdict,
                reason=f"{verdict.reason}; metrics source: {why}",
                numbers={**verdict.numbers, "metrics_source_error": why},
            )
        samples = {
            spec.version: sample_summary(canary_doc, "canary"),
            stable: sample_summary(stable_doc, "stable"),
        }
        return verdict, samples

    def _analysed_step(
        self,
        release: Release,
        index: int,
        step: Mapping[str, Any],
        weight: int,
        spec: ServiceSpec,
        target: Any,
        stable: str,
        actor: str,
        run_id: str | None,
        hint: str | None,
    ) -> Outcome:
        window = self._window(release, step)
        if hint == "extend_window":
            window *= 2
        rps = self.settings.get("load_rps")
        if hint == "generate_load" and not rps:
            rps = DEFAULT_LOAD_RPS
        url = target.url(spec.service)
        since = time.time()
        weights = {spec.version: weight}
        if weight < 100:
            weights[stable] = 100 - weight
        target.set_weights(spec.service, weights)
        with self._previewing(release, target, spec, weight) as preview:
            load = self._soak(url, spec, window, rps, preview)
            if not step.get("analysis"):
                until = time.time()
                why = f"step {index} ({weight}%) has no analysis; soaked {window:g}s"
                doc = {
                    "overall": "not_analysed",
                    "score": None,
                    "action": "continue",
                    "reason": why,
                    "metrics": [],
                    "numbers": {},
                    "load": load,
                    "window": {"since": since, "until": until, "seconds": round(until - since, 3)},
                }
                moved = self.store.record_step(
                    release.id, step_index=index, actor=actor, verdict=doc, state="passed",
                    reason=why, run_id=run_id, now=self._now(),
                    deadline=self._after_step_deadline(release, index, "continue"),
                )  # fmt: skip
                return Outcome(moved, "canary_step", "passed", why, step=index, verdict=doc)
            policy = judge_policy_for(release.rollout, self.settings.get("canary_judge"))
            baseline = self._baseline_since(release, index) if weight >= 100 else None
            verdict, samples = self._judge(release, target, spec, stable, since, baseline, policy)
            followed = None
            if verdict.overall == "no_data":
                # Follow the judge's advice once, then judge the whole (longer) window again.
                if verdict.action == "extend_window":
                    factor = verdict.numbers.get("window_factor") or policy.max_window_extension
                    factor = min(float(factor), policy.max_window_extension)
                    # Half again what the shortfall suggests: small counts are noisy.
                    extra = max(0.5, window * max(0.5, factor * 1.5 - 1))
                    extra_load = self._soak(url, spec, extra, rps, preview)
                else:
                    base = float(rps or DEFAULT_LOAD_RPS)
                    boosted = min(
                        base * (policy.max_window_extension if rps else 1.0),
                        float(self.settings.get("max_load_rps", DEFAULT_MAX_LOAD_RPS)),
                    )
                    extra = max(window, 1.0)
                    extra_load = self._soak(url, spec, extra, boosted, preview)
                followed = {"action": verdict.action, "extra_seconds": round(extra, 3),
                            "load": extra_load, "first": verdict.reason}  # fmt: skip
                verdict, samples = self._judge(
                    release, target, spec, stable, since, baseline, policy
                )
            until = time.time()
            doc = verdict.to_dict()
            doc["window"] = {"since": since, "until": until, "seconds": round(until - since, 3)}
            doc["samples"] = samples
            doc["weights"] = weights
            doc["load"] = load
            if baseline is not None:
                doc["baseline_since"] = baseline
            if followed:
                doc["followed"] = followed
            if verdict.action == "rollback":
                detected = time.time()
                target.rollback(spec.service)  # all traffic back to stable, canary drained, stopped
                stable_at = time.time()
                return self._roll_back(
                    release, f"canary step {index} ({weight}%) failed: {verdict.reason}",
                    actor=actor, run_id=run_id, verdict=doc, detected_at=detected,
                    stable_at=stable_at, spec=spec.public(), app={"prod": f"back on {stable}"},
                )  # fmt: skip
            if verdict.action != "continue":
                # no_data / marginal: canary traffic off until the re-run (or a person) decides.
                target.set_weights(spec.service, {stable: 100})
            moved = self.store.record_step(
                release.id, step_index=index, actor=actor, verdict=doc, run_id=run_id,
                reason=f"step {index} ({weight}%): {verdict.reason}", now=self._now(),
                deadline=self._after_step_deadline(release, index, verdict.action),
            )  # fmt: skip
            outcome = {"pass": "passed"}.get(verdict.overall, verdict.overall)
            return Outcome(
                moved, "canary_step", outcome, verdict.reason, step=index, verdict=doc,
                details={"followed": followed} if followed else {},
            )  # fmt: skip

    @contextlib.contextmanager
    def _previewing(
        self, release: Release, target: Any, spec: ServiceSpec, weight: int
    ) -> Iterator[Mapping[str, str] | None]:
        """A blue/green release's 0 % step is its pre-promotion analysis: the new version is
        judged on preview traffic (users never reach it); yields the preview request headers."""
        if release.strategy != "bluegreen" or weight != 0:
            yield None
            return
        headers = target.set_preview(spec.service, spec.version)
        try:
            yield headers
        finally:
            with contextlib.suppress(Exception):  # the step's own outcome matters more
                target.set_preview(spec.service, None)

    # -- promote -----------------------------------------------------------------------------

    def promote(self, release_id: str, *, actor: str, run_id: str | None) -> Outcome:
        """All traffic to the canary version, which becomes stable; canary(last) → promoted."""
        release = self.store.get(release_id)
        self._require(release, "canary")
        attempt = release.latest_attempt()
        if (
            release.step_index != release.last_step_index
            or attempt is None
            or (attempt.state not in ("passed", "marginal"))
        ):
            raise IllegalTransition(
                f"release {release.id}: promotion needs the last step "
                f"({release.last_step_index}) passed; it is at step {release.step_index} "
                f"({attempt.state if attempt else 'not started'})",
                from_state=release.state,
                to_state="promoted",
            )
        spec = self._stored_spec(release)
        target = self.target_factory(release.environment)
        target.promote(spec["service"], spec["version"])
        previous = release.previous_good
        why = f"{spec['service']}@{spec['version']} promoted; previous good: " + (
            f"{previous['release_id']} ({previous['commit_sha'][:12]})" if previous else "none"
        )
        moved = self.store.transition(
            release.id, "promoted", actor=actor, reason=why, run_id=run_id, now=self._now(),
            expect_state="canary", expect_step=release.step_index,
        )  # fmt: skip
        return Outcome(
            moved, "promote", "promoted", why, step=release.step_index,
            details={"previous_good": previous},
        )  # fmt: skip

    def pass_gate(
        self,
        release_id: str,
        service_spec: Mapping[str, Any],
        *,
        actor: str,
        run_id: str | None,
    ) -> Outcome:
        """What a person's promote means: at a manual gate before the last step, run the next
        step; at the last step (or when promotion is due anyway), promote. Anywhere else the
        promote is refused, so a click cannot skip analysis or a pause."""
        release = self.store.get(release_id)
        action = next_action(release, self._now())
        if action.kind == "promote":
            return self.promote(release_id, actor=actor, run_id=run_id)
        if action.kind != "manual_gate" or release.state != "canary":
            raise IllegalTransition(
                f"release {release.id} is not at a manual gate ({state_label(release)}: "
                f"{action.reason})",
                from_state=release.state,
                to_state="promoted",
            )
        index = int(release.step_index)
        self.history.append_audit(
            AuditEntry(
                action="release.gate_passed", actor=actor, repo=release.repo,
                commit=release.commit_sha, reason=f"promoted by hand at step {index}: "
                f"{action.reason}", refs={"release_id": release.id, "step": index},
                run_id=run_id,
            )
        )  # fmt: skip
        if index >= release.last_step_index:
            return self.promote(release_id, actor=actor, run_id=run_id)
        return self.canary_step(
            release_id, service_spec, actor=actor, run_id=run_id, expect_step=index + 1
        )

    # -- rollback ----------------------------------------------------------------------------

    def rollback(self, release_id: str, reason: str, *, actor: str, run_id: str | None) -> Outcome:
        """Traffic back to stable, infrastructure back to the previous good release, incident
        and postmortem recorded; any non-terminal state → rolled_back."""
        release = self.store.get(release_id)
        if release.terminal:
            raise IllegalTransition(
                f"release {release.id} is already {release.state}",
                from_state=release.state,
                to_state="rolled_back",
            )
        spec = self._stored_spec(release)
        detected = time.time()
        app = self._app_rollback(release, spec)
        stable_at = time.time()
        attempt = release.latest_attempt() if release.state == "canary" else None
        verdict = attempt.verdict if attempt is not None else None
        return self._roll_back(
            release, reason, actor=actor, run_id=run_id, detected_at=detected,
            stable_at=stable_at, spec=spec, app=app, verdict=verdict, record_verdict=False,
        )  # fmt: skip

    def _app_rollback(self, release: Release, spec: Mapping[str, Any]) -> dict[str, Any]:
        target = self.target_factory(release.environment)
        svc = (target.describe().get("services") or {}).get(spec["service"])
        if not svc:
            return {"prod": f"{spec['service']} is not deployed; nothing to move"}
        stable = svc.get("stable")
        if stable == spec["version"]:
            if release.previous_good is None:
                return {"prod": f"first release: {stable} is the only version; left running"}
            return {"prod": f"{stable} is already stable; nothing to move"}
        target.rollback(spec["service"])
        return {"prod": f"back on {stable}"}

    def _reapply_previous(self, release: Release) -> dict[str, Any]:
        """Re-apply the previous good release's Terraform when this release applied some."""
        if not self.artifacts.store.exists(
            release.repo, release.commit_sha, terraform_artifact(release.id)
        ):
            return {"outcome": "not applied by this release; nothing to restore"}
        previous = release.previous_good
        if not previous:
            return {"outcome": "no previous good release; infrastructure left as applied"}
        name = terraform_artifact(previous["release_id"])
        if not self.artifacts.store.exists(release.repo, previous["commit_sha"], name):
            return {
                "outcome": f"previous good {previous['release_id']} stored no terraform files; "
                "infrastructure left as applied"
            }
        stored = self.artifacts.get_json(release.repo, previous["commit_sha"], name)
        runner = self._terraform(release)
        try:
            runner.write_config(stored["files"])
            summary = runner.apply()
        except Exception as exc:  # reported in the incident; the app is already back
            return {"outcome": f"re-applying {previous['release_id']} failed: {exc}",
                    "failed": True}  # fmt: skip
        return {
            "outcome": f"re-applied {previous['release_id']}'s terraform",
            "release_id": previous["release_id"],
            "counts": summary.counts(),
        }

    def _roll_back(
        self,
        release: Release,
        reason: str,
        *,
        actor: str,
        run_id: str | None,
        detected_at: float | None,
        stable_at: float | None,
        spec: Mapping[str, Any],
        app: Mapping[str, Any] | None = None,
        verdict: Mapping[str, Any] | None = None,
        record_verdict: bool = True,
    ) -> Outcome:
        infra = self._reapply_previous(release)
        text = reason if not infra.get("failed") else f"{reason}; {infra['outcome']}"
        moved = self.store.transition(
            release.id, "rolled_back", actor=actor, reason=text, run_id=run_id, now=self._now(),
            verdict=verdict if record_verdict else None,
            expect_state=release.state, expect_step=release.step_index,
        )  # fmt: skip
        seconds = (
            round(stable_at - detected_at, 3)
            if stable_at is not None and detected_at is not None
            else None
        )
        details = {
            "service": spec.get("service"),
            "version": spec.get("version"),
            "detected_at": detected_at,
            "stable_at": stable_at,
            "rollback_seconds": seconds,
            "app": dict(app or {}),
            "infra": infra,
        }
        incident = record_incident(
            self.history, self.artifacts, moved, reason=text, verdict=verdict, actor=actor,
            run_id=run_id, details=details, now=self._now(),
        )  # fmt: skip
        postmortem = write_postmortem(self.history, self.artifacts, moved, incident)
        return Outcome(
            moved, "rollback", "rolled_back", text, step=release.step_index,
            verdict=dict(verdict) if verdict else None, detected_at=detected_at,
            stable_at=stable_at,
            details={**details, "incident": incident["uri"], "postmortem": postmortem},
        )  # fmt: skip

    # -- the sensor's entry point ------------------------------------------------------------

    def run_next(
        self,
        release_id: str,
        service_spec: Mapping[str, Any],
        terraform_files: Mapping[str, str] | None,
        *,
        actor: str,
        run_id: str | None,
        last_run_failed: bool = False,
    ) -> Outcome:
        """Ask next_action what is due and do it; wait / manual_gate / none do nothing."""
        release = self.store.get(release_id)
        action = next_action(release, self._now(), last_run_failed=last_run_failed)
        if action.kind == "apply":
            return self.apply(release_id, terraform_files, actor=actor, run_id=run_id)
        if action.kind == "deploy_staging":
            return self.deploy_staging(release_id, service_spec, actor=actor, run_id=run_id)
        if action.kind in ("canary_step", "bluegreen_switch"):
            return self.canary_step(
                release_id, service_spec, actor=actor, run_id=run_id, hint=action.hint,
                expect_step=action.step,
            )  # fmt: skip
        if action.kind == "promote":
            return self.promote(release_id, actor=actor, run_id=run_id)
        if action.kind == "rollback":
            return self.rollback(release_id, action.reason, actor=actor, run_id=run_id)
        return Outcome(
            release, action.kind, "skipped", action.reason, step=action.step,
            details={"action": action.to_dict()},
        )  # fmt: skip
