"""Runs pytest under coverage.py inside the repository's test virtualenv (not imported here).

Started as ``<venv>/bin/python pytest_driver.py OUT_DIR ATTEMPT MEASURE [pytest args]``. It
reads the repository's own coverage configuration (``.coveragerc``, ``setup.cfg``, ``tox.ini``,
``pyproject.toml``) and adds on top: branch coverage, a dynamic context per test function (so
the JSON report tells which files each test ran), the working directory as ``source`` when the
repository names none, and installed packages in ``omit``. pytest-cov, when the
repository uses it, is told to stand down (``--no-cov``) so that one tracer measures the run.
Only the standard library, pytest and coverage are imported.
"""

import importlib.util
import os
import sys


def main() -> int:
    out_dir, attempt, measure = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    sys.path.insert(0, os.getcwd())
    import pytest

    args = [
        f"--junitxml={os.path.join(out_dir, f'junit-{attempt}.xml')}",
        "-o", "junit_family=xunit1",
        "-p", "no:cacheprovider",
    ]  # fmt: skip
    if importlib.util.find_spec("pytest_cov") is not None:
        args.append("--no-cov")
    cov = None
    if measure:
        import coverage

        cov = coverage.Coverage(data_file=os.path.join(out_dir, ".coverage"), config_file=True)
        cov.set_option("run:branch", True)
        cov.set_option("run:dynamic_context", "test_function")
        if not cov.get_option("run:source") and not cov.get_option("run:include"):
            cov.set_option("run:source", [os.getcwd()])  # the repository, not its libraries
        omit = list(cov.get_option("run:omit") or [])
        cov.set_option("run:omit", [*omit, "*/site-packages/*", "*/node_modules/*"])
        cov.start()
    try:
        code = int(pytest.main([*args, *sys.argv[4:]]))
    finally:
        if cov is not None:
            cov.stop()
            cov.save()
    if cov is not None:
        try:
            cov.json_report(outfile=os.path.join(out_dir, "coverage.json"), show_contexts=True)
        except Exception as exc:  # no data collected: the report says so, the run goes on
            print(f"prodsprint: no coverage report: {exc}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
