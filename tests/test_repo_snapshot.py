"""repo_snapshot materialized with an ephemeral instance, on a real repository."""

import json
from pathlib import Path

import dagster as dg
import pytest

from assets import repo_snapshot
from prodsprint_dagster.constants import TAG_COMMIT
from prodsprint_dagster.registry import add_repo
from prodsprint_dagster.store import HistoryStore


@pytest.fixture
def registered(project, make_repo):
    repo = make_repo("shop", commits=2)
    add_repo(project, "shop", str(repo.path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["shop"])
    return repo, instance


def materialize(instance, resources, tags=None, raise_on_error=True):
    return dg.materialize(
        [repo_snapshot], instance=instance, resources=resources(), partition_key="shop",
        tags=tags or {}, raise_on_error=raise_on_error,
    )  # fmt: skip


def test_snapshot_of_the_requested_commit(project, resources, registered):
    repo, instance = registered
    older = repo.head()
    repo.commit("README.md", "# shop\n", "Add readme")

    result = materialize(instance, resources, {TAG_COMMIT: older})
    assert result.success
    mat = result.asset_materializations_for_node("repo_snapshot")[0]
    assert mat.metadata["commit"].value == older
    assert mat.metadata["files"].value == 1
    assert mat.metadata["subject"].value == "commit 1"
    assert mat.tags["dagster/data_version"] == older

    value = result.output_for_node("repo_snapshot")
    assert value["sha"] == older
    assert (Path(value["worktree"]) / "app.py").read_text() == "print(1)\n"
    assert not (Path(value["worktree"]) / "README.md").exists()

    artifact = project.parent / "home" / "artifacts" / "shop" / older / "snapshot.json"
    assert json.loads(artifact.read_text())["sha"] == older
    rows = HistoryStore(project.parent / "home" / "history.duckdb").query_audit(repo="shop")
    assert [(r["action"], r["commit_sha"], r["run_id"]) for r in rows] == [
        ("repo.snapshot", older, result.run_id)
    ]


def test_snapshot_defaults_to_the_branch_head(project, resources, registered):
    repo, instance = registered
    head = repo.commit("README.md", "# shop\n", "Add readme")
    result = materialize(instance, resources)
    mat = result.asset_materializations_for_node("repo_snapshot")[0]
    assert mat.metadata["commit"].value == head
    assert mat.metadata["files"].value == 2


def test_an_unknown_commit_fails_with_its_id(project, resources, registered):
    _, instance = registered
    result = materialize(instance, resources, {TAG_COMMIT: "f" * 40}, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("repo_snapshot")
    assert f"unknown commit {'f' * 40}" in failure.error.cause.message


def test_credentials_in_the_url_never_reach_metadata(project, resources, make_repo):
    repo = make_repo("secret")
    add_repo(project, "shop", f"file://{repo.path}")
    # Rewrite with credentials the way a user might paste them (https with a token).
    text = project.read_text().replace(f"file://{repo.path}", "https://bot:tok3n@127.0.0.1:1/x.git")
    project.write_text(text)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repos", ["shop"])
    result = materialize(instance, resources, raise_on_error=False)
    assert not result.success
    for event in result.all_events:
        assert "tok3n" not in json.dumps(
            event.to_dict() if hasattr(event, "to_dict") else str(event), default=str
        )
