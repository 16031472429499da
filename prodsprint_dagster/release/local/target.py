"""The local deploy target: service versions as local processes behind a weighted proxy.

Per environment (staging, prod) there is one state file, one proxy process and, per service,
one supervised process per deployed version (stable and canary side by side, each on its own
port). Every process is started detached under a supervisor, so it outlives the Dagster run
or CLI call that deployed it; the state file records each supervisor by pid *and* start time,
so any later :class:`LocalTarget` on the same home finds (adopts) them, never mistakes a reused
pid for them, and ``recover()`` restarts what died with the machine or a ``kill -9``.

Layout below ``home/<environment>/``::

    state.json                      services, versions, ports, weights, supervisors (0600)
    proxy/{spec,status,routes}.json and output.log
    services/<service>/<version>/{spec,status}.json and output.log

The state file is only changed under a file lock and always rewritten atomically.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from filelock import FileLock

from prodsprint_dagster.errors import InvalidNameError
from prodsprint_dagster.release.local import procs
from prodsprint_dagster.release.local.proxy import PREVIEW_HEADER, TOKEN_ENV
from prodsprint_dagster.release.local.supervisor import start_supervisor
from prodsprint_dagster.release.target import DeployError, MetricSamples, VersionInfo

STATE_FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A deploy gives up early when the process has crashed this often before answering.
MAX_START_FAILURES = 3


def _validate_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidNameError(
            f"{kind} name {value!r} must be 1-100 characters of letters, digits, '.', '_', '-', "
            "starting with a letter or digit"
        )
    return value


class LocalTarget:
    """:class:`~prodsprint_dagster.release.target.DeployTarget` on this machine.

    Weights are relative integers (percentages by convention). Proxy tolerance: smooth
    weighted round robin is exact per cycle of ``sum(weights)`` requests, so over N requests a
    version's count differs from ``N * weight / sum`` by at most one.
    """

    def __init__(
        self,
        home: Path,
        environment: str = "staging",
        *,
        listen_host: str = "127.0.0.1",
        health_path: str = "/health",
        health_timeout: float = 30.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 10.0,
        stop_grace: float = 10.0,
        drain_timeout: float = 30.0,
        samples: int = 50_000,
        upstream_timeout: float = 60.0,
    ):
        self.environment = _validate_name("environment", environment)
        self.root = Path(home) / environment
        self.state_path = self.root / "state.json"
        self.listen_host = listen_host
        self.health_path = health_path
        self.health_timeout = health_timeout
        self.backoff = {
            "backoff_initial": backoff_initial,
            "backoff_max": backoff_max,
            "stable_after": stable_after,
            "stop_grace": stop_grace,
        }
        self.stop_grace = stop_grace
        self.drain_timeout = drain_timeout
        self.samples = samples
        self.upstream_timeout = upstream_timeout
        self._lock = FileLock(str(self.root / "state.json.lock"), timeout=120)

    # -- state ---------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        state = procs.read_json(self.state_path)
        if not isinstance(state, dict):
            state = {"format": STATE_FORMAT, "environment": self.environment, "services": {}}
        state.setdefault("services", {})
        return state

    def _save(self, state: dict[str, Any]) -> None:
        state["updated_at"] = time.time()
        procs.write_json_atomic(self.state_path, state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write of the state file, serialized across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            state = self._load()
            yield state
            self._save(state)

    def _service(self, state: dict[str, Any], service: str) -> dict[str, Any]:
        svc = state["services"].get(_validate_name("service", service))
        if svc is None:
            raise DeployError(f"{self.environment}: service {service!r} is not deployed")
        return svc

    def _version_dir(self, service: str, version: str) -> Path:
        return self.root / "services" / service / version

    # -- proxy ---------------------------------------------------------------------------

    def _admin(
        self, state: dict[str, Any], method: str, path: str, body: Any = None, timeout: float = 10
    ) -> Any:
        proxy = state.get("proxy") or {}
        conn = http.client.HTTPConnection("127.0.0.1", int(proxy.get("admin_port", 0)), timeout)
        headers = {"Authorization": f"Bearer {proxy.get('token', '')}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as exc:
            raise DeployError(
                f"{self.environment}: proxy admin API on port {proxy.get('admin_port')} "
                f"unreachable ({exc}); run recover()"
            ) from None
        finally:
            conn.close()
        data = json.loads(raw or b"null")
        if resp.status >= 400:
            raise DeployError(f"{self.environment}: proxy {method} {path}: {data}")
        return data

    def _ensure_proxy(self, state: dict[str, Any]) -> list[str]:
        """Start the environment's proxy unless its supervisor runs; returns what was done."""
        proxy = state.get("proxy") or {}
        if procs.is_alive(proxy.get("supervisor")):
            self._wait_proxy(state)
            return []
        directory = self.root / "proxy"
        port = int(proxy.get("admin_port") or 0)
        if not port or not procs.port_is_free(port):
            port = procs.free_port()
        token = proxy.get("token") or secrets.token_urlsafe(24)
        argv = procs.script_argv(
            "proxy",
            "--environment", self.environment,
            "--admin-port", str(port),
            "--routes", str(directory / "routes.json"),
            "--listen-host", self.listen_host,
            "--samples", str(self.samples),
            "--upstream-timeout", str(self.upstream_timeout),
        )  # fmt: skip
        spec = {
            "name": f"proxy:{self.environment}",
            "argv": argv,
            "cwd": str(directory),
            "env": {**procs.python_env(), TOKEN_ENV: token},
            "log": str(directory / "output.log"),
            "status": str(directory / "status.json"),
            **self.backoff,
        }
        directory.mkdir(parents=True, exist_ok=True)
        supervisor = start_supervisor(spec, directory / "spec.json")
        state["proxy"] = {"admin_port": port, "token": token, "supervisor": supervisor}
        self._wait_proxy(state)
        for name in state["services"]:
            self._push(state, name)
        return [f"started proxy (admin port {port})"]

    def _wait_proxy(self, state: dict[str, Any], timeout: float = 20.0) -> None:
        proxy = state["proxy"]
        url = f"http://127.0.0.1:{proxy['admin_port']}/healthz"
        directory = self.root / "proxy"
        what = f"proxy {self.environment}"
        self._wait_healthy(url, directory, proxy["supervisor"], timeout, what)

    def _push(self, state: dict[str, Any], service: str) -> None:
        """Send a service's backends and weights to the proxy; records the port it listens on."""
        svc = state["services"][service]
        route = {
            "listen_port": svc.get("listen_port") or 0,
            "backends": {v: f"http://127.0.0.1:{i['port']}" for v, i in svc["versions"].items()},
            "weights": {v: w for v, w in svc["weights"].items() if v in svc["versions"]},
            "preview": svc.get("preview") if svc.get("preview") in svc["versions"] else None,
        }
        answer = self._admin(state, "PUT", f"/services/{quote(service)}", route)
        svc["listen_port"] = answer["listen_port"]

    def _drain(self, state: dict[str, Any], service: str, versions: set[str]) -> None:
        """Wait until no request forwarded to ``versions`` is still in flight."""
        deadline = time.monotonic() + self.drain_timeout
        while versions:
            routes = self._admin(state, "GET", "/services").get(service) or {}
            busy = {v for v in versions if routes.get("inflight", {}).get(v, 0) > 0}
            if not busy or time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    # -- processes -----------------------------------------------------------------------

    def _wait_healthy(
        self, url: str, directory: Path, supervisor: dict[str, Any], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            try:
                code, _ = procs.http_get(url, timeout=min(2.0, max(0.2, timeout)))
                if 200 <= code < 400:
                    return
                last = f"HTTP {code}"
            except OSError as exc:
                last = str(exc) or type(exc).__name__
            status = procs.read_json(directory / "status.json", {}) or {}
            restarts = int(status.get("restarts") or 0)
            gone = not procs.is_alive(supervisor)
            if gone or restarts >= MAX_START_FAILURES or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        why = "its supervisor exited" if gone else f"not healthy within {timeout:g}s"
        exits = f"; exited {restarts} time(s), last exit code {status.get('last_exit')}"
        log = directory / "output.log"
        raise DeployError(
            f"{what}: {why} (GET {url}: {last}{exits if restarts else ''}). "
            f"Last lines of {log}:\n{procs.tail(log, 20) or '(empty)'}"
        )

    def _start_version(
        self, service: str, version: str, record: dict[str, Any], spec: dict[str, Any]
    ) -> None:
        directory = self._version_dir(service, version)
        record["supervisor"] = start_supervisor(spec, directory / "spec.json")

    def _stop_version(self, service: str, record: dict[str, Any]) -> None:
        directory = Path(record["dir"])
        procs.terminate(record.get("supervisor"), grace=self.stop_grace + 5)
        status = procs.read_json(directory / "status.json", {}) or {}
        procs.terminate(status.get("child"), grace=2.0, group=True)  # only if orphaned

    def _version_view(self, service: str, version: str, record: dict[str, Any]) -> dict[str, Any]:
        directory = Path(record["dir"])
        status = procs.read_json(directory / "status.json", {}) or {}
        child = status.get("child") or {}
        return {
            "port": record["port"],
            "endpoint": f"http://127.0.0.1:{record['port']}",
            "health_path": record.get("health_path"),
            "deployed_at": record.get("deployed_at"),
            "supervisor_pid": (record.get("supervisor") or {}).get("pid"),
            "supervisor_alive": procs.is_alive(record.get("supervisor")),
            "pid": child.get("pid"),
            "process_alive": procs.is_alive(child),
            "state": status.get("state", "unknown"),
            "starts": status.get("starts", 0),
            "restarts": status.get("restarts", 0),
            "last_exit": status.get("last_exit"),
            "backoff_s": status.get("backoff_s"),
            "log": str(directory / "output.log"),
        }

    # -- DeployTarget --------------------------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str,
        *,
        env: dict[str, str],
        command: list[str],
        cwd: str,
        port_hint: int | None = None,
        health_path: str | None = None,
        health_timeout: float | None = None,
    ) -> VersionInfo:
        """Start ``version`` under a supervisor and wait until its health path answers.

        The process gets only ``env`` plus PATH, HOME and PORT (its port); ``{port}`` in
        ``command`` is replaced too. The first version of a service takes all traffic and
        becomes stable; later ones start at weight 0 (a canary waits for ``set_weights``).
        Deploying a version that already runs returns it unchanged.
        """
        _validate_name("service", service)
        _validate_name("version", version)
        argv, child_env, workdir = self._check_inputs(env, command, cwd)
        health = health_path or self.health_path
        if not health.startswith("/"):
            raise DeployError(f"health path {health!r} must start with '/'")
        directory = self._version_dir(service, version)
        with self._locked() as state:
            self._ensure_proxy(state)
            svc = state["services"].setdefault(
                service, {"listen_port": 0, "stable": None, "weights": {}, "versions": {}}
            )
            record = svc["versions"].get(version)
            if record and procs.is_alive(record.get("supervisor")):
                return self._info(state, service, version)
            taken = {
                int(r["port"]) for s in state["services"].values() for r in s["versions"].values()
            }
            port = port_hint if port_hint and procs.port_is_free(port_hint) else None
            port = port or procs.free_port(avoid=taken)
            spec = {
                "name": f"{self.environment}:{service}@{version}",
                "argv": [a.replace("{port}", str(port)) for a in argv],
                "cwd": workdir,
                "env": {**child_env, "PORT": str(port)},
                "log": str(directory / "output.log"),
                "status": str(directory / "status.json"),
                **self.backoff,
            }
            record = {
                "port": port,
                "dir": str(directory),
                "health_path": health,
                "deployed_at": time.time(),
            }
            directory.mkdir(parents=True, exist_ok=True)
            self._start_version(service, version, record, spec)
            svc["versions"][version] = record
            svc["weights"].setdefault(version, 0)
        url = f"http://127.0.0.1:{port}{health}"
        try:
            self._wait_healthy(
                url,
                directory,
                record["supervisor"],
                health_timeout or self.health_timeout,
                f"{self.environment}: {service} {version}",
            )
        except DeployError:
            with self._locked() as state:
                svc = state["services"].get(service) or {"versions": {}, "weights": {}}
                self._stop_version(service, record)
                svc["versions"].pop(version, None)
                svc["weights"].pop(version, None)
                if not svc["versions"]:
                    state["services"].pop(service, None)
            raise
        with self._locked() as state:
            svc = state["services"][service]
            if not svc.get("stable") or svc["stable"] not in svc["versions"]:
                svc["stable"] = version
                svc["weights"] = {v: (100 if v == version else 0) for v in svc["versions"]}
            self._push(state, service)
            return self._info(state, service, version)

    def _check_inputs(
        self, env: dict[str, str], command: list[str], cwd: str
    ) -> tuple[list[str], dict[str, str], str]:
        if not isinstance(command, list | tuple) or not command:
            raise DeployError("command must be a non-empty list of arguments (never a shell line)")
        if not all(isinstance(a, str) and "\x00" not in a for a in command):
            raise DeployError("command arguments must be strings without NUL bytes")
        for key, value in (env or {}).items():
            if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
                raise DeployError(f"environment variable name {key!r} is not valid")
            if not isinstance(value, str) or "\x00" in value:
                raise DeployError(f"environment variable {key} must be a string without NUL")
        workdir = Path(cwd)
        if not workdir.is_dir():
            raise DeployError(f"working directory {cwd} does not exist")
        base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        return list(command), {**base, **(env or {})}, str(workdir.resolve())

    def _info(self, state: dict[str, Any], service: str, version: str) -> VersionInfo:
        svc = state["services"][service]
        view = self._version_view(service, version, svc["versions"][version])
        view["role"] = "stable" if svc.get("stable") == version else "canary"
        view["service_url"] = self._service_url(svc)
        return VersionInfo(service, version, view["endpoint"], view)

    def _service_url(self, svc: dict[str, Any]) -> str | None:
        port = svc.get("listen_port")
        host = "127.0.0.1" if self.listen_host in ("0.0.0.0", "") else self.listen_host  # noqa: S104
        return f"http://{host}:{port}" if port else None

    def url(self, service: str) -> str:
        """Where clients reach ``service`` in this environment (through the proxy)."""
        url = self._service_url(self._service(self._load(), service))
        if url is None:
            raise DeployError(f"{self.environment}: service {service!r} has no proxy port yet")
        return url

    def set_weights(self, service: str, weights: dict[str, int]) -> None:
        with self._locked() as state:
            svc = self._service(state, service)
            unknown = set(weights) - set(svc["versions"])
            if unknown:
                raise DeployError(
                    f"{self.environment}: {service} has no version(s) {sorted(unknown)}; "
                    f"deployed: {sorted(svc['versions'])}"
                )
            clean: dict[str, int] = {}
            for version, weight in weights.items():
                if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                    raise DeployError(f"weight of {version} must be an integer >= 0: {weight!r}")
                clean[version] = weight
            if sum(clean.values()) <= 0:
                raise DeployError(f"{self.environment}: {service}: weights must not all be 0")
            svc["weights"] = {v: clean.get(v, 0) for v in svc["versions"]}
            self._ensure_proxy(state)
            self._push(state, service)

    def set_preview(self, service: str, version: str | None) -> dict[str, str]:
        """Route preview requests to ``version`` (None: no preview); returns the headers a
        preview request carries. Weights, and so users, are not affected."""
        with self._locked() as state:
            svc = self._service(state, service)
            if version is not None and version not in svc["versions"]:
                raise DeployError(
                    f"{self.environment}: {service} has no version {version!r} to preview"
                )
            svc["preview"] = version
            self._ensure_proxy(state)
            self._push(state, service)
            return {PREVIEW_HEADER: state["proxy"]["token"]} if version else {}

    def metrics(self, service: str, since: float | None = None) -> dict[str, MetricSamples]:
        state = self._load()
        self._service(state, service)
        query = f"?since={since!r}" if since is not None else ""
        return self._admin(state, "GET", f"/services/{quote(service)}/metrics{query}", timeout=30)

    def _retire_others(self, service: str, keep: str, *, make_stable: bool) -> None:
        """All traffic to ``keep``; drain and stop every other version."""
        with self._locked() as state:
            svc = self._service(state, service)
            if keep not in svc["versions"]:
                raise DeployError(f"{self.environment}: {service} has no version {keep!r}")
            self._ensure_proxy(state)
            svc["weights"] = {v: (100 if v == keep else 0) for v in svc["versions"]}
            if make_stable:
                svc["stable"] = keep
            self._push(state, service)  # new requests go to `keep` from here on
            others = {v for v in svc["versions"] if v != keep}
            self._drain(state, service, others)  # requests already forwarded complete
            retired = {v: svc["versions"].pop(v) for v in others}
            svc["weights"] = {keep: 100}
            self._push(state, service)
        for record in retired.values():
            self._stop_version(service, record)

    def promote(self, service: str, version: str) -> None:
        self._retire_others(service, _validate_name("version", version), make_stable=True)

    def rollback(self, service: str) -> None:
        state = self._load()
        stable = self._service(state, service).get("stable")
        if not stable:
            raise DeployError(f"{self.environment}: {service}: no stable version to roll back to")
        self._retire_others(service, stable, make_stable=False)

    def describe(self) -> dict[str, Any]:
        state = self._load()
        proxy = state.get("proxy") or {}
        services = {}
        for name, svc in state["services"].items():
            services[name] = {
                "url": self._service_url(svc),
                "stable": svc.get("stable"),
                "weights": dict(svc.get("weights", {})),
                "versions": {v: self._version_view(name, v, r) for v, r in svc["versions"].items()},
            }
        return {
            "target": "local",
            "environment": self.environment,
            "state_file": str(self.state_path),
            "proxy": {
                "admin_url": (
                    f"http://127.0.0.1:{proxy['admin_port']}" if proxy.get("admin_port") else None
                ),
                "supervisor_pid": (proxy.get("supervisor") or {}).get("pid"),
                "alive": procs.is_alive(proxy.get("supervisor")),
            },
            "services": services,
        }

    def stop(self, service: str | None = None) -> None:
        with self._locked() as state:
            names = [service] if service is not None else list(state["services"])
            proxy_alive = procs.is_alive((state.get("proxy") or {}).get("supervisor"))
            for name in names:
                svc = self._service(state, name)
                if proxy_alive:
                    with contextlib.suppress(DeployError):
                        self._admin(state, "DELETE", f"/services/{quote(name)}", timeout=60)
                for record in svc["versions"].values():
                    self._stop_version(name, record)
                state["services"].pop(name, None)
            if service is None and state.get("proxy"):
                procs.terminate(state["proxy"].get("supervisor"), grace=self.stop_grace + 5)
                status = procs.read_json(self.root / "proxy" / "status.json", {}) or {}
                procs.terminate(status.get("child"), grace=2.0, group=True)
                state["proxy"]["supervisor"] = None

    # -- adoption ------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Adopt what still runs and restart what died (supervisor gone: crash, reboot, kill -9).

        Versions restart on their recorded port with their recorded spec, and the proxy gets
        its routes again, so the service URL and the weights survive. Returns what was done.
        """
        actions: list[str] = []
        with self._locked() as state:
            actions += self._ensure_proxy(state)
            for name, svc in state["services"].items():
                for version, record in svc["versions"].items():
                    if procs.is_alive(record.get("supervisor")):
                        continue
                    directory = Path(record["dir"])
                    status = procs.read_json(directory / "status.json", {}) or {}
                    procs.terminate(status.get("child"), grace=2.0, group=True)  # an orphan
                    spec = procs.read_json(directory / "spec.json")
                    if not isinstance(spec, dict):
                        actions.append(f"{name} {version}: spec missing, cannot restart")
                        continue
                    record["supervisor"] = start_supervisor(spec, directory / "spec.json")
                    url = f"http://127.0.0.1:{record['port']}{record.get('health_path', '/')}"
                    self._wait_healthy(
                        url, directory, record["supervisor"], self.health_timeout,
                        f"{self.environment}: {name} {version}",
                    )  # fmt: skip
                    actions.append(f"restarted {name} {version} on port {record['port']}")
                self._push(state, name)
        return actions
