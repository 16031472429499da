"""`prodsprint coverage PATH` and `prodsprint flaky REPO`."""

import json

from click.testing import CliRunner

import prodsprint_dagster.cli.quality  # noqa: F401  (registers coverage and flaky)
from prodsprint_dagster.cli import main
from prodsprint_dagster.config import load_config
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.store import HistoryStore
from tests.conftest import run_git
from tests.quality.test_coverage_asset import (
    CART_V1,
    CART_V3,
    JUNIT,
    UTIL,
    V1_HITS,
    V3_HITS,
    cobertura,
)
from tests.quality.test_coverage_formats import COBERTURA_COVERAGEPY
from tests.quality.test_coverage_run import python_repo
from tests.quality.test_coverage_support import share_runtimes, write_tree
from tests.quality.test_flaky import seed


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def web_repo(make_repo):
    repo = make_repo("web", commits=0)
    write_tree(repo.path, {"src/cart.js": CART_V1, "src/util.js": UTIL,
                           "coverage.xml": cobertura(V1_HITS), "junit.xml": JUNIT})  # fmt: skip
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "v1")
    base = repo.head()
    write_tree(repo.path, {"src/cart.js": CART_V3, "coverage.xml": cobertura(V3_HITS)})
    run_git(repo.path, "add", "--all")
    run_git(repo.path, "commit", "-q", "--no-gpg-sign", "-m", "refunds")
    return repo, base


def test_coverage_of_a_checkout_with_reports(project, make_repo):
    repo, base = web_repo(make_repo)
    result = invoke("coverage", str(repo.path), "--no-run", "--json")
    assert result.exit_code == 1  # the gate fails: exit 1, as `readiness` does with blockers
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["gate"]["passed"] is False
    cov = doc["coverage"]
    assert cov["source"] == "ingested:coverage.xml" and cov["percent"] == 88.89
    assert cov["patch"]["base"] == base and cov["patch_percent"] == 40.0
    assert doc["tests"]["total"] == 1
    assert doc["gate"]["reasons"] == ["patch coverage 40.0% is below the 80% minimum"]

    # Against HEAD itself (work tree clean) the patch is empty: it passes as None.
    result = invoke("coverage", str(repo.path), "--no-run", "--base", "HEAD", "--json")
    assert json.loads(result.stdout)["coverage"]["patch_percent"] is None

    human = invoke("coverage", str(repo.path), "--no-run")
    assert "line coverage 88.9% (24/27), branch -" in human.stdout
    assert f"patch coverage 40.0% (2/5 changed lines) since {base[:12]}" in human.stdout
    assert "src/cart.js" in human.stdout and "5-6,8" in human.stdout
    assert "gate fails" in human.stdout


def test_coverage_refuses_a_corrupt_report_and_a_bad_base(project, make_repo):
    repo, _ = web_repo(make_repo)
    (repo.path / "coverage.xml").write_text(COBERTURA_COVERAGEPY[:500])
    result = invoke("coverage", str(repo.path), "--no-run", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout.splitlines()[0])["error"]
    assert error.startswith("coverage.xml: not well-formed XML (corrupt or truncated)")
    (repo.path / "coverage.xml").write_text(cobertura(V3_HITS))
    result = invoke("coverage", str(repo.path), "--no-run", "--base", "--exec=true", "--json")
    assert result.exit_code == 1 and "is not a commit" in result.stdout


def test_coverage_runs_the_suite_of_a_checkout(project, tmp_path):
    share_runtimes(load_config(project).home_path)
    repo = python_repo(tmp_path / "calc")
    result = invoke("coverage", str(repo), "--run", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1  # test_sub fails
    assert doc["tests"]["failed"] == 1 and doc["tests"]["flaky"] == ["tests.test_calc::test_flaky"]
    assert doc["coverage"]["files"][0]["path"] == "calc.py"
    assert any(g["code"] == "no_patch" for g in doc["coverage"]["gaps"])  # not a git checkout
    assert "1 of 4 tests failed or errored" in doc["gate"]["reasons"]


def test_flaky_lists_flake_rates_and_quarantine_state(project, make_repo, tmp_path):
    pack = write_tree(tmp_path / "packs" / "strict", {"pack.yaml": (
        "name: strict\nversion: 1.0.0\ndescription: quarantines B\nextends: default\n"
        "settings:\n"
        "  tests_quarantine: ['*::B']\n")})  # fmt: skip
    add_repo(project, "shop", str(make_repo("shop").path), policy_pack=str(pack))
    seed(HistoryStore(load_config(project).history_path))

    result = invoke("flaky", "shop", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["runs"], doc["quarantine"]) == (4, ["*::B"])
    rows = {f["test"]: f for f in doc["flaky"]}
    assert set(rows) == {"tests.t::A", "tests.t::B", "tests.t::D"}
    assert (
        rows["tests.t::B"]["quarantine"] == "policy" and rows["tests.t::A"]["quarantine"] == "none"
    )
    assert rows["tests.t::D"]["flake_rate"] == 1.0

    human = invoke("flaky", "shop")
    assert "tests.t::D" in human.stdout and "100.0%" in human.stdout
    assert "unchanged_code" in human.stdout
