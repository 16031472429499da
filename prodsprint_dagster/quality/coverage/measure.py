"""Measuring a checkout: ingest the reports it (or CI) already has, otherwise run its tests.

Order: reports uploaded for the commit to the artifact store, then reports committed in the
repository, then a run of each suite the audit found (Python through coverage.py, Node with
V8 coverage). ``run=True`` always runs, ``run=False`` never does. The run happens in a
scratch copy of the checkout (without ``.git``), never in the shared work tree: tests write
databases, caches and reports. A suite that hangs is killed at the limit and recorded as an
error of the suite, so the tests gate blocks on it instead of passing it by silence.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodsprint_dagster.errors import ProdSprintError
from prodsprint_dagster.quality.coverage.discover import FoundReports, find_in_tree
from prodsprint_dagster.quality.coverage.ingest import read_coverage
from prodsprint_dagster.quality.coverage.model import CoverageData
from prodsprint_dagster.quality.coverage.node_suite import PACKAGE_MANAGERS, run_node_suite
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.python_suite import run_python_suite, suite_runtime
from prodsprint_dagster.quality.coverage.suite import SuiteResult
from prodsprint_dagster.quality.testresults import ERROR, TestCase, clean_message, parse_junit

PYTHON_FRAMEWORKS = frozenset({"pytest", "unittest"})
MAX_DIGEST_BYTES = 16 * 1024 * 1024


@dataclass
class Measurement:
    data: CoverageData = field(default_factory=CoverageData)
    cases: list[TestCase] = field(default_factory=list)
    covers: dict[str, list[str]] | None = None
    source: str = "none"
    tested: bool = False  # whether test results are known (zero tests is a result)
    reports: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    suites: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0

    @property
    def measured(self) -> bool:
        return bool(self.data.files) or self.source.startswith("ingested")


def measure_checkout(
    checkout: Path,
    tests: Sequence[dict[str, Any]],
    *,
    home: Path | None,
    run: bool | None = None,
    uploaded: FoundReports | None = None,
    timeout: float = 900,
    retries: int = 0,
) -> Measurement:
    """Coverage and test results of the checkout (``tests`` = the audit's ``tests`` list)."""
    start = time.monotonic()
    checkout = Path(checkout)
    if run is not True:
        found = uploaded if uploaded and uploaded.coverage else find_in_tree(checkout)
        if found.coverage:
            result = ingest(found, PathMapper(checkout))
            result.duration = time.monotonic() - start
            return result
        if run is False:
            result = Measurement(skipped=list(found.skipped))
            result.gaps.append(_gap("no_reports", "no coverage report found and running the "
                                    "tests was not allowed"))  # fmt: skip
            return result
    result = run_suites(checkout, tests, home=home, timeout=timeout, retries=retries)
    result.duration = time.monotonic() - start
    return result


def ingest(found: FoundReports, mapper: PathMapper) -> Measurement:
    result = Measurement(skipped=list(found.skipped))
    for report, kind in found.coverage:
        result.data.merge(read_coverage(report, mapper, kind))
        result.reports.append(report.name)
    for report in found.junit:
        result.cases += parse_junit(report)
        result.reports.append(report.name)
    result.source = "ingested:" + ",".join(r.name for r, _ in found.coverage)
    result.tested = bool(found.junit)
    if not found.junit:
        result.gaps.append(_gap("no_test_results", "coverage reports were found but no JUnit "
                                "results: the tests gate is not measured"))  # fmt: skip
    return result


def run_suites(
    checkout: Path,
    tests: Sequence[dict[str, Any]],
    *,
    home: Path | None,
    timeout: float,
    retries: int,
) -> Measurement:
    result = Measurement(tested=True, covers={})
    if not tests:
        result.gaps.append(_gap("no_test_suite", "the audit found no test suite: nothing to run"))
        return result
    scratch = Path(tempfile.mkdtemp(prefix="prodsprint-tests-"))
    commands = []
    try:
        work = scratch / "work"
        shutil.copytree(checkout, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        for suite in tests:
            root = str(suite.get("root") or ".")
            suite_dir = (work / root).resolve()
            if not suite_dir.is_relative_to(work.resolve()) or not suite_dir.is_dir():
                result.gaps.append(_gap("bad_test_root", f"test root {root!r} is not a folder "
                                        "of the repository", root))  # fmt: skip
                continue
            try:
                outcome = _run_one(suite, suite_dir, root, work, scratch, home, timeout, retries)
            except ProdSprintError as exc:  # a hang, a failed install: the suite errored
                outcome = SuiteResult(root, str(suite.get("command") or "?"))
                outcome.cases.append(TestCase(
                    id=f"{root}::{suite.get('command')}", name=str(suite.get("command")),
                    classname=root, file=None, outcome=ERROR, duration=0.0,
                    message=clean_message(str(exc)),
                ))  # fmt: skip
                outcome.gap("suite_error", str(exc))
            commands.append(outcome.command if root == "." else f"{root}: {outcome.command}")
            _add(result, outcome)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.source = "ran:" + "; ".join(commands) if commands else "none"
    return result


def _run_one(
    suite: dict[str, Any],
    suite_dir: Path,
    root: str,
    work: Path,
    scratch: Path,
    home: Path | None,
    timeout: float,
    retries: int,
) -> SuiteResult:
    """One suite; its time limit starts once its runtime is ready (a build is not a run)."""
    framework = str(suite.get("framework") or "")
    command = str(suite.get("command") or "")
    if framework in PYTHON_FRAMEWORKS:
        if home is None:
            raise ProdSprintError("running Python tests needs the ProdSprint home (runtimes)")
        venv, origin = suite_runtime(home, suite_dir, work, scratch)
        deadline = time.monotonic() + timeout
        outcome = run_python_suite(suite_dir, root, venv, scratch, deadline=deadline,
                                   retries=retries)  # fmt: skip
        outcome.command += f" [venv from {origin}]"
        return outcome
    tool = command.split(" ", 1)[0]
    if tool in PACKAGE_MANAGERS and command.endswith(" test"):
        return run_node_suite(suite_dir, root, tool, scratch,
                              deadline=time.monotonic() + timeout, retries=retries)  # fmt: skip
    outcome = SuiteResult(root, command)
    outcome.gap(
        "unsupported_runner",
        f"running {framework} tests ({command}) is not supported; "
        "upload a coverage report and JUnit XML as artifacts reports/... for the commit",
    )
    return outcome


def _add(result: Measurement, suite: SuiteResult) -> None:
    root = suite.root
    result.data.merge(suite.data.prefixed(root))
    result.gaps += suite.gaps
    result.suites.append(suite.summary())
    prefix = "" if root in ("", ".") else f"{root}/"
    for case in suite.cases:
        result.cases.append(
            dataclasses.replace(
                case,
                id=prefix + case.id,
                file=(prefix + case.file) if case.file else None,
            )
        )
    if result.covers is not None and suite.covers is not None:
        for test_id, files in suite.covers.items():
            result.covers[prefix + test_id] = [prefix + f for f in files]


def file_digests(checkout: Path, paths: Sequence[str]) -> dict[str, str]:
    """Path -> sha256 (16 hex) of the file in the checkout; missing or huge files are left out."""
    out: dict[str, str] = {}
    root = Path(checkout).resolve()
    for rel in paths:
        path = (root / rel).resolve()
        try:
            if not path.is_relative_to(root) or path.stat().st_size > MAX_DIGEST_BYTES:
                continue
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            continue
    return out


def _gap(code: str, message: str, root: str = ".") -> dict[str, Any]:
    return {"code": code, "root": root, "message": message}
