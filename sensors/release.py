"""Sensors that drive releases: advance them step by step, roll back failed ones.

`release_sensor` asks the release engine what each active release needs next
(next_action: honours pauses, manual gates, deadlines) and launches that one job; it
never starts a second run while one is in flight for the release. A step run that failed
or vanished counts as a failed step, so the release is rolled back.
`release_failure_sensor` reacts to a failed release job at once, without waiting for
the next tick.
"""

from datetime import UTC, datetime

import dagster as dg

from jobs.release import RELEASE_JOBS, release_run_config, release_tags, rollback_job
from prodsprint_dagster.constants import TAG_RELEASE
from resources import StagesResource

_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_JOB_FOR = {
    "apply": "apply_job",
    "deploy_staging": "deploy_staging_job",
    "canary_step": "canary_step_job",
    "bluegreen_switch": "bluegreen_switch_job",
    "promote": "promote_job",
    "rollback": "rollback_job",
}


def _latest_run(instance: dg.DagsterInstance, release_id: str, statuses=None):
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={TAG_RELEASE: release_id}, statuses=statuses), limit=1
    )
    return runs[0] if runs else None


@dg.sensor(
    jobs=RELEASE_JOBS,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Advances approved releases one transition at a time; rolls back failures.",
)
def release_sensor(context: dg.SensorEvaluationContext, stages: StagesResource):
    from prodsprint_dagster.release import ReleaseStore, next_action

    store = ReleaseStore(stages.history.store())
    now = datetime.now(UTC)
    requests, waiting = [], []
    for release in store.active():
        if _latest_run(context.instance, release.id, statuses=_IN_FLIGHT):
            waiting.append(f"{release.id}: a run is in flight")
            continue
        last = _latest_run(context.instance, release.id)
        # A failure matters only if it is newer than the release's last transition.
        last_failed = bool(
            last
            and last.status in _FAILED
            and _finished_after(context.instance, last.run_id, release.updated_at)
        )
        action = next_action(release, now, last_run_failed=last_failed)
        job = _JOB_FOR.get(action.kind)
        if job is None:
            waiting.append(f"{release.id}: {action.kind} ({action.reason})")
            continue
        reason = action.reason if action.kind == "rollback" else None
        requests.append(
            dg.RunRequest(
                run_key=f"{release.id}:{action.kind}:{action.step}:{release.updated_at.isoformat()}",
                job_name=job,
                run_config=release_run_config(release.repo, release.id, action.kind, reason),
                tags=release_tags(release.repo, release.id),
            )
        )
    if not requests:
        return dg.SkipReason("; ".join(waiting) or "no active releases")
    return requests


def _finished_after(instance: dg.DagsterInstance, run_id: str, when: datetime) -> bool:
    record = instance.get_run_record_by_id(run_id)
    end = record.end_time if record else None
    return end is None or datetime.fromtimestamp(end, UTC) >= when


@dg.run_failure_sensor(
    monitored_jobs=RELEASE_JOBS,
    request_job=rollback_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rolls a release back as soon as one of its step runs fails.",
)
def release_failure_sensor(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    release_id = run.tags.get(TAG_RELEASE)
    if not release_id or run.job_name == "rollback_job":
        return dg.SkipReason("not a release step, or a failed rollback (needs a person)")
    repo = run.tags["prodsprint/repo"]
    reason = f"{run.job_name} run {run.run_id} failed"
    return dg.RunRequest(
        run_key=f"{release_id}:rollback-after:{run.run_id}",
        run_config=release_run_config(repo, release_id, "rollback", reason),
        tags=release_tags(repo, release_id),
    )
