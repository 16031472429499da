"""A Python test suite: its virtualenv, a pytest run under coverage.py, retries of failures.

The virtualenv is built from the repository's pinned requirement files (with the files they
include) or, failing those, from ``pyproject.toml``'s dependencies and test extras, plus
coverage and pytest; it is cached under ``<home>/runtimes`` by the hash of those files (see
:func:`prodsprint_dagster.runtime.python_runtime`), so the next commit with the same lockfile
starts at once. Failed tests are re-run by node id, each retry an attempt of its own.
"""

from __future__ import annotations

import re
import time
import tomllib
from pathlib import Path

from prodsprint_dagster.quality.coverage.coveragepy import contexts_by_file, read_coveragepy
from prodsprint_dagster.quality.coverage.errors import CoverageReportError, TestRunError
from prodsprint_dagster.quality.coverage.paths import PathMapper
from prodsprint_dagster.quality.coverage.sandbox import clean_env, run_limited
from prodsprint_dagster.quality.coverage.source import Report
from prodsprint_dagster.quality.coverage.suite import SuiteResult
from prodsprint_dagster.quality.testresults import TestCase, parse_junit
from prodsprint_dagster.runtime import python_runtime

DRIVER = Path(__file__).with_name("pytest_driver.py")
TOOLS_FILE = "prodsprint-test-tools.txt"
TOOLS_REQUIREMENTS = (
    "# Added by ProdSprint to every test virtualenv; lower bounds only, so a repository's own\n"
    "# pins of these tools win.\ncoverage>=6.0\npytest>=6.0\n"
)
_REQUIREMENT_NAMES = ("requirements.txt", "requirements-dev.txt", "requirements_dev.txt",
                      "dev-requirements.txt", "requirements-test.txt", "requirements_test.txt",
                      "requirements-tests.txt", "test-requirements.txt")  # fmt: skip
_REQUIREMENT_DIR_NAMES = ("base.txt", "common.txt", "prod.txt", "production.txt", "dev.txt",
                          "test.txt", "tests.txt", "testing.txt")  # fmt: skip
_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)")
_TEST_EXTRAS = ("test", "tests", "testing", "dev")
MAX_INCLUDES = 50


def requirement_files(suite_dir: Path, repo_dir: Path) -> list[Path]:
    """The suite's requirement files (its folder first, else the repository root) + includes."""
    for folder in dict.fromkeys((suite_dir, repo_dir)):
        found = [folder / n for n in _REQUIREMENT_NAMES if (folder / n).is_file()]
        found += [folder / "requirements" / n for n in _REQUIREMENT_DIR_NAMES
                  if (folder / "requirements" / n).is_file()]  # fmt: skip
        if found:
            return _with_includes(found, repo_dir)
    return []


def _with_includes(files: list[Path], repo_dir: Path) -> list[Path]:
    """Add the files ``-r``/``-c`` lines pull in, so the cache key sees every pinned file."""
    seen: dict[Path, None] = {}
    queue = list(files)
    root = repo_dir.resolve()
    while queue and len(seen) < MAX_INCLUDES:
        file = queue.pop(0)
        resolved = file.resolve()
        if resolved in seen:
            continue
        if not resolved.is_relative_to(root):
            raise TestRunError(f"{file}: requirement include points outside the repository")
        seen[resolved] = None
        for line in resolved.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _INCLUDE.match(line)
            if match and "://" not in match.group(1):
                queue.append(resolved.parent / match.group(1))
    missing = [p for p in seen if not p.is_file()]
    if missing:
        raise TestRunError(f"{missing[0]}: included by a requirements file but missing")
    return list(seen)


def pyproject_requirements(suite_dir: Path) -> str | None:
    """``[project]`` dependencies and test extras as a requirements text, if declared."""
    path = suite_dir / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TestRunError(f"{path.name}: not valid TOML: {exc}") from None
    project = doc.get("project") or {}
    deps = list(project.get("dependencies") or [])
    extras = project.get("optional-dependencies") or {}
    for name in _TEST_EXTRAS:
        deps += list(extras.get(name) or [])
    deps = [d for d in deps if isinstance(d, str)]
    return "".join(f"{d}\n" for d in dict.fromkeys(deps)) if deps else None


def suite_runtime(home: Path, suite_dir: Path, repo_dir: Path, scratch: Path) -> tuple[Path, str]:
    """(virtualenv, what it was built from) for the suite; cached by the requirement files."""
    runtimes = Path(home) / "runtimes"
    runtimes.mkdir(parents=True, exist_ok=True)
    tools = runtimes / TOOLS_FILE
    if not tools.is_file() or tools.read_text() != TOOLS_REQUIREMENTS:
        tools.write_text(TOOLS_REQUIREMENTS)
    files = requirement_files(suite_dir, repo_dir)
    origin = ", ".join(p.relative_to(repo_dir.resolve()).as_posix() for p in files)
    if not files:
        text = pyproject_requirements(suite_dir)
        if text is not None:
            generated = scratch / "pyproject-requirements.txt"
            generated.write_text(text)
            files, origin = [generated], "pyproject.toml"
    return python_runtime(home, [*files, tools]), origin or "no requirements file"


def run_python_suite(
    suite_dir: Path,
    rel_root: str,
    venv: Path,
    scratch: Path,
    *,
    deadline: float,
    retries: int = 0,
) -> SuiteResult:
    """pytest under coverage in ``suite_dir`` (a scratch copy), then up to ``retries`` re-runs."""
    result = SuiteResult(rel_root, "pytest (under coverage.py, branch + per-test contexts)")
    out = scratch / "out" / (re.sub(r"[^\w-]", "_", rel_root.strip("./")) or "root")
    out.mkdir(parents=True, exist_ok=True)
    venv = venv.resolve()
    python = venv / "bin" / "python"
    extra_path = [str(suite_dir)] + ([str(suite_dir / "src")] if (suite_dir / "src").is_dir()
                                     else [])  # fmt: skip
    env = clean_env(scratch)
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", VIRTUAL_ENV=str(venv),
               PYTHONPATH=":".join(extra_path), PYTHONDONTWRITEBYTECODE="1")  # fmt: skip
    what = f"the tests in {rel_root or '.'} (pytest)"
    run = run_limited([str(python), str(DRIVER), str(out), "0", "1"], cwd=suite_dir, env=env,
                      timeout=deadline - time.monotonic(), log=out / "pytest-0.log",
                      what=what)  # fmt: skip
    result.returncode, result.duration, result.output_tail = run.returncode, run.duration, run.tail
    junit = out / "junit-0.xml"
    if not junit.is_file():
        raise TestRunError(
            f"{what}: pytest exited with code {run.returncode} without results; last output: "
            f"{run.tail[-800:] or '(none)'}"
        )
    result.cases = parse_junit(Report.from_path(junit, f"{rel_root}/junit.xml"))
    if run.returncode == 5 or not result.cases:
        result.gap("no_tests_collected", f"pytest collected no tests in {rel_root or '.'}")
    elif run.returncode not in (0, 1):
        result.gap("pytest_exit", f"pytest exited with code {run.returncode}: {run.tail[-300:]}")
    report = out / "coverage.json"
    if report.is_file():
        mapper = PathMapper(suite_dir)
        cov_report = Report.from_path(report, f"{rel_root}/coverage.json")
        doc = cov_report.json()
        result.data = read_coveragepy(cov_report, mapper, doc)
        result.covers = _covers(result.cases, contexts_by_file(doc, mapper))
    elif result.cases:
        raise CoverageReportError(f"{what}: coverage.py wrote no report: {run.tail[-300:]}")
    for attempt in range(1, retries + 1):
        ids = _failed_node_ids(result.cases)
        if not ids or deadline - time.monotonic() < 1:
            break
        try:
            rerun = run_limited(
                [str(python), str(DRIVER), str(out), str(attempt), "0", *ids], cwd=suite_dir,
                env=env, timeout=deadline - time.monotonic(), log=out / f"pytest-{attempt}.log",
                what=f"{what}, retry {attempt}",
            )  # fmt: skip
        except TestRunError as exc:  # the first run's results stand; the retry is lost
            result.gap("retry_failed", str(exc))
            break
        result.duration += rerun.duration
        junit = out / f"junit-{attempt}.xml"
        if junit.is_file():
            result.cases += parse_junit(
                Report.from_path(junit, f"{rel_root}/junit-{attempt}.xml"), attempt=attempt
            )
    return result


def _failed_node_ids(cases: list[TestCase]) -> list[str]:
    """pytest node ids of the tests whose latest attempt failed (from xunit1 ``file``)."""
    latest: dict[str, TestCase] = {}
    for case in cases:
        if case.attempt >= latest.get(case.id, case).attempt:
            latest[case.id] = case
    ids = []
    for case in latest.values():
        if not case.bad or not case.file or not case.file.endswith(".py"):
            continue
        module = case.file[:-3].replace("/", ".")
        parts = [case.file]
        if case.classname.startswith(module + "."):
            parts += case.classname[len(module) + 1 :].split(".")
        ids.append("::".join([*parts, case.name]))
    return sorted(ids)


def _covers(cases: list[TestCase], contexts: dict[str, set[str]]) -> dict[str, list[str]]:
    """Test id -> files it covered, matching coverage.py's ``module.function`` contexts.

    Code that ran outside any test function (imports, fixtures) has the empty context; it is
    shared by every test, so it counts as covered by each of them.
    """
    shared = contexts.get("", set())
    by_last: dict[str, list[str]] = {}
    for ctx in contexts:
        by_last.setdefault(ctx.rsplit(".", 1)[-1], []).append(ctx)
    covers: dict[str, list[str]] = {}
    for case in cases:
        base = case.name.split("[", 1)[0]
        full = f"{case.classname}.{base}" if case.classname else base
        files = set(shared)
        for ctx in by_last.get(base, ()):
            if ctx == full or full.endswith("." + ctx):
                files |= contexts[ctx]
        covers[case.id] = sorted(files)
    return covers
