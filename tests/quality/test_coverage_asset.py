"""coverage_report and its blocking check coverage_meets_policy, materialized with Dagster."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets import audit_report, repo_snapshot
from assets.coverage import coverage_report
from prodsprint_dagster.config import load_config
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.quality.coverage import coverage_runs
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.store import HistoryStore
from tests.conftest import run_git
from tests.quality.test_coverage_support import share_runtimes, write_tree

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop-api"


@dg.asset(partitions_def=repos_partitions, deps=[coverage_report])
def released_after_coverage() -> None:
    """Stands for what the blocking check holds back (the rest of the release chain)."""


def materialize(project, resources, name, commit=None):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", [name])
    return dg.materialize(
        [repo_snapshot, audit_report, coverage_report, released_after_coverage],
        instance=instance, resources=resources(), partition_key=name, raise_on_error=False,
        tags={"prodsprint/commit": commit} if commit else None,
    )  # fmt: skip


def check_of(result):
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.check_name == "coverage_meets_policy"]  # fmt: skip
    return check


def test_the_example_service_is_measured_and_passes(project, resources, make_repo):
    repo = make_repo("shop", commits=0)
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "import shop-api")
    add_repo(project, "shop", str(repo.path))
    share_runtimes(load_config(project).home_path)

    result = materialize(project, resources, "shop")
    assert result.success
    out = result.output_for_node("coverage_report")
    assert out["tests"]["passed"] == 5 and out["coverage"]["percent"] >= 80
    meta = result.asset_materializations_for_node("coverage_report")[0].metadata
    assert meta["coverage_percent"].value == pytest.approx(out["coverage"]["percent"])
    assert meta["tests_passed"].value == 5 and meta["tests_failed"].value == 0
    assert meta["branch_coverage_percent"].value > 0
    # The first commit has no parent: the patch is the whole tree, covered like the total.
    assert meta["patch_coverage_percent"].value == pytest.approx(out["coverage"]["percent"])
    rows = {r.data["path"]: r.data for r in meta["files"].value.records}
    assert rows["shop/app.py"]["lines"] > 0 and isinstance(rows["shop/app.py"]["percent"], float)
    check = check_of(result)
    assert check.passed and check.blocking
    assert result.asset_materializations_for_node("released_after_coverage")

    cfg = load_config(project)
    stored = cfg.artifacts_path / "shop" / repo.head()
    assert json.loads((stored / "tests.json").read_text())["total"] == 5
    assert json.loads((stored / "coverage.json").read_text())["source"].startswith("ran:pytest")
    [run] = coverage_runs(HistoryStore(cfg.history_path), "shop")
    assert (run["commit_sha"], run["tests_total"]) == (repo.head(), 5)


CART_V1 = "function add(a, b) {\n  return a + b;\n}\nmodule.exports = { add };\n"
CART_V3 = CART_V1.replace(
    "module.exports = { add };",
    "function refund(x) {\n  if (x > 0) {\n"
    "    return -x;\n  }\n  return 0;\n}\nmodule.exports = { add, refund };",
)
UTIL = "".join(f"exports.f{i} = () => {i};\n" for i in range(20))
V1_HITS = {1: 1, 2: 1, 4: 1}
V3_HITS = {1: 1, 2: 1, 4: 1, 5: 0, 6: 0, 8: 0, 10: 1}  # refund() is never called


def cobertura(cart_hits: dict[int, int]) -> str:
    """A report of src/cart.js (as given) and src/util.js (20 covered lines)."""
    classes = ""
    for path, hits in (("src/cart.js", cart_hits), ("src/util.js", dict.fromkeys(range(1, 21), 3))):
        lines = "".join(f'<line number="{n}" hits="{h}"/>' for n, h in hits.items())
        classes += f'<class name="{path}" filename="{path}"><lines>{lines}</lines></class>'
    return (f'<?xml version="1.0" ?><coverage version="7.5.4"><sources><source>/ci/web</source>'
            f'</sources><packages><package name="src"><classes>{classes}</classes></package>'
            f"</packages></coverage>")  # fmt: skip


JUNIT = '<testsuite name="cart"><testcase classname="cart" name="adds" time="0.01"/></testsuite>'


def promote(project, repo_name, commit):
    """A release of ``commit`` that reached promoted, as the release stage leaves it."""
    history = HistoryStore(load_config(project).history_path)
    now = datetime.now(UTC)
    with history.connect() as con:
        con.execute(
            "INSERT INTO releases (id, repo, commit_sha, strategy, rollout, state, target,"
            " environment, created_at, updated_at) VALUES (?, ?, ?, 'canary', '{}', 'promoted',"
            " 'local', 'prod', ?, ?)",
            ["rel-1", repo_name, commit, now, now],
        )


def test_patch_against_the_promoted_release_and_the_check_blocks(project, resources, make_repo):
    repo = make_repo("web", commits=0)
    write_tree(repo.path, {"src/cart.js": CART_V1, "src/util.js": UTIL,
                           "coverage.xml": cobertura(V1_HITS), "junit.xml": JUNIT})  # fmt: skip
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "v1")
    released = repo.head()
    add_repo(project, "web", str(repo.path))
    assert materialize(project, resources, "web").success
    promote(project, "web", released)

    # Docs only since the release: no coverable line changed, so the patch passes as None.
    repo.commit("README.md", "# web\n", "docs")
    result = materialize(project, resources, "web")
    assert result.success and check_of(result).passed
    coverage = result.output_for_node("coverage_report")["coverage"]
    assert coverage["patch"]["base"] == released and coverage["patch_percent"] is None
    meta = result.asset_materializations_for_node("coverage_report")[0].metadata
    assert "patch_coverage_percent" not in meta  # absent, never plotted as 0 %
    assert check_of(result).metadata["patch_without_coverable_lines"].value is True

    # New code without tests: the total still passes (88.9 %) but the patch is 40 % -> the
    # blocking check fails and the chain below coverage_report does not run.
    write_tree(repo.path, {"src/cart.js": CART_V3, "coverage.xml": cobertura(V3_HITS)})
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "refunds")
    result = materialize(project, resources, "web")
    coverage = result.output_for_node("coverage_report")["coverage"]
    assert coverage["patch"]["base"] == released and coverage["percent"] == 88.89
    assert (coverage["patch"]["coverable"], coverage["patch"]["covered"]) == (5, 2)
    check = check_of(result)
    assert not check.passed
    assert check.metadata["reasons"].value == "patch coverage 40.0% is below the 80% minimum"
    assert not result.asset_materializations_for_node("released_after_coverage")
