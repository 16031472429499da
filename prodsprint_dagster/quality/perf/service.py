"""Start a repository's service locally for a perf run, wait until it is healthy, stop it.

Running a service executes untrusted code, so it runs as a plain subprocess (an argument list,
never a shell line built here) in its own session, working directory and environment: PATH,
HOME, the locale, the non-secret defaults the audit found, PORT, and nothing inherited
(no credentials of the caller). Its output goes to a log file; when it never becomes healthy
the error carries the last lines of that log. The process group is stopped on exit, even when
the perf run fails.

The port: the audit's port when it is free. When it is taken, a free port is used if the
service takes its port from ``$PORT`` (its start command or its code reads it); otherwise the
error says which port is in use, since the service cannot be told another one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.redact import redact_url
from prodsprint_dagster.release.local import procs

_PORT_REF = re.compile(r"\$\{PORT(?::-[^}]*)?\}|\$PORT\b|\{port\}")
_HEALTH_PATH = re.compile(
    r"""['"`]((?:/[\w.-]+)*/(?:health|healthz|healthcheck|health-check|livez|readyz|ready|ping|up|_health|status))/?['"`]"""
)
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


_SECRET_ASSIGNMENT = re.compile(
    r"\b([A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)[A-Za-z0-9_]*)"
    r"=\S+",
    re.IGNORECASE,
)


def _redact_word(word: str) -> str:
    return _SECRET_ASSIGNMENT.sub(r"\1=***", redact_url(word))


class ServiceError(ProdSprintError):
    """The service could not be started or never became healthy."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: argv (``{port}`` is replaced), cwd, env, port, health path."""

    name: str
    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    port_from_env: bool = True
    health_path: str = "/health"

    def __post_init__(self) -> None:
        if not self.command or not all(isinstance(a, str) and "\x00" not in a
                                       for a in self.command):  # fmt: skip
            raise ServiceError(f"service {self.name}: the command must be a list of arguments")
        for key, value in self.env.items():
            if not _ENV_KEY.fullmatch(str(key)) or "\x00" in str(value):
                raise ServiceError(f"service {self.name}: environment variable {key!r} is invalid")
        if not self.health_path.startswith("/"):
            raise ServiceError(f"service {self.name}: health path must start with '/'")

    def display_command(self) -> list[str]:
        """The command for logs and reports: URL credentials and secret-looking values hidden."""
        return [_redact_word(word) for word in self.command]

    def to_dict(self) -> dict[str, Any]:
        """For reports: the redacted command and env *names* only (values may be secrets)."""
        return {
            "name": self.name,
            "command": self.display_command(),
            "cwd": str(self.cwd),
            "env": sorted(self.env),
            "port": self.port,
            "health_path": self.health_path,
        }


def health_path_from_evidence(root: Path, evidence: list[str]) -> str | None:
    """The health route the audit pointed at (``file:line``), read from that line."""
    for item in evidence:
        rel, _, line = str(item).rpartition(":")
        if not rel or not line.isdigit():
            continue
        path = (root / rel).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            continue
        text = procs.tail(path, lines=10**6, max_bytes=1024 * 1024).splitlines()
        index = int(line) - 1
        if 0 <= index < len(text):
            match = _HEALTH_PATH.search(text[index])
            if match:
                return match.group(1)
    return None


def spec_from_audit(
    audit: Mapping[str, Any],
    service: Mapping[str, Any],
    checkout: Path,
    *,
    home: Path | None = None,
) -> ServiceSpec:
    """The run spec of one audited service in ``checkout``.

    Python services with a ``requirements.txt`` run in the virtualenv the local deploy target
    uses (``runtime.python_runtime``, cached by the requirements' hash); others run with the
    tools on PATH.
    """
    name = str(service.get("name") or "service")
    start = service.get("start_command")
    if not start:
        raise ServiceError(
            f"service {name}: the audit found no start command (Procfile, Dockerfile CMD or a "
            "start script); add one, or run `prodsprint perf URL` against a running instance"
        )
    try:
        words = shlex.split(str(start))
    except ValueError as exc:
        raise ServiceError(
            f"service {name}: start command {start!r} cannot be parsed: {exc}"
        ) from None
    command = [_PORT_REF.sub("{port}", w) for w in words]
    root = (Path(checkout) / str(service.get("root") or ".")).resolve()
    if not root.is_relative_to(Path(checkout).resolve()) or not root.is_dir():
        raise ServiceError(
            f"service {name}: its root {service.get('root')!r} is not in the checkout"
        )
    env_vars = [v for v in audit.get("env_vars", []) if name in (v.get("services") or [name])]
    env = {
        str(v["name"]): str(v["default"])
        for v in env_vars
        if not v.get("secret_like") and v.get("default") is not None and v["name"] != "PORT"
    }
    reads_port = any(v.get("name") == "PORT" for v in env_vars)
    port_from_env = reads_port or any("{port}" in w for w in command)
    health = health_path_from_evidence(root, list(service.get("health_evidence") or []))
    if service.get("language") == "Python" and (root / "requirements.txt").is_file():
        from prodsprint_dagster.runtime import python_runtime

        venv = python_runtime(Path(home or root / ".prodsprint"), [root / "requirements.txt"])
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
        if (venv / "bin" / command[0]).is_file():
            command[0] = str(venv / "bin" / command[0])
    port = service.get("port")
    return ServiceSpec(
        name=name,
        command=tuple(command),
        cwd=root,
        env=env,
        port=int(port) if isinstance(port, int) and 0 < port < 65536 else None,
        port_from_env=port_from_env,
        health_path=health or ("/health" if service.get("health_evidence") else "/"),
    )


@dataclass
class RunningService:
    """A started, healthy service: where it answers and how to read its log."""

    spec: ServiceSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        return procs.tail(self.log_path, lines)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM to the process group, SIGKILL after ``grace``; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        else:  # the leader is gone; children it left in its group still go
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def choose_port(spec: ServiceSpec) -> int:
    """The audit's port when free; a free one when the service reads $PORT; else an error."""
    if spec.port and procs.port_is_free(spec.port):
        return spec.port
    if spec.port_from_env or not spec.port:
        return procs.free_port()
    raise ServiceError(
        f"service {spec.name}: port {spec.port} is already in use on 127.0.0.1 and the service "
        "does not take its port from $PORT, so it cannot be moved; stop what listens on "
        f"{spec.port} (e.g. `ss -ltnp 'sport = :{spec.port}'`) or make the service read $PORT"
    )


def start_service(
    spec: ServiceSpec, log_path: Path, *, health_timeout: float = 60.0
) -> RunningService:
    """Start ``spec`` and wait until its health path answers 2xx/3xx (or raise, stopped)."""
    port = choose_port(spec)
    base = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
    env = {**base, "PYTHONUNBUFFERED": "1", **spec.env, "PORT": str(port)}
    argv = [a.replace("{port}", str(port)) for a in spec.command]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        try:
            process = subprocess.Popen(
                argv, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            raise ServiceError(
                f"service {spec.name}: cannot run {argv[0]!r} in {spec.cwd}: {exc.strerror or exc}"
            ) from None
    running = RunningService(spec, port, process, log_path)
    try:
        _wait_healthy(running, health_timeout)
    except BaseException:
        running.stop(grace=2.0)
        raise
    return running


def _wait_healthy(service: RunningService, timeout: float) -> None:
    url = service.url + service.spec.health_path
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        code = service.process.poll()
        if code is not None:
            why = f"exited with code {code} before it became healthy"
            break
        try:
            status, _ = procs.http_get(url, timeout=2.0)
            if 200 <= status < 400:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc) or type(exc).__name__
        if time.monotonic() >= deadline:
            why = f"not healthy within {timeout:g}s (GET {url}: {last})"
            break
        time.sleep(0.1)
    time.sleep(0.1)  # let the last output reach the log
    tail = service.log_tail(20) or "(no output)"
    in_use = " The port was already in use." if "in use" in tail.lower() else ""
    command = " ".join(service.spec.display_command())
    raise ServiceError(
        f"service {service.spec.name} ({command} on port {service.port}) "
        f"{why}.{in_use} Last lines of its output ({service.log_path}):\n{tail}"
    )


@contextlib.contextmanager
def running_service(
    spec: ServiceSpec, log_path: Path, *, health_timeout: float = 60.0
) -> Iterator[RunningService]:
    """``with running_service(spec, log) as svc:`` drive ``svc.url``; stopped on exit."""
    service = start_service(spec, log_path, health_timeout=health_timeout)
    try:
        yield service
    finally:
        service.stop()
