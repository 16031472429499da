"""The asset chain repo_snapshot -> commit_history -> risk_score (+ risk_model), materialized."""

import json

import dagster as dg

from assets import repo_snapshot
from assets.risk import commit_history, risk_model, risk_score
from jobs.risk import risk_model_job, risk_model_schedule
from prodsprint_dagster.registry import add_repo
from tests.risk.gitbuild import DAY, T0, Builder, lines


def _repo(path):
    b = Builder(path)
    b.commit({"svc/app.py": lines(40), "README.md": "svc\n"}, "start", "alice", T0)
    b.commit({"svc/app.py": lines(40).replace("line 3\n", "line three\n")}, "tweak", "bob",
             T0 + DAY)  # fmt: skip
    b.commit({"svc/app.py": lines(40)}, "Fix line three regression", "alice", T0 + 2 * DAY)
    b.commit({"svc/api.py": lines(300, "api"), "svc/app.py": lines(45)}, "new api", "carol",
             T0 + 3 * DAY)  # fmt: skip
    return b


def test_commit_history_risk_model_and_risk_score(project, resources, tmp_path):
    b = _repo(tmp_path / "remotes" / "svc")
    add_repo(project, "svc", str(b.path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["svc"])

    model = dg.materialize([risk_model], instance=instance, resources=resources())
    assert model.success
    mat = model.asset_materializations_for_node("risk_model")[0]
    assert mat.metadata["method"].value == "prior"  # four commits: far too few to train
    assert "ZZR0/ISSTA21-JIT-DP" in mat.metadata["provenance"].value

    chain = dg.materialize(
        [repo_snapshot, commit_history, risk_score], instance=instance, resources=resources(),
        partition_key="svc",
    )  # fmt: skip
    assert chain.success
    history = chain.output_for_node("commit_history")
    assert history["commits"] == 4 and history["szz"]["links"] == 1
    doc = chain.output_for_node("risk_score")
    assert doc["commit"] == b.head() and doc["method"] == "prior"
    assert doc["band"] in ("low", "medium", "high") and 0 < doc["score"] < 1
    assert doc["rollout"]["band"] == doc["band"] and doc["rollout"]["steps"][-1]["weight"] == 100
    assert doc["top_features"][0]["feature"] == "la"  # 305 lines added: the largest push

    mat = chain.asset_materializations_for_node("risk_score")[0]
    assert mat.metadata["risk"].value == doc["score"]
    assert mat.metadata["band"].value == doc["band"]
    assert "median substitution" in mat.metadata["explanation_method"].value
    assert "| step | weight |" in mat.metadata["rollout"].value
    stored = project.parent / "home" / "artifacts" / "svc" / b.head() / "risk.json"
    assert json.loads(stored.read_text())["score"] == doc["score"]

    # A second run scores again without re-mining (incremental) and shows the trend.
    again = dg.materialize([repo_snapshot, commit_history, risk_score], instance=instance,
                           resources=resources(), partition_key="svc")  # fmt: skip
    assert again.success
    assert again.output_for_node("commit_history")["new_commits"] == 0
    trend = again.asset_materializations_for_node("risk_score")[0].metadata["recent_scores"]
    assert len(trend.value.records) == 2


def test_job_and_schedule_select_the_model(resources):
    defs = dg.Definitions(assets=[risk_model], jobs=[risk_model_job],
                          schedules=[risk_model_schedule], resources=resources())  # fmt: skip
    job = defs.resolve_job_def("risk_model_job")
    assert [k.to_user_string() for k in job.asset_layer.executable_asset_keys] == ["risk_model"]
    assert risk_model_schedule.cron_schedule == "0 4 * * 1"
