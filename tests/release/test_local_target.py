"""The local deploy target: supervised processes, crash restarts, adoption, clear failures.

Everything runs for real: detached supervisors, the proxy, and a stdlib http.server backend
written by the test. The fixture stops every process a test started, whatever happened.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodsprint_dagster.release.local import LocalTarget, procs
from prodsprint_dagster.release.target import DeployError, DeployTarget

BACKEND = r"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "?")
PORT = int(os.environ["PORT"])
print(f"booting {VERSION} on {PORT}", flush=True)
if os.path.exists(f"crash-{VERSION}"):
    print(f"crash marker for {VERSION} present: exiting", flush=True)
    sys.exit(3)
if os.environ.get("BROKEN"):
    raise RuntimeError("cannot connect to the database")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/health":
            code = 503 if os.environ.get("UNHEALTHY") else 200
            return self.reply(code, {"ok": code == 200})
        if self.path == "/env":
            return self.reply(200, {"env": sorted(os.environ), "cwd": os.getcwd()})
        self.reply(200, {"version": VERSION, "pid": os.getpid()})

    def reply(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""

FAST = {"health_timeout": 10, "stop_grace": 3, "backoff_initial": 0.2, "backoff_max": 2}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "server.py").write_text(BACKEND)
    return app


@pytest.fixture
def home(tmp_path: Path):
    """The target's home; on teardown every environment under it is stopped."""
    path = tmp_path / "home"
    yield path
    for state in path.glob("*/state.json"):
        LocalTarget(path, state.parent.name).stop()


@pytest.fixture
def target(home: Path) -> LocalTarget:
    return LocalTarget(home, "staging", **FAST)


def deploy(target: LocalTarget, app: Path, version: str, **env: str):
    return target.deploy(
        "shop",
        version,
        env={"VERSION": version, **env},
        command=[sys.executable, "server.py"],
        cwd=str(app),
    )


def get_json(url: str) -> dict:
    status, body = procs.http_get(url, timeout=5)
    assert status == 200, (url, status, body)
    return json.loads(body)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:  # e.g. connection refused while a process restarts
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_is_a_deploy_target(target: LocalTarget) -> None:
    assert isinstance(target, DeployTarget)


def test_deploy_runs_version_with_clean_env_and_log(
    target: LocalTarget, app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
    info = deploy(target, app_dir, "v1", FEATURE_FLAG="on")
    assert info.service == "shop" and info.version == "v1"
    assert info.details["role"] == "stable" and info.details["process_alive"]
    seen = get_json(f"{info.endpoint}/env")
    assert set(seen["env"]) <= {"PATH", "HOME", "PORT", "VERSION", "FEATURE_FLAG", "LC_CTYPE"}
    assert "AWS_SECRET_ACCESS_KEY" not in seen["env"]
    assert seen["cwd"] == str(app_dir.resolve())
    assert get_json(target.url("shop"))["version"] == "v1"
    assert "booting v1" in Path(info.details["log"]).read_text()
    state_file = Path(target.describe()["state_file"])
    assert state_file.stat().st_mode & 0o077 == 0  # holds the proxy token
    # Deploying the same version again adopts it instead of starting a second copy.
    again = deploy(target, app_dir, "v1", FEATURE_FLAG="on")
    assert again.details["pid"] == info.details["pid"]


def test_crashed_canary_is_restarted_with_backoff(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    canary = deploy(target, app_dir, "v2")
    assert canary.details["role"] == "canary"
    first_pid = canary.details["pid"]

    # A plain crash: the supervisor notices and starts a new process on the same port.
    os.kill(first_pid, signal.SIGKILL)

    def restarted():
        view = target.describe()["services"]["shop"]["versions"]["v2"]
        return view if view["pid"] != first_pid and view["process_alive"] else None

    view = wait_for(restarted, what="v2 restart")
    assert view["restarts"] == 1 and view["last_exit"] == -signal.SIGKILL
    wait_for(lambda: get_json(f"{canary.endpoint}/")["version"] == "v2", what="v2 healthy")

    # A crash loop: restarts slow down (0.2 s, 0.4 s, 0.8 s ...) instead of spinning.
    (app_dir / "crash-v2").write_text("")
    os.kill(view["pid"], signal.SIGKILL)
    status_file = Path(canary.details["log"]).with_name("status.json")

    def looping():
        status = procs.read_json(status_file, {})
        crashes = [e for e in status.get("exits", []) if e["code"] == 3]
        return status if len(crashes) >= 3 else None

    status = wait_for(looping, timeout=15, what="crash loop")
    exits = [e for e in status["exits"] if e["code"] == 3]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(exits)]
    assert status["backoff_s"] >= 0.8 and gaps[1] > gaps[0], (status["backoff_s"], gaps)
    (app_dir / "crash-v2").unlink()
    wait_for(lambda: target.describe()["services"]["shop"]["versions"]["v2"]["process_alive"])
    wait_for(lambda: get_json(f"{canary.endpoint}/")["version"] == "v2", what="v2 back")


ADOPT = """
import json, sys
from pathlib import Path
from prodsprint_dagster.release.local import LocalTarget
target = LocalTarget(Path(sys.argv[1]), "prod", health_timeout=10, stop_grace=3)
if sys.argv[2] == "deploy":
    for version in ("v1", "v2"):
        target.deploy("shop", version, env={"VERSION": version},
                      command=[sys.executable, "server.py"], cwd=sys.argv[3])
    target.set_weights("shop", {"v1": 50, "v2": 50})
print(json.dumps(target.describe()))
"""


def test_processes_outlive_the_deploying_process_and_are_adopted(home: Path, app_dir: Path) -> None:
    # The "run" that deploys is a separate Python process that exits afterwards.
    proc = subprocess.run(
        [sys.executable, "-c", ADOPT, str(home), "deploy", str(app_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    deployed = json.loads(proc.stdout)["services"]["shop"]

    target = LocalTarget(home, "prod", **FAST)  # a later process finds everything running
    view = target.describe()
    assert view["proxy"]["alive"]
    shop = view["services"]["shop"]
    assert shop["weights"] == {"v1": 50, "v2": 50} and shop["stable"] == "v1"
    for version in ("v1", "v2"):
        assert shop["versions"][version]["process_alive"]
        assert shop["versions"][version]["pid"] == deployed["versions"][version]["pid"]
    served = {get_json(target.url("shop"))["version"] for _ in range(6)}
    assert served == {"v1", "v2"}
    target.promote("shop", "v2")
    assert target.describe()["services"]["shop"]["stable"] == "v2"
    assert procs.process_start_time(shop["versions"]["v1"]["pid"]) is None  # v1 was retired
    assert {get_json(target.url("shop"))["version"] for _ in range(4)} == {"v2"}


def test_recover_restarts_what_died_on_the_same_ports(target: LocalTarget, app_dir: Path) -> None:
    info = deploy(target, app_dir, "v1")
    url = target.url("shop")
    before = target.describe()
    # kill -9 the supervisors (as a reboot or OOM kill would): their children go with them.
    os.kill(before["proxy"]["supervisor_pid"], signal.SIGKILL)
    os.kill(info.details["supervisor_pid"], signal.SIGKILL)
    wait_for(
        lambda: not target.describe()["services"]["shop"]["versions"]["v1"]["process_alive"],
        what="child to follow its supervisor",
    )
    assert not target.describe()["proxy"]["alive"]

    actions = target.recover()
    assert any("proxy" in a for a in actions) and any("v1" in a for a in actions)
    after = target.describe()
    assert after["services"]["shop"]["url"] == url
    assert after["services"]["shop"]["versions"]["v1"]["port"] == info.details["port"]
    assert get_json(url)["version"] == "v1"
    assert target.recover() == []  # nothing left to repair


def test_pid_reuse_is_not_mistaken_for_the_recorded_process() -> None:
    me = procs.identity(os.getpid())
    assert procs.is_alive(me)
    assert not procs.is_alive({"pid": os.getpid(), "start": "someone-else"})
    assert not procs.signal_process({"pid": os.getpid(), "start": "x"}, signal.SIGTERM)


def test_never_healthy_service_gives_a_clear_error(target: LocalTarget, app_dir: Path) -> None:
    target.health_timeout = 2
    with pytest.raises(DeployError) as err:
        deploy(target, app_dir, "v1", UNHEALTHY="1")
    message = str(err.value)
    assert "shop v1: not healthy within 2s" in message
    assert "HTTP 503" in message and "booting v1" in message
    assert "shop" not in target.describe()["services"]  # nothing half-deployed is left


def test_crashing_service_reports_its_log(target: LocalTarget, app_dir: Path) -> None:
    deploy(target, app_dir, "v1")
    with pytest.raises(DeployError) as err:
        deploy(target, app_dir, "v2", BROKEN="1")
    message = str(err.value)
    assert "exited 3 time(s), last exit code 1" in message
    assert "RuntimeError: cannot connect to the database" in message
    shop = target.describe()["services"]["shop"]
    assert list(shop["versions"]) == ["v1"] and shop["weights"] == {"v1": 100}


def test_invalid_inputs_are_refused(target: LocalTarget, app_dir: Path) -> None:
    with pytest.raises(DeployError, match="list of arguments"):
        target.deploy("shop", "v1", env={}, command="python server.py", cwd=str(app_dir))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="version name"):
        deploy(target, app_dir, "../etc")
    with pytest.raises(DeployError, match="not valid"):
        target.deploy("shop", "v1", env={"A=B": "x"}, command=["x"], cwd=str(app_dir))
    deploy(target, app_dir, "v1")
    with pytest.raises(DeployError, match="no version"):
        target.set_weights("shop", {"v9": 10})
    with pytest.raises(DeployError, match="must not all be 0"):
        target.set_weights("shop", {"v1": 0})
