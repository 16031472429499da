"""Release jobs: each run performs exactly one transition of a release, visible in the UI.

`start_release_job` creates the release of an approved commit; `apply_job`,
`deploy_staging_job`, `canary_step_job`, `bluegreen_switch_job` (a blue/green release's switch
to 100 % with post-promotion analysis and switch-back), `promote_job` and `rollback_job` each
move it one step (release_sensor launches them; `promote_job` is also how a person passes a manual
gate). None runs in the `history_db` pool: a canary step soaks for minutes, and the release
store's writes are short and retried on lock conflicts.
"""

import dagster as dg

from prodsprint_dagster.constants import TAG_RELEASE, TAG_REPO
from resources import StagesResource

RELEASE_ACTIONS = (
    "apply", "deploy_staging", "canary_step", "bluegreen_switch", "promote", "rollback"
)  # fmt: skip


class StartReleaseConfig(dg.Config):
    repo: str
    commit: str | None = None  # default: the repository's latest snapshot
    actor: str = "dagster"


class ReleaseActionConfig(dg.Config):
    repo: str
    release_id: str
    actor: str = "release_sensor"
    reason: str | None = None  # for rollback_job


@dg.op(tags={"prodsprint/stage": "release"})
def start_release_op(
    context: dg.OpExecutionContext, config: StartReleaseConfig, stages: StagesResource
) -> dg.Output[dict]:
    from prodsprint_dagster.stages.release import start_release

    ctx = stages.context(config.repo, run_id=context.run.run_id)
    release = start_release(ctx, actor=config.actor, commit=config.commit)
    return dg.Output(
        {"release_id": release.id, "state": release.state, "commit": release.commit_sha},
        metadata={
            "release_id": dg.MetadataValue.text(release.id),
            "commit": dg.MetadataValue.text(release.commit_sha),
            "rollout": dg.MetadataValue.text(
                " → ".join(f"{s['weight']}%" for s in release.rollout["steps"])
            ),
        },
    )


@dg.job(tags={"prodsprint/stage": "release"})
def start_release_job():
    start_release_op()


def _action_job(action: str) -> dg.JobDefinition:
    @dg.op(name=f"{action}_op", tags={"prodsprint/stage": "release"})
    def action_op(
        context: dg.OpExecutionContext, config: ReleaseActionConfig, stages: StagesResource
    ) -> dg.Output[dict]:
        from prodsprint_dagster.stages.release import run_release_action

        ctx = stages.context(config.repo, run_id=context.run.run_id)
        result = run_release_action(ctx, config.release_id, action, actor=config.actor,
                                    reason=config.reason)  # fmt: skip
        metadata = {
            "release_id": dg.MetadataValue.text(config.release_id),
            "outcome": dg.MetadataValue.text(str(result.get("outcome"))),
            "reason": dg.MetadataValue.text(str(result.get("reason") or "-")),
        }
        if result.get("rollback_seconds") is not None:
            metadata["rollback_seconds"] = dg.MetadataValue.float(result["rollback_seconds"])
        if result.get("verdict"):
            metadata["verdict"] = dg.MetadataValue.json(result["verdict"])
        return dg.Output(result, metadata=metadata)

    @dg.job(name=f"{action}_job", tags={"prodsprint/stage": "release"},
            description=f"One release transition: {action.replace('_', ' ')}.")  # fmt: skip
    def action_job():
        action_op()

    return action_job


(apply_job, deploy_staging_job, canary_step_job, bluegreen_switch_job, promote_job,
 rollback_job) = (_action_job(a) for a in RELEASE_ACTIONS)  # fmt: skip
RELEASE_JOBS = [apply_job, deploy_staging_job, canary_step_job, bluegreen_switch_job,
                promote_job, rollback_job]  # fmt: skip


def release_run_config(repo: str, release_id: str, action: str, reason: str | None = None):
    return {"ops": {f"{action}_op": {"config": {"repo": repo, "release_id": release_id,
                                                "reason": reason}}}}  # fmt: skip


def release_tags(repo: str, release_id: str) -> dict[str, str]:
    return {TAG_REPO: repo, TAG_RELEASE: release_id}
