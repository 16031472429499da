"""Starting a repository's service for a perf run: clean env, health wait, ports, errors."""

import socket
import sys
import time
from pathlib import Path

import pytest
from perf_helpers import APP, free_port

from prodsprint_dagster.quality.perf import ServiceError, ServiceSpec, running_service
from prodsprint_dagster.quality.perf.service import spec_from_audit


def _spec(tmp_path, **kwargs):
    fields = {"name": "web", "command": (sys.executable, str(APP)), "cwd": tmp_path,
              "port": free_port(), "health_path": "/health", **kwargs}  # fmt: skip
    return ServiceSpec(**fields)


def test_a_service_runs_with_a_clean_environment_and_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    spec = _spec(tmp_path, env={"SLOW_MS": "1"})
    with running_service(spec, tmp_path / "web.log") as svc:
        assert svc.port == spec.port
        pid = svc.process.pid
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        names = {item.split(b"=", 1)[0].decode() for item in environ if item}
        assert "AWS_SECRET_ACCESS_KEY" not in names
        assert {"PATH", "PORT", "SLOW_MS"} <= names
    assert svc.process.poll() is not None


def test_a_service_that_never_becomes_healthy_reports_its_last_output(tmp_path):
    spec = _spec(tmp_path, env={"FAIL_START": "1"})
    with (
        pytest.raises(ServiceError) as caught,
        running_service(spec, tmp_path / "web.log", health_timeout=20),
    ):
        pass
    text = str(caught.value)
    assert "exited with code 3" in text
    assert "cannot connect to the database at db:5432" in text
    assert str(tmp_path / "web.log") in text


def test_a_service_that_answers_but_never_healthy_times_out(tmp_path):
    spec = _spec(tmp_path, health_path="/not-there")
    with (
        pytest.raises(ServiceError, match=r"not healthy within 1s \(GET .*/not-there: HTTP 404\)"),
        running_service(spec, tmp_path / "web.log", health_timeout=1),
    ):
        pass


@pytest.fixture
def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_a_taken_port_moves_a_service_that_reads_port(tmp_path, busy_port):
    spec = _spec(tmp_path, port=busy_port, port_from_env=True)
    with running_service(spec, tmp_path / "web.log") as svc:
        assert svc.port != busy_port
        assert svc.url.endswith(f":{svc.port}")


def test_a_taken_port_is_a_clear_error_when_the_service_cannot_move(tmp_path, busy_port):
    spec = _spec(tmp_path, port=busy_port, port_from_env=False)
    with (
        pytest.raises(ServiceError, match=f"port {busy_port} is already in use"),
        running_service(spec, tmp_path / "web.log"),
    ):
        pass


def test_spec_from_the_audit_uses_its_command_port_defaults_and_health_line(tmp_path):
    (tmp_path / "app.py").write_text('import os\n\n@app.get("/healthz")\ndef h(): ...\n')
    audit = {"env_vars": [
        {"name": "PORT", "default": "8000", "services": ["web"]},
        {"name": "LOG_LEVEL", "default": "info", "services": ["web"]},
        {"name": "DATABASE_URL", "default": "postgres://u:pw@db/x", "secret_like": True},
        {"name": "OTHER", "default": "x", "services": ["worker"]},
    ]}  # fmt: skip
    service = {"name": "web", "root": ".", "port": 8000, "language": "Go",
               "start_command": "sh -c 'serve --port ${PORT:-8000}'",
               "health_evidence": ["app.py:3"]}  # fmt: skip
    spec = spec_from_audit(audit, service, tmp_path)
    assert spec.command == ("sh", "-c", "serve --port {port}")
    assert dict(spec.env) == {"LOG_LEVEL": "info"}
    assert spec.port == 8000 and spec.port_from_env and spec.health_path == "/healthz"
    with pytest.raises(ServiceError, match="no start command"):
        spec_from_audit(audit, {**service, "start_command": None}, tmp_path)
    with pytest.raises(ServiceError, match="not in the checkout"):
        spec_from_audit(audit, {**service, "root": "../.."}, tmp_path)


def test_the_whole_process_group_is_stopped(tmp_path):
    script = tmp_path / "spawn.py"
    script.write_text(
        "import os, subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, {str(APP)!r}], env=dict(os.environ))\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "child.wait()\n"
    )
    spec = _spec(tmp_path, command=(sys.executable, str(script)))
    with running_service(spec, tmp_path / "web.log"):
        child = int((tmp_path / "child.pid").read_text())
        assert _running(child)
    deadline = time.monotonic() + 5
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child), "the service's child process outlived the perf run"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_reports_never_show_secrets_from_the_command(tmp_path):
    command = ("env", "API_KEY=abc123", "serve", "--db", "postgres://app:hunter2@db/x",
               "--token=t0k", "--port=8000")  # fmt: skip
    spec = _spec(tmp_path, command=command)
    shown = " ".join(spec.to_dict()["command"])
    assert "abc123" not in shown and "hunter2" not in shown and "t0k" not in shown
    assert "API_KEY=***" in shown and "--port=8000" in shown
