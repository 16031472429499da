"""`prodsprint perf URL_OR_PATH`: JSON on stdout, progress on stderr, exit 1 over budget."""

import json

from click.testing import CliRunner
from perf_helpers import app_server, use_venv_python, write_service

from prodsprint_dagster.cli import perf as _perf_commands  # noqa: F401  (registers commands)
from prodsprint_dagster.cli.base import main


def test_perf_url_reports_routes_and_fails_on_a_blown_budget(project):
    with app_server(SLOW_MS="20") as url:
        result = CliRunner().invoke(main, [
            "perf", url, "--rate", "150", "--duration", "1", "--route", "/fast",
            "--route", "/boom", "--json"])  # fmt: skip
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["mode"] == "url"
    routes = {r["route"]: r for r in doc["routes"]}
    assert routes["/boom"]["error_ratio"] == 1.0 and routes["/fast"]["error_ratio"] == 0.0
    assert {(b["route"], b["metric"]) for b in doc["over_budget"]} == {
        ("*", "error_ratio"),
        ("/boom", "error_ratio"),
    }
    assert doc["load"] == {"rate": 150.0, "duration_seconds": 1.0}


def test_perf_path_starts_the_service_and_drives_its_routes(project, tmp_path, monkeypatch):
    use_venv_python(monkeypatch)
    write_service(tmp_path / "svc", slow_ms=10, boom=200)
    result = CliRunner().invoke(main, ["perf", str(tmp_path / "svc"), "--rate", "100",
                                       "--duration", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "web: starting `python app.py`" in result.output
    assert "/slow" in result.output and "overall: p50" in result.output


def test_perf_refuses_what_it_cannot_measure(project, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["perf", str(tmp_path / "nope"), "--json"])
    assert missing.exit_code == 1
    assert "neither an http(s):// URL nor a directory" in json.loads(missing.stdout)["error"]
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("def f():\n    return 1\n")
    empty = runner.invoke(main, ["perf", str(tmp_path / "lib"), "--duration", "1", "--json"])
    assert empty.exit_code == 1 and "no HTTP service" in json.loads(empty.stdout)["error"]
