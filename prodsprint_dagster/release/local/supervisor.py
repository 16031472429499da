"""A detached supervisor: runs one service process and restarts it when it dies.

One supervisor per process (a service version, or an environment's proxy), started in its own
session by :func:`start_supervisor`, so it outlives the Dagster run or CLI call that deployed
it. Restarts back off exponentially (``backoff_initial`` doubling up to ``backoff_max``); the
delay resets once the process has stayed up for ``stable_after`` seconds, so a crash loop
slows down while a rare crash is repaired quickly.

Everything the supervisor knows is in its status file (written atomically on every change), so
any later process can report restarts and exit codes without talking to it. The child gets
``PR_SET_PDEATHSIG`` on Linux: if the supervisor is SIGKILLed, its child goes too, and the
target's ``recover`` starts both again on the same port instead of finding an orphan there.

Run as ``python .../release/local/supervisor.py SPEC.json``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__:
    from prodsprint_dagster.release.local.procs import (
        identity,
        python_env,
        read_json,
        script_argv,
        spawn_detached,
        write_json_atomic,
    )
else:  # started as a script by start_supervisor(): see procs.script_argv
    from procs import (  # type: ignore[no-redef]
        identity,
        python_env,
        read_json,
        script_argv,
        spawn_detached,
        write_json_atomic,
    )

LOG_ROTATE_BYTES = 20 * 1024 * 1024

_PR_SET_PDEATHSIG = 1


def start_supervisor(spec: dict[str, Any], spec_path: Path) -> dict[str, Any]:
    """Write ``spec`` (mode 0600: it holds the service's env) and start its supervisor."""
    write_json_atomic(spec_path, spec)
    Path(spec["status"]).unlink(missing_ok=True)
    return spawn_detached(
        script_argv("supervisor", str(spec_path)),
        cwd=spec_path.parent,
        env=python_env(),
        log_path=spec_path.parent / "supervisor.log",
    )


def _pdeathsig_preexec(parent: int):
    """preexec_fn for the child: die with the supervisor (Linux), no orphan holding the port."""
    libc_name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or not libc_name:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died between fork and prctl
            os._exit(1)

    return preexec


class Supervisor:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.status_path = Path(spec["status"])
        self.log_path = Path(spec["log"])
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.status: dict[str, Any] = {
            "name": spec.get("name", ""),
            "supervisor": identity(os.getpid()),
            "state": "starting",
            "child": None,
            "starts": 0,
            "restarts": 0,
            "last_exit": None,
            "last_exit_at": None,
            "backoff_s": None,
            "next_start_at": None,
            "exits": [],
        }

    def write_status(self, **changes: Any) -> None:
        self.status.update(changes)
        write_json_atomic(self.status_path, self.status)

    def on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGTERM)

    def rotate_log(self) -> None:
        try:
            if self.log_path.stat().st_size > LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_suffix(self.log_path.suffix + ".1"))
        except FileNotFoundError:
            pass

    def start_child(self) -> None:
        self.rotate_log()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self.status['starts'] + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.child = subprocess.Popen(
                self.spec["argv"],
                cwd=self.spec["cwd"],
                env=self.spec["env"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                # preexec_fn is unsafe with threads; the supervisor has none.
                preexec_fn=_pdeathsig_preexec(os.getpid()),
            )
        self.write_status(
            state="running",
            child=identity(self.child.pid),
            child_started_at=time.time(),
            starts=self.status["starts"] + 1,
            backoff_s=None,
            next_start_at=None,
        )

    def wait_child(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        grace = float(self.spec.get("stop_grace", 10.0))
        try:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        except ProcessLookupError:
            pass

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.on_signal)
        initial = float(self.spec.get("backoff_initial", 0.5))
        maximum = float(self.spec.get("backoff_max", 30.0))
        stable_after = float(self.spec.get("stable_after", 10.0))
        backoff = initial
        while not self.stopping:
            started = time.monotonic()
            self.start_child()
            if self.stopping:  # signalled while the child was being started
                break
            code = self.wait_child()
            if self.stopping:
                break
            if time.monotonic() - started >= stable_after:
                backoff = initial
            exits = [*self.status["exits"], {"code": code, "at": time.time()}][-20:]
            self.write_status(
                state="backoff",
                last_exit=code,
                last_exit_at=time.time(),
                restarts=self.status["restarts"] + 1,
                backoff_s=backoff,
                next_start_at=time.time() + backoff,
                exits=exits,
            )
            self.sleep(backoff)
            backoff = min(backoff * 2, maximum)
        self.stop_child()
        last = self.child.returncode if self.child is not None else None
        self.write_status(state="stopped", last_exit=last, stopped_at=time.time())
        return 0


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: supervisor.py SPEC.json")
        return 2
    spec = read_json(Path(args[0]))
    if not isinstance(spec, dict):
        print(f"supervisor: cannot read spec {args[0]}", flush=True)
        return 2
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
