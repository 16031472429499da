"""Running a repository's own tests: isolation, retries, time limit, Node, gaps, ingestion."""

import os
import shutil
import time
from pathlib import Path

import pytest

from prodsprint_dagster.quality.coverage import measure_checkout, results_document
from tests.quality.test_coverage_formats import COBERTURA_ISTANBUL
from tests.quality.test_coverage_support import (
    PYTEST_SUITE,
    RUNTIME_HOME,
    TEST_TOOLS,
    write_tree,
)

CALC = """def add(a, b):
    return a + b


def sub(a, b):
    return a + b  # the bug the suite catches


def unused(x):
    if x:
        return 1
    return 2
"""

TESTS = """import os
from pathlib import Path

from calc import add, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2


def test_flaky():
    marker = Path("flaky.marker")
    if not marker.exists():
        marker.write_text("first run fails")
        raise AssertionError("first attempt fails")


def test_environment_is_clean():
    assert "PRODSPRINT_TEST_SECRET" not in os.environ
    assert os.environ["HOME"] != {home!r}
"""


def python_repo(root: Path) -> Path:
    return write_tree(root, {
        "requirements-dev.txt": TEST_TOOLS,
        "pytest.ini": "[pytest]\ntestpaths = tests\n",
        "calc.py": CALC,
        "tests/test_calc.py": TESTS.format(home=os.environ.get("HOME", "/root")),
    })  # fmt: skip


def test_pytest_suite_in_a_clean_scratch_copy_with_retries(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODSPRINT_TEST_SECRET", "hunter2")
    repo = python_repo(tmp_path / "calc")
    m = measure_checkout(repo, PYTEST_SUITE, home=RUNTIME_HOME, run=True, retries=1, timeout=120)

    assert m.source.startswith("ran:pytest (under coverage.py")
    assert "venv from requirements-dev.txt" in m.source
    calc = m.data.files["calc.py"].lines
    assert calc[2] > 0 and calc[6] > 0 and calc[10] == 0 and calc[11] == 0
    assert m.data.files["calc.py"].branches == {10: (0, 2)}
    attempts = sorted((c.name, c.attempt, c.outcome) for c in m.cases)
    assert attempts == [
        ("test_add", 0, "passed"), ("test_environment_is_clean", 0, "passed"),
        ("test_flaky", 0, "failed"), ("test_flaky", 1, "passed"),
        ("test_sub", 0, "failed"), ("test_sub", 1, "failed"),
    ]  # fmt: skip
    # Per-test coverage: test_add ran calc.py; so did every test through the shared import.
    assert m.covers["tests.test_calc::test_add"] == ["calc.py", "tests/test_calc.py"]
    doc = results_document(m)
    assert (doc["total"], doc["passed"], doc["failed"], doc["errors"]) == (4, 3, 1, 0)
    assert doc["flaky"] == ["tests.test_calc::test_flaky"]
    assert doc["failures"][0]["message"].startswith("assert 8 == 2")
    # The run happened in a scratch copy: the checkout is as it was.
    assert not (repo / "flaky.marker").exists() and not (repo / ".coverage").exists()


def test_a_hanging_suite_is_killed_with_its_children_and_blocks(tmp_path):
    pid_file = tmp_path / "child.pid"
    repo = write_tree(tmp_path / "hang", {
        "requirements-dev.txt": TEST_TOOLS,
        "pytest.ini": "[pytest]\n",
        "test_hang.py": f"""import subprocess, time
from pathlib import Path


def test_hangs():
    child = subprocess.Popen(["sleep", "300"])
    Path({str(pid_file)!r}).write_text(str(child.pid))
    time.sleep(300)
""",
    })  # fmt: skip
    start = time.monotonic()
    m = measure_checkout(repo, PYTEST_SUITE, home=RUNTIME_HOME, run=True, timeout=3)
    assert time.monotonic() - start < 60
    [gap] = m.gaps
    assert gap["code"] == "suite_error"
    assert "killed after the 3s time limit (the whole process group)" in gap["message"]
    doc = results_document(m)
    assert (doc["errors"], doc["total"]) == (1, 1)  # blocks the tests gate
    assert "time limit" in doc["failures"][0]["message"]
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


def test_no_test_suite_is_a_gap_and_zero_tests(tmp_path):
    repo = write_tree(tmp_path / "empty", {"app.py": "print('hi')\n"})
    m = measure_checkout(repo, [], home=RUNTIME_HOME)
    assert [g["code"] for g in m.gaps] == ["no_test_suite"]
    assert m.data.totals()["percent"] is None
    doc = results_document(m)
    assert doc["total"] == 0 and doc["gaps"][0]["code"] == "no_test_suite"

    go = [{"framework": "go", "root": ".", "command": "go test ./...", "evidence": ["a_test.go:1"]}]
    m = measure_checkout(repo, go, home=RUNTIME_HOME)
    assert [g["code"] for g in m.gaps] == ["unsupported_runner"]
    assert "upload a coverage report" in m.gaps[0]["message"]


def test_reports_in_the_checkout_are_ingested_instead_of_running(tmp_path):
    repo = write_tree(tmp_path / "web", {
        "src/cart.js": "x\n",
        "coverage/cobertura-coverage.xml": COBERTURA_ISTANBUL,
        "junit.xml": '<testsuite><testcase classname="cart" name="adds"/></testsuite>',
    })  # fmt: skip
    m = measure_checkout(repo, PYTEST_SUITE, home=None)
    assert m.source == "ingested:coverage/cobertura-coverage.xml"
    assert m.data.totals()["percent"] == 80.0
    assert results_document(m)["total"] == 1
    (repo / "junit.xml").unlink()
    m = measure_checkout(repo, PYTEST_SUITE, home=None)
    assert results_document(m) is None  # coverage without results: the tests gate is not measured
    assert [g["code"] for g in m.gaps] == ["no_test_results"]
    shutil.rmtree(repo / "coverage")
    m = measure_checkout(repo, PYTEST_SUITE, home=None, run=False)
    assert [g["code"] for g in m.gaps] == ["no_reports"] and not m.measured


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_suite_with_v8_coverage_and_junit(tmp_path):
    repo = write_tree(tmp_path / "node", {
        "package.json": '{"name": "cart", "version": "1.0.0", "scripts": {"test": "node --test"}}',
        "src/cart.js": "function add(a, b) {\n  return a + b;\n}\n\n"
                       "function unused(x) {\n  // never called\n  return x * 2;\n}\n\n"
                       "module.exports = { add, unused };\n",
        "test/cart.test.js": "const test = require('node:test');\n"
                             "const assert = require('node:assert');\n"
                             "const { add } = require('../src/cart.js');\n"
                             "test('adds', () => assert.strictEqual(add(1, 2), 3));\n"
                             "test('is wrong', () => assert.strictEqual(add(1, 2), 4));\n",
    })  # fmt: skip
    suite = [{"framework": "node", "root": ".", "command": "npm test", "evidence": ["x:1"]}]
    m = measure_checkout(repo, suite, home=None, run=True, retries=1, timeout=60)
    assert m.source == "ran:npm test (NODE_V8_COVERAGE)"
    assert set(m.data.files) == {"src/cart.js"}  # tests and node_modules are left out
    lines = m.data.files["src/cart.js"].lines
    assert lines[2] > 0 and lines[7] == 0 and 6 not in lines  # comment line not coverable
    assert sorted((c.name, c.attempt, c.outcome) for c in m.cases) == [
        ("adds", 0, "passed"), ("is wrong", 0, "failed"), ("is wrong", 1, "failed"),
    ]  # fmt: skip
    doc = results_document(m)
    assert (doc["total"], doc["failed"]) == (2, 1)
