"""Running a repository's own test command: untrusted code, so a fenced-off subprocess.

The command is an argument list (never a shell string) run in its own session (process
group) with a time limit, a working directory of its own, a clean environment (no inherited
secrets: PATH, HOME pointing at a scratch folder, LANG, CA and proxy settings) and its output
captured to a file, of which the last lines are kept. At the limit the whole process group is
killed, children included; after a normal exit, stragglers the tests left behind (a server
started in a fixture) are killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prodsprint_dagster.quality.coverage.errors import TestRunError

# Network settings a test run may need; package-index variables (PIP_*, UV_*, npm tokens)
# are deliberately absent: they can carry credentials and the run installs nothing.
_PASS_THROUGH = ("PATH", "LANG", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "no_proxy")  # fmt: skip
TAIL_LINES = 40
_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class ProcessResult:
    command: list[str]
    returncode: int
    duration: float
    tail: str


def clean_env(scratch: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a test run: nothing inherited beyond what reaches the network."""
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    home = scratch / "home"
    tmp = scratch / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(tmp), CI="true", NO_COLOR="1")
    env.update(extra or {})
    return env


def run_limited(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    log: Path,
    what: str,
) -> ProcessResult:
    """Run ``command``; raises TestRunError naming ``what`` when it exceeds ``timeout``."""
    start = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        try:
            proc = subprocess.Popen(
                command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise TestRunError(f"{what}: cannot start {command[0]}: {exc.strerror}") from None
        try:
            code = proc.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            raise TestRunError(
                f"{what}: killed after the {timeout:.0f}s time limit (the whole process "
                f"group); last output: {tail(log, 8) or '(none)'}"
            ) from None
        finally:
            _kill_group(proc.pid)
    return ProcessResult(list(command), code, time.monotonic() - start, tail(log))


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(size - _TAIL_BYTES, 0))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
