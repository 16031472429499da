"""The k6 script: same open model and budgets, valid JavaScript, inert repository strings."""

import json
import re
import shutil
import subprocess

import pytest

from prodsprint_dagster.quality.perf import render_k6_script, script_name


def _options(script: str) -> dict:
    return json.loads(re.search(r"export const options = (\{.*\});\n", script).group(1))


def test_the_script_carries_the_rate_and_the_budgets_as_thresholds():
    script = render_k6_script("shop-api", ["/health", "/orders"], rate=40, duration_seconds=10,
                              budgets={"p95_ms": 500, "error_ratio": 0.01, "rps": 5})  # fmt: skip
    options = _options(script)
    scenario = options["scenarios"]["open_model"]
    assert scenario["executor"] == "constant-arrival-rate" and scenario["rate"] == 40
    assert scenario["duration"] == "10s"
    assert options["thresholds"] == {
        "http_req_duration": ["p(95)<500"],
        "http_req_duration{name:/health}": ["p(95)<500"],
        "http_req_duration{name:/orders}": ["p(95)<500"],
        "http_req_failed": ["rate<0.01"],
        "http_req_failed{name:/health}": ["rate<0.01"],
        "http_req_failed{name:/orders}": ["rate<0.01"],
    }
    assert "expectedStatuses({ min: 200, max: 499 })" in script
    assert script_name("shop api/x") == "perf/k6/shop-api-x.k6.js"


def test_hostile_route_and_service_names_stay_inside_their_strings(tmp_path):
    evil = '/x"]; require("child_process").exec("rm -rf /"); //\u2028</script>'
    script = render_k6_script('svc"\n//', [evil], rate=1, duration_seconds=1,
                              budgets={"p95_ms": 1})  # fmt: skip
    routes = json.loads(re.search(r"const ROUTES = (\[.*\]);", script).group(1))
    assert routes == [evil]
    assert 'require("child_process")' not in script.replace('\\"', "")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed to parse the script")
    path = tmp_path / "perf.mjs"
    path.write_text(script)
    proc = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
