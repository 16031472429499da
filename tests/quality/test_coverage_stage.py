"""The coverage stage over runs: flaky tests learnt from history, then quarantined by policy."""

from prodsprint_dagster.config import load_config
from prodsprint_dagster.quality.coverage import coverage_runs, load_test_history
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.stages import StageContext
from prodsprint_dagster.stages.coverage import build_coverage_report
from tests.conftest import run_git
from tests.quality.test_coverage_support import (
    PYTEST_SUITE,
    TEST_TOOLS,
    share_runtimes,
    write_tree,
)


def test_a_test_flaky_in_history_is_quarantined_by_policy(project, make_repo, tmp_path):
    counter = tmp_path / "runs"  # outside the scratch copy, so it survives between runs
    repo = make_repo("calc", commits=0)
    write_tree(repo.path, {
        "requirements-dev.txt": TEST_TOOLS,
        "pytest.ini": "[pytest]\n",
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_calc.py": f"""from pathlib import Path

from calc import add


def test_add():
    assert add(1, 2) == 3


def test_wobbly():
    counter = Path({str(counter)!r})
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    assert runs % 2 == 0, f"run {{runs}} is odd"
""",
    })  # fmt: skip
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "calc")
    pack = write_tree(tmp_path / "packs" / "lenient", {"pack.yaml": (
        "name: lenient\nversion: 1.0.0\ndescription: no retries, flaky tests quarantined\n"
        "extends: default\nsettings:\n  tests_retries: 0\n  tests_quarantine_flaky: true\n"
    )})  # fmt: skip
    add_repo(project, "calc", str(repo.path), policy_pack=str(pack))
    cfg = load_config(project)
    share_runtimes(cfg.home_path)
    ctx = StageContext.from_config(cfg, "calc")
    ctx.git.sync_mirror("calc", str(repo.path))
    commit = repo.head()

    first = build_coverage_report(ctx, {"tests": PYTEST_SUITE}, commit)
    assert first["tests"]["failed"] == 1 and first["flaky"] == []  # one failure proves nothing
    second = build_coverage_report(ctx, {"tests": PYTEST_SUITE}, commit)
    assert second["tests"]["failed"] == 0
    [flaky] = second["flaky"]  # passed and failed on the same commit
    assert (flaky["test"], flaky["reasons"], flaky["flake_rate"]) == (
        "test_calc::test_wobbly", ["same_commit"], 0.5,
    )  # fmt: skip
    third = build_coverage_report(ctx, {"tests": PYTEST_SUITE}, commit)
    tests = third["tests"]
    assert tests["quarantined"] == ["test_calc::test_wobbly"]  # failed, reported, not blocking
    assert (tests["failed"], tests["errors"], tests["total"]) == (0, 0, 2)
    assert tests["failures"][0]["quarantined"] and "run 3 is odd" in tests["failures"][0]["message"]

    stored = ctx.load(commit, "tests.json")
    assert stored["quarantined"] == ["test_calc::test_wobbly"]
    assert ctx.load(commit, "coverage.json")["percent"] == 100.0
    assert ctx.load(commit, "flaky.json")["flaky"][0]["runs"] == 3
    runs = coverage_runs(ctx.history, "calc")
    assert [r["tests_failed"] for r in runs] == [0, 0, 1]
    assert [r["tests_quarantined"] for r in runs] == [1, 0, 0]
    rows, digests = load_test_history(ctx.history, "calc")
    assert len(rows) == 6 and all(d["calc.py"] for d in digests.values())
    # The checkout used is the per-commit work tree, untouched by the runs.
    assert not (ctx.git.worktree_path("calc", commit) / ".coverage").exists()
