"""A Node test suite: the package's own ``test`` script with V8 coverage, when node is present.

Coverage needs no package: ``NODE_V8_COVERAGE`` makes every node process the script starts
write block coverage (see :mod:`.v8`). When the script runs ``node --test``, a JUnit reporter
is added through ``NODE_OPTIONS`` so each test is known by name; other runners (jest, mocha)
are judged by their exit code, reported as one suite-level result and a gap. Dependencies are
installed without their install scripts when ``node_modules`` is missing. node's test runner
cannot select tests from the environment, so a retry re-runs the suite and records the
attempts of the tests that had failed.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from prodsprint_dagster.quality.coverage.errors import TestRunError
from prodsprint_dagster.quality.coverage.sandbox import clean_env, run_limited
from prodsprint_dagster.quality.coverage.source import Report
from prodsprint_dagster.quality.coverage.suite import SuiteResult
from prodsprint_dagster.quality.coverage.v8 import read_v8_directory
from prodsprint_dagster.quality.testresults import (
    FAILED,
    PASSED,
    TestCase,
    clean_message,
    parse_junit,
)

PACKAGE_MANAGERS = ("npm", "pnpm", "yarn", "bun")
_NODE_TEST = re.compile(r"(^|[\s;&|(])node\s+(\S+\s+)*--test(\s|$)")
_DEFAULT_SCRIPT = "no test specified"
_INSTALL = {
    "npm": (["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            ["install", "--ignore-scripts", "--no-audit", "--no-fund"]),
    "pnpm": (["install", "--frozen-lockfile", "--ignore-scripts"], ["install", "--ignore-scripts"]),
    "yarn": (["install", "--frozen-lockfile", "--ignore-scripts"], ["install", "--ignore-scripts"]),
    "bun": (["install", "--frozen-lockfile", "--ignore-scripts"], ["install", "--ignore-scripts"]),
}  # fmt: skip
_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock",
              "bun.lockb", "bun.lock")  # fmt: skip


def run_node_suite(
    suite_dir: Path,
    rel_root: str,
    package_manager: str,
    scratch: Path,
    *,
    deadline: float,
    retries: int = 0,
) -> SuiteResult:
    pm = package_manager if package_manager in PACKAGE_MANAGERS else "npm"
    result = SuiteResult(rel_root, f"{pm} test (NODE_V8_COVERAGE)")
    node, pm_bin = shutil.which("node"), shutil.which(pm)
    if node is None or pm_bin is None:
        result.gap("node_missing", f"{'node' if node is None else pm} is not on PATH: the Node "
                   f"tests in {rel_root} were not run")  # fmt: skip
        return result
    manifest = suite_dir / "package.json"
    try:
        pkg = json.loads(manifest.read_text(encoding="utf-8"))
        script = (pkg.get("scripts") or {}).get("test")
    except (OSError, ValueError, AttributeError) as exc:
        raise TestRunError(f"{rel_root}/package.json: cannot be read: {exc}") from None
    if not isinstance(script, str) or not script.strip() or _DEFAULT_SCRIPT in script:
        result.gap("no_test_script", f"{rel_root}/package.json has no test script")
        return result
    out = scratch / "out" / (re.sub(r"[^\w-]", "_", rel_root.strip("./")) or "root")
    v8_dir = out / "v8"
    v8_dir.mkdir(parents=True, exist_ok=True)
    env = clean_env(scratch, {"npm_config_update_notifier": "false", "npm_config_fund": "false",
                              "npm_config_audit": "false"})  # fmt: skip
    if (pkg.get("dependencies") or pkg.get("devDependencies")) and not (
        suite_dir / "node_modules"
    ).is_dir():
        locked = any((suite_dir / name).is_file() for name in _LOCKFILES)
        args = _INSTALL[pm][0 if locked else 1]
        install = run_limited([pm_bin, *args], cwd=suite_dir, env=env,
                              timeout=deadline - time.monotonic(), log=out / "install.log",
                              what=f"{pm} install in {rel_root}")  # fmt: skip
        if install.returncode:
            raise TestRunError(f"{pm} install in {rel_root} failed: {install.tail[-500:]}")
    named = bool(_NODE_TEST.search(script))
    for attempt in range(retries + 1):
        if attempt and not any(c.bad for c in _latest(result.cases).values()):
            break
        if attempt and deadline - time.monotonic() < 1:
            break
        junit = out / f"junit-{attempt}.xml"
        run_env = dict(env)
        if attempt == 0:
            run_env["NODE_V8_COVERAGE"] = str(v8_dir)
        if named:
            if '"' in str(junit):
                raise TestRunError(f"scratch path {junit} cannot be passed to node")
            run_env["NODE_OPTIONS"] = (
                "--test-reporter=spec --test-reporter-destination=stdout "
                f'--test-reporter=junit --test-reporter-destination="{junit}"'
            )
        run = run_limited([pm_bin, "test"], cwd=suite_dir, env=run_env,
                          timeout=deadline - time.monotonic(), log=out / f"test-{attempt}.log",
                          what=f"the tests in {rel_root} ({pm} test)")  # fmt: skip
        result.duration += run.duration
        if attempt == 0:
            result.returncode, result.output_tail = run.returncode, run.tail
            result.data = read_v8_directory(v8_dir, suite_dir)
        if named and junit.is_file():
            cases = parse_junit(Report.from_path(junit, f"{rel_root}/junit.xml"), attempt=attempt)
            if attempt:
                failed = {cid for cid, c in _latest(result.cases).items() if c.bad}
                cases = [c for c in cases if c.id in failed]
            result.cases += cases
        elif attempt == 0:
            result.gap("no_test_results", f"{pm} test in {rel_root} does not use node --test: "
                       "its tests are counted as one suite result (exit code)")  # fmt: skip
            result.cases.append(TestCase(
                id=f"{rel_root}::{pm} test", name=f"{pm} test", classname=rel_root, file=None,
                outcome=PASSED if run.returncode == 0 else FAILED, duration=run.duration,
                message=None if run.returncode == 0
                else clean_message(f"exit code {run.returncode}: {run.tail[-400:]}"),
            ))  # fmt: skip
            break
    return result


def _latest(cases: list[TestCase]) -> dict[str, TestCase]:
    return {case.id: case for case in sorted(cases, key=lambda c: c.attempt)}
