"""Helpers of the perf tests: the test service as a process and as a git repository."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

APP = Path(__file__).with_name("perf_app.py")
VENV_BIN = str(Path(sys.executable).parent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the test service exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the test service did not listen in time")


@contextmanager
def app_server(**env: str) -> Iterator[str]:
    """perf_app.py in its own process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(APP)],
        env={"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_service(
    root: Path, *, extra_ms: float = 0, slow_ms: float = 60, boom: int = 500, port: int = 8080
) -> None:
    """The test service as a repository would hold it: app.py reading $PORT and a Procfile."""
    root.mkdir(parents=True, exist_ok=True)
    text = APP.read_text()
    text = text.replace(
        'os.environ.get("EXTRA_MS", "0")', f'os.environ.get("EXTRA_MS", "{extra_ms}")'
    )
    text = text.replace(
        'os.environ.get("SLOW_MS", "60")', f'os.environ.get("SLOW_MS", "{slow_ms}")'
    )
    text = text.replace('os.environ.get("PORT", "8080")', f'os.environ.get("PORT", "{port}")')
    text = text.replace(
        'os.environ.get("BOOM_STATUS", "500")', f'os.environ.get("BOOM_STATUS", "{boom}")'
    )
    (root / "app.py").write_text(text)
    (root / "Procfile").write_text("web: python app.py\n")


def use_venv_python(monkeypatch) -> None:
    """`python` on PATH is this interpreter (it has aiohttp), as a service's runtime would."""
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, dirs_exist_ok=True)
