"""Runtimes for services the local target runs: a virtualenv per pinned requirements file.

A Python service runs with the dependencies its repository pins, installed into a
virtualenv under ``<home>/runtimes/`` and reused for every commit whose requirements are
byte-identical (the hash of the files and the interpreter version names the folder). The
install runs with a minimal environment (no inherited secrets) and a time limit; a
half-built runtime is never used because completion is marked last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from prodsprint_dagster.errors import ProdSprintError

_COMPLETE = ".prodsprint-complete"


def python_runtime(home: Path, requirements: list[Path], *, timeout: float = 900) -> Path:
    """The virtualenv for ``requirements`` (created on first use); returns its folder."""
    digest = hashlib.sha256(sys.version.encode())
    for req in requirements:
        digest.update(req.name.encode() + b"\0" + req.read_bytes())
    venv = Path(home) / "runtimes" / f"py-{digest.hexdigest()[:16]}"
    if (venv / _COMPLETE).exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock", timeout=timeout):
        if (venv / _COMPLETE).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # a previous attempt that did not finish
        env = _installer_env()
        try:
            _run([sys.executable, "-m", "venv", str(venv)], env, timeout, "create the virtualenv")
            python = venv / "bin" / "python"
            uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
            reqs = [arg for req in requirements for arg in ("-r", str(req))]
            if Path(uv).exists():
                cmd = [uv, "pip", "install", "--quiet", "--python", str(python), *reqs]
            else:
                cmd = [str(python), "-m", "pip", "install", "--quiet", *reqs]
            _run(cmd, env, timeout, "install " + ", ".join(r.name for r in requirements))
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        (venv / _COMPLETE).write_text("ok\n")
    return venv


_INSTALLER_VARS = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
                   "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY",
                   "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")  # fmt: skip


def _installer_env() -> dict[str, str]:
    """Only what an installer needs: the index, CA and proxy settings, never app secrets."""
    return {
        k: v for k, v in os.environ.items()
        if k in _INSTALLER_VARS or k.startswith(("PIP_", "UV_"))
    }  # fmt: skip


def _run(cmd: list[str], env: dict[str, str], timeout: float, what: str) -> None:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ProdSprintError(f"runtime: timed out after {timeout:.0f}s trying to {what}") from None
    if proc.returncode:
        tail = " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ProdSprintError(f"runtime: could not {what}: {tail}")
