"""`new_commit_sensor`: one readiness-chain run per new branch head of a registered repository.

It asks for the head only, not for every commit pushed since the last tick: a release is
about the newest state of the branch, and commit history is mined separately.
"""

import dagster as dg

from prodsprint_dagster.constants import PARTITIONS_NAME, READINESS_CHAIN_JOB, TAG_COMMIT, TAG_REPO
from prodsprint_dagster.heads import dump_cursor, find_new_heads, parse_cursor
from resources import GitResource, RegistryResource


@dg.sensor(
    job_name=READINESS_CHAIN_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Looks up every registered repository's branch head and builds new commits.",
)
def new_commit_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource, git: GitResource
) -> dg.SensorResult:
    repos = registry.repos()
    scan = find_new_heads(
        repos, parse_cursor(context.cursor), git.client(), workers=git.head_lookup_workers
    )
    for name, reason in scan.skipped:
        context.log.warning(f"skipped {name}: {reason}")

    known = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    missing = sorted({r.name for r in repos} - known)
    partition_requests = (
        [dg.AddDynamicPartitionsRequest(PARTITIONS_NAME, missing)] if missing else []
    )
    run_requests = [
        dg.RunRequest(
            run_key=f"{repo.name}@{sha}",
            partition_key=repo.name,
            tags={TAG_REPO: repo.name, TAG_COMMIT: sha},
        )
        for repo, sha in scan.new
    ]
    skip = None
    if not run_requests:
        skipped = "; ".join(f"{name}: {reason}" for name, reason in scan.skipped)
        skip = f"no new commits in {len(repos)} repositories" + (
            f" (skipped {skipped})" if skipped else ""
        )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        cursor=dump_cursor(scan.cursor),
        skip_reason=skip,
    )
