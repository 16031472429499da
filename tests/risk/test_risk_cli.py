"""`prodsprint history|incidents|risk ...` through click, with --json and exit codes."""

import json

import pytest
from click.testing import CliRunner

import prodsprint_dagster.cli.risk  # noqa: F401  (registers the commands)
from prodsprint_dagster.cli import main
from prodsprint_dagster.config import load_config
from prodsprint_dagster.git import GitClient
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.risk.synthetic import generate_history
from prodsprint_dagster.snapshot import take_snapshot
from prodsprint_dagster.store import HistoryStore
from tests.risk.gitbuild import DAY, T0, Builder, lines
from tests.risk.synthetic import as_public_csv, kamei_table


def run(*args: str, code: int = 0) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def _repo(path):
    b = Builder(path)
    b.commit({"app/main.py": lines(30)}, "start", "alice", T0)
    b.commit({"app/main.py": lines(30).replace("line 5\n", "line five\n")}, "tweak", "bob",
             T0 + DAY)  # fmt: skip
    b.commit({"app/main.py": lines(30)}, "Fix the tweak", "alice", T0 + 2 * DAY)
    b.commit({"app/new.py": lines(120)}, "feature", "bob", T0 + 3 * DAY)
    return b


def test_history_mine_is_incremental(project, tmp_path):
    b = _repo(tmp_path / "svc")
    first = run("history", "mine", str(b.path), "--repo", "svc")
    assert first["new_commits"] == 4 and first["szz"]["links"] == 1
    again = run("history", "mine", str(b.path), "--repo", "svc")
    assert again["new_commits"] == 0 and again["commits"] == 4
    empty = tmp_path / "empty"
    Builder(empty)
    assert run("history", "mine", str(empty))["empty"] is True


def test_incidents_import_reports_bad_lines_and_exits_1(project, tmp_path):
    path = tmp_path / "inc.csv"
    path.write_text(
        "id,repo,opened_at,severity,caused_by\n"
        "I-1,svc,2026-01-01T00:00:00Z,high,abcdef1\n"
        "I-2,svc,not-a-date,high,\n"
    )
    result = run("incidents", "import", str(path), code=1)
    assert result["ok"] is False and result["imported"] == 1
    assert result["errors"] == [{"line": 3, "error": "opened_at 'not-a-date' is not an ISO 8601 "
                                                     "date-time"}]  # fmt: skip
    path.write_text("id,repo,opened_at,severity\nI-3,svc,2026-01-02,low\n")
    assert run("incidents", "import", str(path))["imported"] == 1


def test_train_without_history_keeps_the_prior(project):
    result = run("risk", "train")
    assert result["model"]["method"] == "prior" and result["model"]["stored"] is False


def test_score_and_explain_a_registered_repository(project, tmp_path):
    b = _repo(tmp_path / "remotes" / "svc")
    add_repo(project, "svc", str(b.path))
    cfg = load_config(project)
    take_snapshot(GitClient(cfg.git_path), cfg.repo("svc"))
    scored = run("risk", "score", "svc", "--commit", b.head())
    assert scored["commit"] == b.head() and scored["method"] == "prior"
    assert scored["band"] in ("low", "medium", "high")
    assert len(scored["top_features"]) == 5
    assert scored["rollout"]["band"] == scored["band"]
    explained = run("risk", "explain", "svc", "--commit", b.head())
    assert explained["score"] == scored["score"]
    assert len(explained["top_features"]) == 11  # every feature of the prior
    with HistoryStore(cfg.history_path).connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM risk_scores").fetchone()[0] == 1
    # A merge is scored as the riskiest commit it brings in.
    b.branch("topic", "HEAD")
    topic = b.commit({"app/topic.py": lines(400)}, "big topic", "carol", T0 + 4 * DAY)
    b.checkout("main")
    b.commit({"README.md": "x\n"}, "docs", "alice", T0 + 5 * DAY)
    merge = b.merge("topic", "alice", T0 + 6 * DAY)
    take_snapshot(GitClient(cfg.git_path), cfg.repo("svc"))
    merged = run("risk", "score", "svc", "--commit", merge)
    assert merged["is_merge"] and merged["scored_commit"] == topic
    unknown = run("risk", "score", "nope", code=1)
    assert "nope" in unknown["error"]


def test_evaluate_errors(project, tmp_path):
    assert "exactly one" in run("risk", "evaluate", code=1)["error"]
    table = as_public_csv(kamei_table(40)).drop(columns=["lt"])
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    assert "missing column(s) lt" in run("risk", "evaluate", "--features", str(path),
                                         code=1)["error"]  # fmt: skip


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "repo"
    generate_history(path, 800, seed=5, spacing_seconds=DAY)
    return path


def test_evaluate_a_repository_with_a_label_gap(project, tmp_path, long_history):
    out = tmp_path / "preds.csv"
    result = run("risk", "evaluate", "--repo", str(long_history), "--predictions-out", str(out))
    assert result["split"]["gap_days"] == 90
    assert 150 <= result["n_test"] <= 160 and 0 < result["n_train"] < 640  # merges excluded
    assert result["roc_auc"] is not None and "lapredict" in result
    assert result["source"]["szz"]["links"] > 20
    rows = out.read_text().splitlines()
    assert rows[0] == "commit,date,label,score" and len(rows) == result["n_test"] + 1
    # The scratch store of the evaluation never touches the configured one.
    assert not load_config(project).history_path.exists()
