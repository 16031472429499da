"""`repo_snapshot`: the commit a readiness chain run is about, checked out and described.

The commit comes from the run tag `prodsprint/commit` (set by the new-commit sensor), else the
branch head at run time. Its sha is the data version, so downstream assets know exactly which
commit they describe.
"""

import dagster as dg

from assets.metadata import artifact_link
from prodsprint_dagster.constants import GROUP_READINESS_CHAIN, POOL_HISTORY_DB, TAG_COMMIT
from prodsprint_dagster.names import redact_url
from prodsprint_dagster.partitions import repos_partitions
from prodsprint_dagster.snapshot import take_snapshot
from prodsprint_dagster.store import AuditEntry
from resources import ArtifactStoreResource, GitResource, HistoryStoreResource, RegistryResource


@dg.asset(
    partitions_def=repos_partitions,
    group_name=GROUP_READINESS_CHAIN,
    pool=POOL_HISTORY_DB,
    kinds={"git"},
    description="The repository checked out at the commit being released, with its git facts.",
)
def repo_snapshot(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    git: GitResource,
    history: HistoryStoreResource,
    artifacts: ArtifactStoreResource,
) -> dg.Output[dict]:
    repo = registry.repo(context.partition_key)
    requested = context.run.tags.get(TAG_COMMIT)
    snap = take_snapshot(git.client(), repo, requested)
    record = {**snap.to_dict(), "url": redact_url(snap.url)}
    uri = artifacts.io().put_json(repo.name, snap.sha, "snapshot.json", record)
    history.store().append_audit(
        AuditEntry(
            action="repo.snapshot",
            actor=context.run.tags.get("dagster/sensor_name") or "dagster",
            repo=repo.name,
            commit=snap.sha,
            reason="requested commit" if requested else f"head of {repo.branch}",
            refs={"artifact": uri},
            run_id=context.run.run_id,
        )
    )
    context.log.info(f"{repo.name}: {snap.sha[:12]} {snap.subject!r} ({snap.files} files)")
    return dg.Output(
        record,
        data_version=dg.DataVersion(snap.sha),
        metadata={
            "commit": dg.MetadataValue.text(snap.sha),
            "parents": dg.MetadataValue.text(" ".join(snap.parents) or "(root commit)"),
            "author": dg.MetadataValue.text(snap.author),
            "committed_at": dg.MetadataValue.text(snap.committed_at),
            "subject": dg.MetadataValue.text(snap.subject),
            "branch": dg.MetadataValue.text(repo.branch),
            "url": dg.MetadataValue.text(record["url"]),
            "files": dg.MetadataValue.int(snap.files),
            "bytes": dg.MetadataValue.int(snap.bytes),
            "snapshot": artifact_link(uri),
        },
    )
