"""Artifact stores: the local directory and S3 against a real S3-compatible server (moto)."""

import boto3
import pytest
from moto.server import ThreadedMotoServer

from prodsprint_dagster.errors import InvalidNameError, StoreError
from prodsprint_dagster.store import ArtifactIO, LocalArtifactStore, S3ArtifactStore
from resources import ArtifactStoreResource
from tests.conftest import free_port

SHA = "b" * 40


def exercise(io: ArtifactIO) -> None:
    """The behaviour both implementations must share."""
    uri = io.put_json("shop", SHA, "snapshot.json", {"sha": SHA, "files": 3})
    assert io.get_json("shop", SHA, "snapshot.json") == {"files": 3, "sha": SHA}
    io.put_text("shop", SHA, "plan/main.tf", 'resource "terraform_data" "x" {}\n')
    assert io.get_text("shop", SHA, "plan/main.tf").startswith("resource")
    assert io.store.exists("shop", SHA, "plan/main.tf")
    assert not io.store.exists("shop", SHA, "nope.json")
    assert io.store.list("shop", SHA) == [f"shop/{SHA}/plan/main.tf", f"shop/{SHA}/snapshot.json"]
    assert io.store.list("billing") == []
    assert SHA in uri
    with pytest.raises(StoreError, match="does not exist"):
        io.get_text("shop", SHA, "missing.txt")
    for bad in ["../../etc/passwd", "/abs", "a/../../b"]:
        with pytest.raises(InvalidNameError):
            io.put_text("shop", SHA, bad, "x")
    with pytest.raises(InvalidNameError):
        io.put_text("../shop", SHA, "x", "x")


def test_local_store(tmp_path):
    exercise(ArtifactIO(LocalArtifactStore(tmp_path / "artifacts")))
    assert not list((tmp_path / "artifacts").rglob(".*"))  # no temp files left behind


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_s3_store_against_a_real_server(s3_endpoint, s3_env):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="artifacts-a")
    exercise(ArtifactIO(S3ArtifactStore(client, "artifacts-a", prefix="prodsprint/")))
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="artifacts-a")["Contents"]]
    assert all(k.startswith("prodsprint/shop/") for k in keys)


def test_s3_through_the_dagster_resource(s3_endpoint, s3_env):
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="artifacts-b")
    resource = ArtifactStoreResource(kind="s3", bucket="artifacts-b", endpoint_url=s3_endpoint,
                                     region="us-east-1")  # fmt: skip
    exercise(resource.io())


def test_s3_missing_bucket_is_a_clear_error(s3_endpoint, s3_env):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    store = ArtifactIO(S3ArtifactStore(client, "no-such-bucket"))
    with pytest.raises(StoreError, match="cannot write s3://no-such-bucket/shop/"):
        store.put_text("shop", SHA, "x.txt", "x")
