"""new_commit_sensor over real repositories, evaluated with build_sensor_context."""

import json

import dagster as dg

from prodsprint_dagster.constants import TAG_COMMIT, TAG_REPO
from prodsprint_dagster.registry import add_repo
from sensors import new_commit_sensor


def tick(instance, resources, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources()
    ) as context:
        result = new_commit_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_a_new_commit_gives_one_run_and_one_partition(project, resources, make_repo):
    repo = make_repo("shop", commits=3)
    add_repo(project, "team__shop", str(repo.path))
    instance = dg.DagsterInstance.ephemeral()

    first = tick(instance, resources)
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [["team__shop"]]
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.run_key == f"team__shop@{repo.head()}"
    assert request.partition_key == "team__shop"
    assert request.tags == {TAG_REPO: "team__shop", TAG_COMMIT: repo.head()}
    assert json.loads(first.cursor) == {"team__shop": repo.head()}

    second = tick(instance, resources, first.cursor)
    assert second.run_requests == [] and not second.dynamic_partitions_requests
    assert "no new commits" in second.skip_reason.skip_message

    new_sha = repo.commit("app.py", "print('v2')\n")
    third = tick(instance, resources, second.cursor)
    assert [r.run_key for r in third.run_requests] == [f"team__shop@{new_sha}"]
    assert not third.dynamic_partitions_requests  # the partition exists already


def test_an_unreachable_remote_is_skipped_and_the_others_go_on(project, resources, make_repo):
    good = make_repo("good")
    add_repo(project, "good", str(good.path))
    add_repo(project, "gone", "git://127.0.0.1:1/gone.git")
    add_repo(project, "moved", str(project.parent / "no-such-dir"))
    instance = dg.DagsterInstance.ephemeral()

    result = tick(instance, resources)
    assert [r.partition_key for r in result.run_requests] == ["good"]
    assert set(instance.get_dynamic_partitions("repos")) == {"good", "gone", "moved"}
    assert json.loads(result.cursor) == {"good": good.head()}

    # Nothing new for "good": the skip message names the unreachable repositories.
    again = tick(instance, resources, result.cursor)
    message = again.skip_reason.skip_message
    assert "gone:" in message and "127.0.0.1:1" in message
    assert "moved:" in message and "does not exist" in message


def test_a_repository_registered_later_is_picked_up_without_reload(project, resources, make_repo):
    instance = dg.DagsterInstance.ephemeral()
    assert tick(instance, resources).run_requests == []
    repo = make_repo("late")
    add_repo(project, "late", str(repo.path))
    assert [r.partition_key for r in tick(instance, resources).run_requests] == ["late"]


def test_a_garbled_cursor_starts_over(project, resources, make_repo):
    repo = make_repo("shop")
    add_repo(project, "shop", str(repo.path))
    result = tick(dg.DagsterInstance.ephemeral(), resources, cursor="{not json")
    assert len(result.run_requests) == 1
