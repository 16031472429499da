"""Artifact store: a local directory by default, S3 (through dagster-aws) when configured."""

from pathlib import Path
from typing import Literal

import dagster as dg
from dagster_aws.s3 import S3Resource

from prodsprint_dagster.store import ArtifactIO, LocalArtifactStore, S3ArtifactStore


class ArtifactStoreResource(dg.ConfigurableResource):
    kind: Literal["local", "s3"] = "local"
    path: str = ""
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None

    def io(self) -> ArtifactIO:
        if self.kind == "s3":
            client = S3Resource(
                endpoint_url=self.endpoint_url, region_name=self.region
            ).get_client()
            return ArtifactIO(S3ArtifactStore(client, self.bucket or "", self.prefix))
        return ArtifactIO(LocalArtifactStore(Path(self.path)))
